import assert from "node:assert/strict";
import { test } from "node:test";
import { BtfBuilder } from "../../src/btf/builder.ts";
import { type Btf, parseBtf } from "../../src/btf/index.ts";
import {
  BTF_FUNC_GLOBAL,
  BTF_FUNC_STATIC,
  BTF_INT_SIGNED,
  BTF_VAR_GLOBAL_ALLOCATED,
  type BtfType,
} from "../../src/btf/types.ts";
import { checkFeature, supports } from "../../src/kernel/features.ts";
import { sanitizeBtf } from "../../src/link/btf-sanitize.ts";
import { btfLoad } from "../../src/sys/bpf-obj.ts";
import { fixtureSpec, requireBpf } from "./load-helpers.ts";

const NONE = {
  func: false,
  funcGlobal: false,
  datasec: false,
  float: false,
  declTag: false,
  typeTag: false,
  enum64: false,
};

function layout(spec: ReturnType<typeof fixtureSpec>) {
  return spec.dataSections.map((d) => ({ name: d.name, size: d.size, variables: d.variables }));
}

test("sanitized object BTF: DATASEC sizes/offsets from the ELF, .ksyms rewritten (pure)", () => {
  const spec = fixtureSpec("load-kfunc");
  const out = parseBtf(sanitizeBtf(spec.btf!.bytes, "t", layout(spec), spec.externs), {
    source: "sanitized",
  });
  const secs = [...out.ownTypes()].filter((t) => t.kind === "DATASEC");
  const bss = secs.find((t) => t.name === ".bss");
  assert.ok(bss && bss.kind === "DATASEC");
  assert.equal(bss.size, spec.dataSections.find((d) => d.name === ".bss")!.size);
  const offsets = bss.vars.map((v) => v.offset);
  assert.deepEqual(
    offsets,
    [...offsets].sort((a, b) => a - b),
    "sorted, non-overlapping",
  );
  assert.equal(new Set(offsets).size, offsets.length);
  const ksyms = secs.find((t) => t.name === ".ksyms");
  assert.ok(ksyms && ksyms.kind === "DATASEC");
  for (const v of ksyms.vars)
    assert.equal(out.typeById(v.type).kind, "VAR", ".ksyms points at VARs, not FUNCs");
  for (const t of out.ownTypes())
    if (t.kind === "FUNC") assert.ok(t.linkage <= 1, `FUNC '${t.name}' linkage`);
});

test("the kernel accepts the object's BTF as is and fully downgraded (no FUNC/DATASEC/FLOAT/tags/ENUM64)", (t) => {
  if (!requireBpf(t)) return;
  const spec = fixtureSpec("load-kfunc");
  btfLoad(sanitizeBtf(spec.btf!.bytes, "t", layout(spec), spec.externs)).close();
  const down = sanitizeBtf(spec.btf!.bytes, "t", layout(spec), spec.externs, NONE);
  const kinds = new Set([...parseBtf(down).ownTypes()].map((x) => x.kind));
  for (const k of [
    "FUNC",
    "FUNC_PROTO",
    "VAR",
    "DATASEC",
    "FLOAT",
    "DECL_TAG",
    "TYPE_TAG",
    "ENUM64",
  ] as const)
    assert.equal(kinds.has(k), false, `${k} rewritten`);
  btfLoad(down).close();
});

test("feature probes: this kernel (6.18) answers every probe with 'supported'", (t) => {
  if (!requireBpf(t)) return;
  for (const f of [
    "btf",
    "btfFunc",
    "btfFuncGlobal",
    "btfDatasec",
    "btfFloat",
    "btfDeclTag",
    "btfTypeTag",
    "btfEnum64",
    "mmapableArray",
    "kfuncCall",
  ] as const) {
    assert.equal(supports(f), true, f);
    checkFeature(f);
  }
});

// ---- Downgrades for older kernels, on BTF that has every kind clang 14 never emits ---------------------

