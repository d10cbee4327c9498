/**
 * BTF → TypeScript (src/btf/ts-decl.ts) and the typed codec it describes (src/btf/value-codec.ts), on a
 * real clang object with every shape: the printed types; decode → encode → decode gives back the same
 * value and the same bytes; the runtime type of every decoded field is the one the printer names; wrong
 * values are refused with the member's name.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { TsDeclPrinter, UniqueNames } from "../../src/btf/ts-decl.ts";
import { typedCodecFor } from "../../src/btf/value-codec.ts";
import { shapeOf } from "../../src/btf/value-shape.ts";
import { parseObject } from "../../src/object/index.ts";
import { fixtureBytes } from "../helpers/index.ts";

const spec = parseObject(fixtureBytes("skel-shapes"), "skel-shapes.bpf.o");
const btf = spec.btf!;
const shapesId = btf.findByName("shapes", "STRUCT")!.id;

function sample(): Record<string, unknown> {
  return {
    u8: 250,
    s8: -7,
    u16: 65000,
    s16: -30000,
    u32: 4_000_000_000,
    s32: -2_000_000_000,
    u64: 0xfedc_ba98_7654_3210n,
    s64: -(2n ** 62n),
    u128: 2n ** 100n + 5n,
    flag: true,
    name: "héllo",
    raw: new Uint8Array([1, 2, 3, 4]),
    kind: 2,
    big: 1n,
    lo: 5,
    mid: 8000,
    neg: -9,
    wide: 2n ** 59n + 3n,
    f32: 1.5,
    f64: Math.PI,
    nested: { a: 513, b: -2 },
    anon_a: 11,
    anon_b: 12,
    u: { as_u32: 0x04030201, as_bytes: new Uint8Array([1, 2, 3, 4]) },
    vec: new Uint32Array([1, 2, 3, 0xffffffff]),
    svec: new BigInt64Array([-1n, 2n ** 40n]),
    pair: [
      { a: 1, b: 2 },
      { a: 3, b: -4 },
    ],
    grid: [new Uint16Array([1, 2, 3]), new Uint16Array([4, 5, 6])],
    pt: { x: 10, y: 20 },
    ptr: 0xffff_8880_0000_1000n,
    many: Array.from({ length: 40 }, (_, i) => ({ a: i, b: i % 5 })),
  };
}

test("the printed interface of struct shapes: 64-bit and pointers bigint, typed arrays, tuples, strings, enums by name", () => {
  const p = new TsDeclPrinter(btf);
  assert.equal(p.typeOf(shapesId), "shapes");
  const d = p.declarations();
  for (const line of [
    "export interface shapes {",
    "  u8: number;",
    "  u64: bigint;",
    "  s64: bigint;",
    "  u128: bigint;",
    "  flag: boolean;",
    "  name: string;",
    "  raw: Uint8Array;",
    "  kind: event_kind;",
    "  big: big_kind;",
    "  mid: number;",
    "  wide: bigint;",
    "  f64: number;",
    "  nested: inner;",
    "  anon_a: number;",
    "  vec: Uint32Array;",
    "  svec: BigInt64Array;",
    "  pair: [inner, inner];",
    "  grid: [Uint16Array, Uint16Array];",
    "  pt: point_t;",
    "  ptr: bigint;",
    "  many: inner[];",
    "export interface inner {",
    "export interface point_t {",
    "export type event_kind = 1 | 2 | 4294967293 | (number & {});",
  ])
    assert.ok(d.includes(line), `missing ${JSON.stringify(line)} in\n${d}`);
  // the anonymous union member is inline, the anonymous struct member flattened
  assert.match(d, / {2}u: \{\n {4}\/\*\* `__u32 as_u32` \*\/\n {4}as_u32: number;/);
  assert.match(d, /\/\*\* `char name\[12\]` \*\//);
  assert.deepEqual(
    p.enumConsts().map((e) => [e.name, e.values]),
    [
      [
        "event_kind",
        [
          ["EV_UNLINK", "1"],
          ["EV_OTHER", "2"],
          ["EV_NEG", "4294967293"],
        ],
      ],
      [
        "big_kind",
        [
          ["BIG_ONE", "1n"],
          ["BIG_HIGH", btf.findByName("big_kind", "ENUM64") ? "4294967296n" : "0n"],
        ],
      ],
    ],
  );
});

test("every shape round-trips through encode/decode, bytes and values, and decodes to the printed TS types", () => {
  const c = typedCodecFor<Record<string, unknown>>(btf, shapesId, "shapes");
  assert.equal(c.size, btf.sizeof(shapesId));
  const buf = new Uint8Array(c.size);
  const v = sample();
  c.encode(v, buf);
  const back = c.decode(buf);
  assert.deepEqual(back, v);
  const again = new Uint8Array(c.size);
  c.encode(back, again);
  assert.deepEqual(again, buf);
  // runtime types are the printed ones, field by field
  const s = shapeOf(btf, shapesId);
  assert.equal(s.kind, "struct");
  const expect: Record<string, string> = {
    number: "number",
    float: "number",
    bigint: "bigint",
    boolean: "boolean",
    string: "string",
    enum: "number",
  };
  for (const f of s.kind === "struct" ? s.fields : []) {
    const got = back[f.name];
    const k = f.shape.kind === "enum" && f.shape.big ? "bigint" : expect[f.shape.kind];
    if (k) assert.equal(typeof got, k, f.name);
    else if (f.shape.kind === "typedArray")
      assert.equal((got as object).constructor.name, f.shape.array, f.name);
    else if (f.shape.kind === "tuple") assert.ok(Array.isArray(got), f.name);
  }
  // decoded values never alias the buffer
  (back["vec"] as Uint32Array)[0] = 99;
  assert.equal(c.decode(buf)["vec"] instanceof Uint32Array, true);
  assert.equal((c.decode(buf)["vec"] as Uint32Array)[0], 1);
});

test("wrong values are refused with the member's name: a number for a bigint, a long string, a short tuple", () => {
  const c = typedCodecFor<Record<string, unknown>>(btf, shapesId, "shapes");
  const buf = new Uint8Array(c.size);
  assert.throws(() => c.encode({ ...sample(), u64: 5 }, buf), {
    message: /shapes\.u64: expected a bigint, got number 5/,
  });
  assert.throws(() => c.encode({ ...sample(), name: "x".repeat(13) }, buf), {
    message: /shapes\.name: expected a string of at most 12 UTF-8 bytes/,
  });
  assert.throws(() => c.encode({ ...sample(), pair: [{ a: 1, b: 2 }] }, buf), {
    message: /shapes\.pair: expected an array of 2 elements/,
  });
  assert.throws(() => c.encode({ ...sample(), u8: 256 }, buf), {
    message: /shapes\.u8: expected an integer/,
  });
  assert.throws(() => c.encode({ ...sample(), mid: 1 << 13 }, buf), {
    message: /shapes\.mid: expected a value that fits 13 bits/,
  });
  assert.throws(() => c.encode({ ...sample(), vec: [1, 2, 3, 4] }, buf), {
    message: /shapes\.vec: expected a Uint32Array of 4 elements/,
  });
});

test("names: C names kept; duplicates get ___N in id order; TS-reserved and caller-reserved names get _", () => {
  const n = new UniqueNames();
  assert.equal(n.add("event"), "event");
  assert.equal(n.add("event"), "event___2");
  assert.equal(n.add("event"), "event___3");
  const p = new TsDeclPrinter(btf, { reserved: ["inner"] });
  assert.equal(p.nameOf(btf.findByName("inner", "STRUCT")!.id), "inner_");
  assert.equal(p.nameOf(btf.findByName("event", "STRUCT")!.id), "event");
  // an anonymous struct takes its typedef's name
  assert.equal(p.nameOf(btf.findByName("point_t", "TYPEDEF")!.id), "point_t");
});
