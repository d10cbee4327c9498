import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { type Btf, type BtfExt, coreReloKindName, parseBtf, parseBtfExt } from "../../src/btf/index.ts";
import { type ElfFile, parseElf } from "../../src/elf/index.ts";
import { isKfuncKitError } from "../../src/errors.ts";
import { compileFixture, fixturePath } from "../helpers/index.ts";

const RICH = "test/fixtures/btf/rich.bpf.c";
const PROG_SEC = "tracepoint/syscalls/sys_enter_getpid";

function load(extraArgs: string[] = []): { elf: ElfFile; btf: Btf; ext: BtfExt; extBytes: Uint8Array } {
  const obj = compileFixture(RICH, { extraArgs });
  const elf = parseElf(new Uint8Array(readFileSync(obj)), obj);
  const btf = parseBtf(elf.section(".BTF")!.data, { source: obj });
  const extBytes = elf.section(".BTF.ext")!.data;
  return { elf, btf, ext: parseBtfExt(extBytes, btf), extBytes };
}

test(".BTF.ext func_info: each FUNC sits at its ELF symbol's offset in its section", () => {
  const { elf, btf, ext } = load();
  assert.deepEqual([...ext.funcInfo.keys()].sort(), [".text", PROG_SEC]);
  let n = 0;
  for (const [secName, infos] of ext.funcInfo) {
    const sec = elf.section(secName)!;
    for (const fi of infos) {
      const fn = btf.typeById(fi.typeId);
      assert.equal(fn.kind, "FUNC");
      const sym = elf.symbols.find((s) => s.name === fn.name);
      assert.ok(sym, `symbol ${fn.name}`);
      assert.equal(sym.shndx, sec.index, `${fn.name} is in ${secName}`);
      assert.equal(fi.insnOff, sym.value, `${fn.name} func_info offset is its symbol value (bytes)`);
      n++;
    }
  }
  assert.equal(n, 3, "handle, global_sub, helper_sub");
});

test(".BTF.ext line_info: file, line and column point at the fixture's source text", () => {
  const { elf, ext } = load();
  const source = readFileSync(fixturePath(RICH), "utf8").split("\n");
  let n = 0;
  for (const [secName, infos] of ext.lineInfo) {
    const size = elf.section(secName)!.size;
    let prev = -1;
    for (const li of infos) {
      assert.ok(li.fileName.endsWith("rich.bpf.c"), li.fileName);
      // line 0: code the compiler made up (no source line), with an empty text
      assert.equal(li.lineText, li.line === 0 ? "" : source[li.line - 1], `line ${li.line} text`);
      assert.ok(li.column <= li.lineText.length + 1, `column ${li.column} within line ${li.line}`);
      assert.equal(li.lineCol, (li.line << 10) | li.column);
      assert.ok(li.insnOff > prev && li.insnOff < size, "insn offsets ascend inside the section");
      prev = li.insnOff;
      n++;
    }
  }
  assert.ok(n >= 10, `${n} line_info records`);
});

test(".BTF.ext core_relo: access strings and kinds of the fixture's CO-RE reads", () => {
  const { elf, btf, ext } = load();
  const relos = ext.coreRelos.get(PROG_SEC);
  assert.ok(relos);
  const got = new Set(
    relos.map((r) => `${btf.typeById(r.typeId).name} ${r.accessStr} ${coreReloKindName(r.kind)}`),
  );
  const want = [
    "task_like 0:0 FIELD_BYTE_OFFSET", // t->pid
    "task_like 0:4 FIELD_BYTE_OFFSET", // t->parent
    "task_like 0:3 FIELD_BYTE_OFFSET", // ->prio
    "task_like 0:5:0 FIELD_BYTE_OFFSET", // t->u.bits
    "task_like 0:6:3 FIELD_BYTE_OFFSET", // t->comm[3]
    "task_like 0:2 FIELD_BYTE_OFFSET", // __builtin_preserve_field_info(t->state, 0)
    "task_like 0 TYPE_EXISTS", // __builtin_preserve_type_info(*t, 0)
    "color 1 ENUMVAL_VALUE", // __builtin_preserve_enum_value(GREEN, 1)
  ];
  assert.deepEqual([...got].sort(), [...want].sort());
  const size = elf.section(PROG_SEC)!.size;
  for (const r of relos) assert.ok(r.insnOff % 8 === 0 && r.insnOff < size);
  assert.ok(
    ext.coreRelos.get(".text")!.some((r) => r.accessStr === "0:1"),
    "helper_sub reads t->flags",
  );
});

test(".BTF.ext: a big-endian object gives the same records", () => {
  const le = load();
  const be = load(["-target", "bpfeb"]);
  assert.equal(be.ext.littleEndian, false);
  const strip = (m: Map<string, object[]>) => JSON.stringify([...m].sort());
  assert.equal(strip(be.ext.funcInfo), strip(le.ext.funcInfo));
  assert.equal(strip(be.ext.coreRelos), strip(le.ext.coreRelos));
  assert.equal(strip(be.ext.lineInfo), strip(le.ext.lineInfo));
});