/** Every kind a sanitizer may have to rewrite, with references between them (ids in comments). */
function everyKindBtf(): Uint8Array {
  const b = new BtfBuilder({ source: "every-kind" });
  const int = b.add({ kind: "INT", name: "int", size: 4, encoding: BTF_INT_SIGNED, bitOffset: 0, bits: 32 }); // 1
  const dbl = b.add({ kind: "FLOAT", name: "double", size: 8 }); // 2
  b.add({
    kind: "STRUCT", // 3: uses the FLOAT, so its replacement must keep the size
    name: "pair",
    size: 16,
    kindFlag: false,
    members: [
      { name: "a", type: int, bitOffset: 0, bitfieldSize: 0 },
      { name: "d", type: dbl, bitOffset: 64, bitfieldSize: 0 },
    ],
  });
  const user = b.add({ kind: "TYPE_TAG", name: "user", type: int }); // 4
  const ptr = b.add({ kind: "PTR", name: "", type: user }); // 5
  const proto = b.add({
    kind: "FUNC_PROTO", // 6
    name: "",
    returnType: int,
    params: [
      { name: "x", type: int },
      { name: "p", type: ptr },
    ],
  });
  const fn = b.add({ kind: "FUNC", name: "handler", type: proto, linkage: BTF_FUNC_GLOBAL }); // 7
  b.add({ kind: "DECL_TAG", name: "bpf_kfunc", type: fn, componentIdx: -1 }); // 8
  b.add({ kind: "DECL_TAG", name: "arg_nonnull", type: fn, componentIdx: 1 }); // 9
  b.add({
    kind: "ENUM64", // 10
    name: "big",
    size: 8,
    signed: false,
    values: [
      { name: "SMALL", value: 1 },
      { name: "HUGE", value: 2n ** 40n },
    ],
  });
  b.add({ kind: "ENUM", name: "sgn", size: 4, signed: true, values: [{ name: "MINUS", value: -1 }] }); // 11
  const v = b.add({ kind: "VAR", name: "counter", type: int, linkage: BTF_VAR_GLOBAL_ALLOCATED }); // 12
  b.add({ kind: "DECL_TAG", name: "kept", type: v, componentIdx: -1 }); // 13
  const w = b.add({ kind: "VAR", name: "limit", type: int, linkage: BTF_VAR_GLOBAL_ALLOCATED }); // 14
  b.add({
    kind: "DATASEC", // 15
    name: ".data",
    size: 8,
    vars: [
      { type: v, offset: 0, size: 4 },
      { type: w, offset: 4, size: 4 },
    ],
  });
  return b.encode();
}

const ALL = { ...NONE, ...Object.fromEntries(Object.keys(NONE).map((k) => [k, true])) } as typeof NONE;
type FeatureName = keyof typeof NONE;

const INT_8 = { kind: "INT", size: 1, encoding: 0, bitOffset: 0, bits: 8 } as const;

/** What libbpf's bpf_object__sanitize_btf makes of each type (by id) when the kernel lacks one feature. */
const REWRITES: Record<FeatureName, Record<number, object>> = {
  // FLOAT → anonymous STRUCT of the same size, no members
  float: { 2: { id: 2, name: "", kind: "STRUCT", size: 8, kindFlag: false, members: [] } },
  // DECL_TAG → INT of 1 byte, 8 bits (libbpf keeps the tag's name, we drop it: names do not matter to INTs)
  declTag: { 8: INT_8, 9: INT_8, 13: INT_8 },
  // TYPE_TAG → anonymous CONST of the same type
  typeTag: { 4: { id: 4, name: "", kind: "CONST", type: 1 } },
  // ENUM64 → UNION of the same size, every member a 1-byte "enum64_placeholder" INT at offset 0 (appended
  // as a new type); a signed ENUM loses its kind_flag (signed enums came with ENUM64)
  enum64: {
    10: {
      id: 10,
      name: "big",
      kind: "UNION",
      size: 8,
      kindFlag: false,
      members: [
        { name: "SMALL", type: 16, bitOffset: 0, bitfieldSize: 0 },
        { name: "HUGE", type: 16, bitOffset: 0, bitfieldSize: 0 },
      ],
    },
    11: {
      id: 11,
      name: "sgn",
      kind: "ENUM",
      size: 4,
      signed: false,
      values: [{ name: "MINUS", value: 4294967295 }],
    },
    16: { id: 16, name: "enum64_placeholder", ...INT_8 },
  },
  // global FUNC → static FUNC
  funcGlobal: { 7: { id: 7, name: "handler", kind: "FUNC", type: 6, linkage: BTF_FUNC_STATIC } },
  // FUNC_PROTO → 4-byte ENUM (params become values: name, type id); FUNC → TYPEDEF of it
  func: {
    6: {
      id: 6,
      name: "",
      kind: "ENUM",
      size: 4,
      signed: false,
      values: [
        { name: "x", value: 1 },
        { name: "p", value: 5 },
      ],
    },
    7: { id: 7, name: "handler", kind: "TYPEDEF", type: 6 },
  },
  // VAR → 1-byte INT keeping the name; DATASEC → STRUCT whose members are the former VARs, offsets in bits
  // (libbpf renames the struct ".data" → "_data"; we make it anonymous: both are valid C-like names)
  datasec: {
    12: { id: 12, name: "counter", ...INT_8 },
    14: { id: 14, name: "limit", ...INT_8 },
    15: {
      id: 15,
      name: "",
      kind: "STRUCT",
      size: 8,
      kindFlag: false,
      members: [
        { name: "counter", type: 12, bitOffset: 0, bitfieldSize: 0 },
        { name: "limit", type: 14, bitOffset: 32, bitfieldSize: 0 },
      ],
    },
  },
};

/** The kinds (and flags) a kernel without `f` rejects. */
const REJECTED: Record<FeatureName, (t: BtfType) => boolean> = {
  float: (t) => t.kind === "FLOAT",
  declTag: (t) => t.kind === "DECL_TAG",
  typeTag: (t) => t.kind === "TYPE_TAG",
  enum64: (t) => t.kind === "ENUM64" || (t.kind === "ENUM" && t.signed),
  funcGlobal: (t) => t.kind === "FUNC" && t.linkage === BTF_FUNC_GLOBAL,
  func: (t) => t.kind === "FUNC" || t.kind === "FUNC_PROTO",
  datasec: (t) => t.kind === "VAR" || t.kind === "DATASEC",
};

