import assert from "node:assert/strict";
import { test } from "node:test";
import { BTF_INT_SIGNED, BtfBuilder, type BtfType, encodeBtf, parseBtf } from "../../src/btf/index.ts";
import { isKfuncKitError } from "../../src/errors.ts";

const F = "bad.btf";
const INT: BtfType = {
  id: 1,
  kind: "INT",
  name: "int",
  size: 4,
  encoding: BTF_INT_SIGNED,
  bitOffset: 0,
  bits: 32,
};

function expectBtfError(fn: () => unknown, pattern: RegExp, typeId?: number): void {
  assert.throws(fn, (e) => {
    assert.ok(isKfuncKitError(e), `expected a KfuncKitError, got ${String(e)}`);
    assert.equal(e.code, "BTF");
    assert.ok(e.message.startsWith(`${F}: `), `names the file: ${e.message}`);
    if (typeId !== undefined)
      assert.ok(e.message.includes(`type [${typeId}]`), `names type ${typeId}: ${e.message}`);
    assert.match(e.message, pattern);
    assert.ok(e.hint, `has a hint: ${e.message}`);
    return true;
  });
}

/** A small valid BTF: [1] int, [2] ptr → int, [3] struct s { int a; int *p; }. */
function small(): Uint8Array {
  return encodeBtf([
    INT,
    { id: 2, kind: "PTR", name: "", type: 1 },
    {
      id: 3,
      kind: "STRUCT",
      name: "s",
      size: 16,
      kindFlag: false,
      members: [
        { name: "a", type: 1, bitOffset: 0, bitfieldSize: 0 },
        { name: "p", type: 2, bitOffset: 64, bitfieldSize: 0 },
      ],
    },
  ]);
}

function poke(bytes: Uint8Array, f: (d: DataView, b: Uint8Array) => void): Uint8Array {
  const b = new Uint8Array(bytes);
  f(new DataView(b.buffer), b);
  return b;
}

// layout of small(): header 24 | [1] int 16 bytes @24 | [2] ptr 12 @40 | [3] struct 12+24 @52 | strings @88
const parse = (b: Uint8Array) => parseBtf(b, { source: F });