/** Re-encodes a parsed .BTF.ext with larger record sizes (padding each record), as a newer compiler might. */
function widen(ext: BtfExt, pad: number, strOff: (s: string) => number): Uint8Array {
  const parts: number[] = [];
  const section = (m: Map<string, object[]>, rec: (r: never) => number[], size: number) => {
    const out = [size + pad];
    for (const [name, list] of m) {
      out.push(strOff(name), list.length);
      for (const r of list) out.push(...rec(r as never), ...new Array(pad / 4).fill(0xdeadbeef));
    }
    return out;
  };
  const fi = section(ext.funcInfo, (r: { insnOff: number; typeId: number }) => [r.insnOff, r.typeId], 8);
  const li = section(
    ext.lineInfo,
    (r: { insnOff: number; fileNameOff: number; lineOff: number; lineCol: number }) => [
      r.insnOff,
      r.fileNameOff,
      r.lineOff,
      r.lineCol,
    ],
    16,
  );
  const cr = section(
    ext.coreRelos,
    (r: { insnOff: number; typeId: number; accessStrOff: number; kind: number }) => [
      r.insnOff,
      r.typeId,
      r.accessStrOff,
      r.kind,
    ],
    16,
  );
  parts.push(fi.length * 4, li.length * 4, cr.length * 4);
  const body = [...fi, ...li, ...cr];
  const out = new Uint8Array(32 + body.length * 4);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, 0xeb9f, true);
  out[2] = 1;
  dv.setUint32(4, 32, true);
  const [fl, ll, cl] = parts as [number, number, number];
  for (const [i, v] of [0, fl, fl, ll, fl + ll, cl].entries()) dv.setUint32(8 + i * 4, v, true);
  body.forEach((v, i) => {
    dv.setUint32(32 + i * 4, v >>> 0, true);
  });
  return out;
}

test(".BTF.ext: record sizes larger than the known structs are honoured", () => {
  const { btf, ext } = load();
  const names = new Map<string, number>();
  // section names are strings of the BTF: map each string to its first offset
  const strOff = (s: string) => {
    if (!names.size) {
      for (let off = 0; off < 1 << 16; off++) {
        try {
          const v = btf.string(off);
          if (!names.has(v)) names.set(v, off);
        } catch {
          break;
        }
      }
    }
    const off = names.get(s);
    assert.ok(off !== undefined, `string ${s}`);
    return off;
  };
  const wide = parseBtfExt(widen(ext, 8, strOff), btf);
  assert.deepEqual(wide.recordSizes, { funcInfo: 16, lineInfo: 24, coreRelo: 24 });
  assert.deepEqual([...wide.funcInfo], [...ext.funcInfo]);
  assert.deepEqual([...wide.lineInfo], [...ext.lineInfo]);
  assert.deepEqual([...wide.coreRelos], [...ext.coreRelos]);
});

function expectBtfError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e) => {
    assert.ok(isKfuncKitError(e), `a KfuncKitError, got ${String(e)}`);
    assert.equal(e.code, "BTF");
    assert.match(e.message, /\.BTF\.ext/);
    assert.match(e.message, pattern);
    assert.ok(e.hint);
    return true;
  });
}

test(".BTF.ext: malformed input is a BtfError naming the offset and what was expected", () => {
  const { btf, extBytes } = load();
  const mutate = (f: (b: Uint8Array, dv: DataView) => void) => {
    const b = new Uint8Array(extBytes);
    f(b, new DataView(b.buffer));
    return b;
  };
  expectBtfError(() => parseBtfExt(extBytes.subarray(0, 10), btf), /header truncated: 10 bytes, need 24/);
  expectBtfError(
    () =>
      parseBtfExt(
        mutate((b) => b.fill(0x41, 0, 2)),
        btf,
      ),
    /bad magic 0x4141, expected 0xeb9f/,
  );
  expectBtfError(
    () =>
      parseBtfExt(
        mutate((b) => (b[2] = 7)),
        btf,
      ),
    /unsupported version 7/,
  );
  expectBtfError(() => parseBtfExt(extBytes.subarray(0, extBytes.length - 20), btf), /runs past the end/);
  const dv = new DataView(extBytes.buffer, extBytes.byteOffset, extBytes.byteLength);
  const hdr = dv.getUint32(4, true);
  const fiStart = hdr + dv.getUint32(8, true);
  expectBtfError(
    () =>
      parseBtfExt(
        mutate((_, d) => d.setUint32(fiStart, 4, true)),
        btf,
      ),
    /func_info record size 4, expected a multiple of 4 that is at least 8/,
  );
  // first func_info record: [sec name off][n][insn_off][type_id]
  expectBtfError(
    () =>
      parseBtfExt(
        mutate((_, d) => d.setUint32(fiStart + 4 + 8 + 4, 0xfffff, true)),
        btf,
      ),
    /func_info refers to type \[1048575\], which does not exist/,
  );
  expectBtfError(
    () =>
      parseBtfExt(
        mutate((_, d) => d.setUint32(fiStart + 4 + 8 + 4, 2, true)),
        btf,
      ),
    /func_info type \[2\] is a INT, expected FUNC/,
  );
  expectBtfError(
    () =>
      parseBtfExt(
        mutate((_, d) => d.setUint32(fiStart + 4, 0x7fffffff, true)),
        btf,
      ),
    /func_info section name: string offset 2147483647/,
  );
  expectBtfError(
    () =>
      parseBtfExt(
        mutate((_, d) => d.setUint32(fiStart + 4 + 8, 3, true)),
        btf,
      ),
    /insn offset 3 is not a multiple of 8/,
  );
  expectBtfError(
    () =>
      parseBtfExt(
        mutate((_, d) => d.setUint32(fiStart + 8, 1 << 30, true)),
        btf,
      ),
    /1073741824 records of 8 bytes run past the end/,
  );
});