function sanitizeWith(features: typeof NONE): Btf {
  return parseBtf(sanitizeBtf(everyKindBtf(), "every-kind", [], [], features), { source: "sanitized" });
}

function pick(t: BtfType, like: object): object {
  return Object.fromEntries(Object.keys(like).map((k) => [k, (t as unknown as Record<string, unknown>)[k]]));
}

test("sanitizer, one missing feature at a time: exactly libbpf's rewrite, nothing else changed, same ids (pure)", () => {
  const input = parseBtf(everyKindBtf(), { source: "every-kind" });
  const before = [...input.ownTypes()];
  assert.equal(before.length, 15);
  for (const f of Object.keys(NONE) as FeatureName[]) {
    const out = sanitizeWith({ ...ALL, [f]: false });
    const expected = REWRITES[f];
    const added = Object.keys(expected).filter((id) => Number(id) > before.length).length;
    assert.equal([...out.ownTypes()].length, before.length + added, `${f}: type count (ids unchanged)`);
    for (const t of before) {
      const want = expected[t.id];
      const got = out.typeById(t.id);
      if (want) assert.deepEqual(pick(got, want), want, `${f}: [${t.id}] ${t.kind} '${t.name}' rewritten`);
      else assert.deepEqual(got, t, `${f}: [${t.id}] ${t.kind} '${t.name}' untouched`);
    }
    for (const id of Object.keys(expected)
      .map(Number)
      .filter((id) => id > before.length))
      assert.deepEqual(pick(out.typeById(id), expected[id]!), expected[id], `${f}: appended [${id}]`);
    for (const t of out.ownTypes())
      assert.equal(REJECTED[f](t), false, `${f}: [${t.id}] ${t.kind} '${t.name}' would be rejected`);
  }
});

test("sanitizer, every feature missing: no record a pre-4.20 kernel rejects, ids kept, loads on this kernel", (t) => {
  const input = [...parseBtf(everyKindBtf(), { source: "every-kind" }).ownTypes()];
  const out = sanitizeWith(NONE);
  for (const x of out.ownTypes())
    for (const f of Object.keys(NONE) as FeatureName[])
      assert.equal(REJECTED[f](x), false, `[${x.id}] ${x.kind} '${x.name}' left for a kernel without ${f}`);
  for (const x of input) {
    // Same ids: each record is where it was, in the kind its rewrite names (FUNC: TYPEDEF, as func is off).
    const want = Object.values(REWRITES).reduce<object | undefined>((w, r) => w ?? r[x.id], undefined);
    const got = out.typeById(x.id);
    if (x.kind === "FUNC") assert.equal(got.kind, "TYPEDEF", `[${x.id}] FUNC without BTF func support`);
    else if (want) assert.equal(got.kind, (want as { kind: string }).kind, `[${x.id}] ${x.kind}`);
    else assert.deepEqual(got, x, `[${x.id}] ${x.kind} '${x.name}' untouched`);
  }
  if (!requireBpf(t)) return;
  btfLoad(sanitizeBtf(everyKindBtf(), "every-kind", [], [], NONE)).close();
});

test("sanitizer for each older kernel (features it lacks by version): the result loads with BPF_BTF_LOAD here", (t) => {
  if (!requireBpf(t)) return;
  // Oldest first, as the kernel gained them: 4.20 func, 5.2 datasec, 5.6 funcGlobal, 5.13 float,
  // 5.16 declTag, 5.17 typeTag, 6.0 enum64.
  const order: FeatureName[] = ["func", "datasec", "funcGlobal", "float", "declTag", "typeTag", "enum64"];
  for (let have = 0; have <= order.length; have++) {
    const features = { ...NONE, ...Object.fromEntries(order.slice(0, have).map((f) => [f, true])) };
    const bytes = sanitizeBtf(everyKindBtf(), "every-kind", [], [], features);
    const kinds = new Set([...parseBtf(bytes).ownTypes()].map((x) => x.kind));
    for (const f of order.slice(have))
      for (const x of parseBtf(bytes).ownTypes()) assert.equal(REJECTED[f](x), false, `${f}: ${x.kind}`);
    try {
      btfLoad(bytes).close();
    } catch (e) {
      assert.fail(`kernel lacking ${order.slice(have).join(", ") || "nothing"} (kinds ${[...kinds]}): ${e}`);
    }
  }
});

test("sanitizer with every feature supported rewrites nothing: the bytes come back as they went in", (t) => {
  const input = everyKindBtf();
  const out = sanitizeBtf(input, "every-kind", [], [], ALL);
  assert.deepEqual(out, input);
  assert.deepEqual(sanitizeBtf(input, "every-kind", [], []), input, "ALL_BTF_FEATURES is the default");
  if (!requireBpf(t)) return;
  btfLoad(out).close();
});
