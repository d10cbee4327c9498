// The 64-bit word paths of the typed codec (src/btf/value-codec.ts): a record view's getters and the
// ring-buffer copy decoder read aligned 64-bit fields from BigUint64Array/BigInt64Array views of the same
// bytes. They must agree with the DataView decoder on every field, and a 64-bit field that is not 8-aligned
// (a packed struct) must keep the DataView path.
import assert from "node:assert/strict";
import test from "node:test";
import { codecOfShape, pointRecordView, recordViewClass, recordViewData } from "../../src/btf/value-codec.ts";
import type { FieldShape, ValueShape } from "../../src/btf/value-shape.ts";

const field = (name: string, byte: number, shape: ValueShape): FieldShape => ({
  name,
  typeId: 0,
  bitOffset: byte * 8,
  bits: 0,
  shape,
});
const u64: ValueShape = { kind: "bigint", size: 8, signed: false };
const s64: ValueShape = { kind: "bigint", size: 8, signed: true };
// struct __attribute__((packed)) { u32 a; u64 odd; s64 neg; u64 al; enum big e; u32 tail }: `odd` at 4 is
// unaligned, `neg` at 12 too; `al` at 24 and `e` at 32 are aligned
const fields = [
  field("a", 0, { kind: "number", size: 4, signed: false }),
  field("odd", 4, u64),
  field("neg", 12, s64),
  field("al", 24, u64),
  field("e", 32, { kind: "enum", size: 8, signed: true, big: true, typeId: 0 }),
  field("tail", 40, { kind: "number", size: 4, signed: false }),
  field("sal", 48, s64),
];
const shape: ValueShape = { kind: "struct", typeId: 0, union: false, fields, size: 56 };

test("aligned 64-bit fields read through words agree with DataView reads; unaligned ones keep DataView", () => {
  const codec = codecOfShape(shape, "struct rec");
  assert.ok(codec.readWords, "a struct with aligned 64-bit fields has a words reader");
  // three records at 8-aligned offsets behind 8-byte headers, as in a ring buffer's data area
  const data = new Uint8Array(8 + 3 * 64);
  const dv = new DataView(data.buffer);
  const want = [0, 1, 2].map((i) => ({
    a: 0xdead0000 + i,
    odd: 0xfedcba9876543210n + BigInt(i),
    neg: -(1n << 62n) - BigInt(i),
    al: (1n << 64n) - 1n - BigInt(i),
    e: -(1n << 40n) + BigInt(i),
    tail: i,
    sal: -1n - BigInt(i),
  }));
  for (const [i, w] of want.entries()) {
    const at = 8 + i * 64;
    dv.setUint32(at - 8, 56, true);
    codec.encode(w, data, at);
  }
  const words = recordViewData(data);
  const View = recordViewClass(codec, "struct rec");
  const view = new View(new Uint8Array(0));
  pointRecordView(view, words);
  for (const [i, w] of want.entries()) {
    const at = 8 + i * 64;
    assert.deepEqual(codec.decode(data, at), w, `record ${i}: DataView decode`);
    assert.deepEqual(
      codec.readWords(words["#dv"], data, at, words["#q"], words["#qs"]),
      w,
      `record ${i}: words decode`,
    );
    view["#at"] = at;
    const r = view as unknown as Record<string, unknown>;
    assert.deepEqual(
      Object.fromEntries(fields.map((f) => [f.name, r[f.name]])),
      w,
      `record ${i}: view getters`,
    );
  }
});

test("a struct without aligned 64-bit fields has no words reader; misaligned view data is refused", () => {
  const packed: ValueShape = {
    kind: "struct",
    typeId: 0,
    union: false,
    fields: [field("a", 0, { kind: "number", size: 4, signed: false }), field("x", 4, u64)],
    size: 12,
  };
  assert.equal(codecOfShape(packed, "struct p").readWords, undefined);
  assert.throws(() => recordViewData(new Uint8Array(new ArrayBuffer(32), 4)), /8-aligned/);
});