test("parseBtf header errors: truncated, magic, version, hdr_len, section bounds", () => {
  const b = small();
  assert.equal(parse(b).nextId, 4);
  expectBtfError(() => parse(b.subarray(0, 20)), /BTF header truncated: 20 bytes, expected at least 24/);
  expectBtfError(
    () => parse(poke(b, (d) => d.setUint16(0, 0x1234, true))),
    /bad BTF magic 0x1234 at offset 0, expected 0xeb9f/,
  );
  expectBtfError(
    () => parse(poke(b, (_, x) => (x[2] = 2))),
    /unsupported BTF version 2 at offset 2, expected 1/,
  );
  expectBtfError(
    () => parse(poke(b, (d) => d.setUint32(4, 8, true))),
    /hdr_len 8 at offset 4 is out of range/,
  );
  expectBtfError(
    () => parse(b.subarray(0, 60)),
    /type section \[0, \+64\) runs past the end of the BTF data \(36 bytes/,
  );
  expectBtfError(
    () => parse(poke(b, (d) => d.setUint32(20, 5000, true))),
    /string section \[64, \+5000\) runs past the end/,
  );
  expectBtfError(
    () => parse(poke(b, (d) => d.setUint32(8, 2, true))),
    /type section offset 2 is not 4-byte aligned/,
  );
  expectBtfError(
    () => parse(poke(b, (_, x) => (x[x.length - 1] = 0x41))),
    /string section does not end with a NUL byte/,
  );
  expectBtfError(
    () => parse(poke(b, (_, x) => (x[88] = 0x41))),
    /string section must start with an empty string/,
  );
});

test("parseBtf record errors: truncated record, unknown kind, bad vlen", () => {
  const b = small();
  // type_len 60 instead of 64: the struct's last member is cut
  expectBtfError(
    () => parse(poke(b, (d) => d.setUint32(12, 60, true))),
    /record at offset 52 needs 36 bytes but the type section ends at 84 \(truncated or bad vlen\?\)/,
    3,
  );
  // type_len 46: 6 bytes of the PTR record
  expectBtfError(
    () => parse(poke(b, (d) => d.setUint32(12, 22, true))),
    /record at offset 40 is truncated: 6 bytes left in the type section, need 12/,
    2,
  );
  // kind 25 in [2]'s info (byte 3 of info at offset 44)
  expectBtfError(() => parse(poke(b, (_, x) => (x[47] = 25))), /unknown BTF kind 25 at offset 44/, 2);
  // kind 0 (UNKN) is not a valid record either
  expectBtfError(() => parse(poke(b, (_, x) => (x[47] = 0))), /unknown BTF kind 0/, 2);
  // vlen 200 for the struct
  expectBtfError(() => parse(poke(b, (d) => d.setUint16(56, 200, true))), /needs 2412 bytes/, 3);
});

test("parseBtf lazy errors: string offsets, dangling ids and invalid UTF-8 name the type", () => {
  const b = small();
  const nameOut = parse(poke(b, (d) => d.setUint32(52, 9999, true)));
  assert.equal(nameOut.typeById(1).name, "int", "other types still decode");
  expectBtfError(
    () => nameOut.typeById(3),
    /name: string offset 9999 out of range \(strings end at \d+\)/,
    3,
  );
  const memberName = parse(poke(b, (d) => d.setUint32(64 + 12, 7777, true)));
  expectBtfError(() => memberName.typeById(3), /member 1 name: string offset 7777 out of range/, 3);
  const dangling = parse(poke(b, (d) => d.setUint32(48, 99, true)));
  expectBtfError(
    () => dangling.typeById(2),
    /pointee refers to type \[99\], which does not exist \(ids are 0\.\.3\)/,
    2,
  );
  expectBtfError(() => dangling.sizeof(2), /pointee refers to type \[99\]/, 2);
  expectBtfError(() => parse(b).typeById(4), /no such type: ids are 0\.\.3/, 4);
  expectBtfError(() => parse(b).string(500), /string offset 500 out of range/);
  const utf8 = parse(poke(b, (_, x) => (x[89] = 0xff))); // first byte of "int"
  expectBtfError(() => utf8.typeById(1), /name: string at offset 1 is not valid UTF-8/, 1);
});

test("resolve/sizeof/alignof: cycles and over-long chains name the type chain", () => {
  const b = new BtfBuilder({ source: F });
  const int = b.add({ kind: "INT", name: "int", size: 4, encoding: 1, bitOffset: 0, bits: 32 });
  // [2] typedef a → [3] const → [2]: a modifier cycle
  b.add({ kind: "TYPEDEF", name: "a", type: 3 });
  b.add({ kind: "CONST", name: "", type: 2 });
  // [4] array of [4]
  b.add({ kind: "ARRAY", name: "", type: 4, indexType: int, nelems: 2 });
  // [5] struct containing itself by value
  b.add({
    kind: "STRUCT",
    name: "loop",
    size: 4,
    kindFlag: false,
    members: [{ name: "self", type: 5, bitOffset: 0, bitfieldSize: 0 }],
  });
  // [6..45] 40 nested CONSTs ending at int
  let prev = int;
  for (let i = 0; i < 40; i++) prev = b.add({ kind: "CONST", name: "", type: prev });
  const deep = prev;
  // [46] const → [47] volatile → [46]: a cycle of modifiers only
  const c1 = b.add({ kind: "CONST", name: "", type: b.nextId + 1 });
  b.add({ kind: "VOLATILE", name: "", type: c1 });
  const btf = b.build();
  expectBtfError(
    () => btf.resolve(2),
    /resolve: type cycle: \[\d+\] (typedef 'a'|const) -> .*\[2\] typedef 'a'/,
    2,
  );
  assert.equal(btf.skipModifiers(3).name, "a", "skipModifiers stops at a typedef");
  expectBtfError(
    () => btf.skipModifiers(c1),
    /skip modifiers: type cycle: .*\[\d+\] volatile -> \[\d+\] const/,
    c1,
  );
  expectBtfError(() => btf.sizeof(2), /sizeof: type cycle/, 2);
  expectBtfError(() => btf.sizeof(4), /sizeof: type cycle: \[4\] array -> \[4\] array/, 4);
  expectBtfError(() => btf.alignof(4), /alignof: type cycle/, 4);
  assert.equal(btf.sizeof(5), 4, "a struct's size is its own field");
  expectBtfError(() => btf.alignof(5), /alignof: type cycle: \[5\] struct 'loop' -> \[5\] struct 'loop'/, 5);
  expectBtfError(() => btf.resolve(deep), /resolve: chain deeper than 32: \[\d+\] const/, deep);
  // 31 modifiers are fine
  assert.equal(btf.resolve(deep - 9).name, "int");
  assert.equal(btf.sizeof(deep - 9), 4);
  // no size: FUNC_PROTO / VOID / FWD
  expectBtfError(() => btf.sizeof(0), /\[0\] void has no size/, 0);
});

test("split BTF: byte order must match the base; ids below base.nextId come from the base", () => {
  const base = parseBtf(encodeBtf([INT]), { source: "base.btf" });
  const splitBe = encodeBtf([{ id: 2, kind: "PTR", name: "", type: 1 }], { base, littleEndian: false });
  expectBtfError(
    () => parseBtf(splitBe, { base, source: F }),
    /split BTF and its base BTF have different byte orders/,
  );
  const split = parseBtf(encodeBtf([{ id: 2, kind: "PTR", name: "", type: 1 }], { base }), {
    base,
    source: F,
  });
  assert.equal(split.typeById(1).name, "int");
  assert.equal(split.resolve(2).kind, "PTR");
  expectBtfError(() => split.typeById(3), /no such type: ids are 0\.\.2/, 3);
});
