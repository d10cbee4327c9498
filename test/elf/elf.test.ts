import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import {
  checkMachine,
  type ElfFile,
  EM_BPF,
  EM_X86_64,
  parseElf,
  requireSection,
  SHN_ABS,
} from "../../src/elf/index.ts";
import { isKfuncKitError } from "../../src/errors.ts";
import { compileFixture } from "../helpers/index.ts";
import { findPreparedKernel } from "../object/prepared-kernel.ts";

const RICH = "test/fixtures/btf/rich.bpf.c";

function rich(extraArgs: string[] = []): { path: string; bytes: Uint8Array } {
  const path = compileFixture(RICH, { extraArgs });
  return { path, bytes: new Uint8Array(readFileSync(path)) };
}

function readelf(args: string[], path: string): string {
  const r = spawnSync("llvm-readelf", [...args, path], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const haveReadelf = () => spawnSync("llvm-readelf", ["--version"]).status === 0;

function compareWithReadelf(elf: ElfFile, path: string): void {
  const sec = readelf(["-SW"], path)
    .split("\n")
    .map((l) =>
      /^\s*\[\s*(\d+)\]\s(.{17}\S*)\s+(\S+)\s+([0-9a-f]{16})\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+\S*\s*(\d+)\s+(\d+)\s+(\d+)$/.exec(
        l,
      ),
    )
    .filter((m) => m !== null);
  assert.equal(elf.sections.length, sec.length, "section count");
  for (const m of sec) {
    const s = elf.sections[Number(m[1])]!;
    assert.deepEqual(
      [s.name, s.offset, s.size, s.link, s.info, s.addralign],
      [
        m[2]!.trim(),
        Number.parseInt(m[5]!, 16),
        Number.parseInt(m[6]!, 16),
        Number(m[8]),
        Number(m[9]),
        Number(m[10]),
      ],
      `section ${m[1]}`,
    );
  }
  const TYPES: Record<string, number> = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4 };
  const BINDS: Record<string, number> = { LOCAL: 0, GLOBAL: 1, WEAK: 2 };
  const syms = readelf(["-sW"], path)
    .split("\n")
    .map((l) => /^\s*(\d+): ([0-9a-f]+)\s+(\d+) (\w+)\s+(\w+)\s+\w+\s+(\w+) ?(.*)$/.exec(l))
    .filter((m) => m !== null);
  assert.equal(elf.symbols.length, syms.length, "symbol count");
  for (const m of syms) {
    const s = elf.symbols[Number(m[1])]!;
    const ndx = m[6] === "UND" ? 0 : m[6] === "ABS" ? SHN_ABS : Number(m[6]);
    // llvm-readelf shows a section symbol under its section's name
    const name = s.type === 3 ? elf.sections[s.shndx]!.name : s.name;
    assert.deepEqual(
      [s.value, s.size, s.type, s.bind, s.shndx, name],
      [Number.parseInt(m[2]!, 16), Number(m[3]), TYPES[m[4]!], BINDS[m[5]!], ndx, m[7]],
      `symbol ${m[1]}`,
    );
  }
  let relocs = 0;
  for (const s of elf.sections) relocs += elf.relocationsFor(s.index).length;
  const want = [...readelf(["-rW"], path).matchAll(/contains (\d+) entries/g)].reduce(
    (a, m) => a + Number(m[1]),
    0,
  );
  assert.equal(relocs, want, "relocation count");
}

test("parseElf: sections, symbols and relocations match llvm-readelf (LE and BE eBPF objects)", (t) => {
  if (!haveReadelf()) return t.skip("llvm-readelf is not installed (apt-get install llvm)");
  for (const args of [[], ["-target", "bpfeb"]]) {
    const { path, bytes } = rich(args);
    const elf = parseElf(bytes, path);
    assert.equal(elf.littleEndian, args.length === 0);
    assert.equal(elf.machine, EM_BPF);
    compareWithReadelf(elf, path);
    const text = elf.section(".text")!;
    const tasks = elf.relocationsFor(elf.section("tracepoint/syscalls/sys_enter_getpid")!.index);
    assert.equal(elf.symbols[tasks[0]!.symbol]!.name, "tasks");
    assert.equal(text.data.byteOffset - bytes.byteOffset, text.offset, "section data is a zero-copy view");
  }
});

function expectElfError(fn: () => unknown, file: string, pattern: RegExp): void {
  assert.throws(fn, (e) => {
    assert.ok(isKfuncKitError(e), `expected a KfuncKitError, got ${String(e)}`);
    assert.equal(e.code, "ELF");
    assert.ok(e.message.startsWith(`${file}: `), `message names the file: ${e.message}`);
    assert.match(e.message, pattern);
    assert.ok(e.hint, `has a hint: ${e.message}`);
    return true;
  });
}

test("parseElf: malformed files throw one ElfError naming the file, offset and expectation", () => {
  const { bytes } = rich();
  const F = "bad.o";
  const le = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(le.getBigUint64(40, true));
  const shnum = le.getUint16(60, true);
  const copy = (f: (b: Uint8Array, d: DataView) => void) => {
    const b = new Uint8Array(bytes);
    f(b, new DataView(b.buffer));
    return b;
  };
  expectElfError(
    () => parseElf(bytes.subarray(0, 40), F),
    F,
    /offset 0: file too small for an ELF header \(40 bytes, need 64\)/,
  );
  expectElfError(
    () =>
      parseElf(
        copy((b) => b.set([0x4d, 0x5a], 0)),
        F,
      ),
    F,
    /not an ELF file \(bad magic\)/,
  );
  expectElfError(
    () =>
      parseElf(
        copy((b) => (b[4] = 1)),
        F,
      ),
    F,
    /offset 4: ELF class 1 is not ELF64/,
  );
  expectElfError(
    () =>
      parseElf(
        copy((b) => (b[5] = 3)),
        F,
      ),
    F,
    /offset 5: unknown ELF data encoding 3/,
  );
  expectElfError(
    () =>
      parseElf(
        copy((_, d) => d.setBigUint64(40, 0n, true)),
        F,
      ),
    F,
    /no section header table/,
  );
  expectElfError(
    () =>
      parseElf(
        copy((_, d) => d.setUint16(58, 40, true)),
        F,
      ),
    F,
    /section header size 40, expected 64/,
  );
  expectElfError(
    () => parseElf(bytes.subarray(0, shoff + 10 * 64), F),
    F,
    new RegExp(
      `offset ${shoff}: section header table of ${shnum} entries runs past end of file \\(truncated\\?\\)`,
    ),
  );
  // section 2's sh_size: far beyond the file
  expectElfError(
    () =>
      parseElf(
        copy((_, d) => d.setBigUint64(shoff + 2 * 64 + 32, 1n << 40n, true)),
        F,
      ),
    F,
    /section 2 data \[\d+, \+1099511627776\) runs past end of file/,
  );
  expectElfError(
    () =>
      parseElf(
        copy((_, d) => d.setUint16(62, 500, true)),
        F,
      ),
    F,
    /section name table index 500 out of range/,
  );
  expectElfError(
    () =>
      parseElf(
        copy((_, d) => d.setUint32(shoff + 3 * 64, 1 << 30, true)),
        F,
      ),
    F,
    /section 3 name: string offset 1073741824 out of range/,
  );
  // truncating the file cuts the last section's data
  expectElfError(
    () => parseElf(bytes.subarray(0, bytes.length - 200), F),
    F,
    /runs past end of file|truncated/,
  );
  // machine and section checks used by the object layer
  const elf = parseElf(bytes, F);
  checkMachine(elf, [EM_BPF]);
  expectElfError(
    () => checkMachine(elf, [EM_X86_64]),
    F,
    /offset 18: machine 247 \(eBPF\), expected 62 \(x86-64\)/,
  );
  expectElfError(
    () => requireSection(elf, ".BTF.missing", "compile with -g"),
    F,
    /no section '\.BTF\.missing'/,
  );
  assert.equal(requireSection(elf, ".BTF", "compile with -g").name, ".BTF");
});

test("parseElf: corrupt symbol and relocation tables", () => {
  const { bytes } = rich();
  const F = "bad.o";
  const elf = parseElf(bytes, F);
  const symtab = elf.sections.find((s) => s.type === 2)!;
  const rel = elf.sections.find((s) => s.type === 9)!;
  const copy = (f: (d: DataView) => void) => {
    const b = new Uint8Array(bytes);
    f(new DataView(b.buffer));
    return b;
  };
  // symbol 3's st_shndx → 900 (there are ~31 sections)
  expectElfError(
    () =>
      parseElf(
        copy((d) => d.setUint16(symtab.offset + 3 * 24 + 6, 900, true)),
        F,
      ),
    F,
    new RegExp(
      `offset ${symtab.offset + 3 * 24 + 6}: symbol 3 is in section 900, but there are \\d+ sections`,
    ),
  );
  // symbol 5's name → beyond .strtab
  expectElfError(
    () =>
      parseElf(
        copy((d) => d.setUint32(symtab.offset + 5 * 24, 0x7fffff, true)),
        F,
      ),
    F,
    /symbol 5 name: string offset 8388607 out of range/,
  );
  // relocation 0 → symbol 5000
  const broken = parseElf(
    copy((d) => d.setUint32(rel.offset + 12, 5000, true)),
    F,
  );
  expectElfError(
    () => broken.relocationsFor(rel.info),
    F,
    /relocation 0 in '.*' names symbol 5000, but there are \d+/,
  );
  // a relocation section that targets a section that does not exist
  const shoff = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(40, true));
  expectElfError(
    () =>
      parseElf(
        copy((d) => d.setUint32(shoff + rel.index * 64 + 44, 4000, true)),
        F,
      ),
    F,
    /relocation section '.*' targets missing section 4000/,
  );
});

test("parseElf: a 32-bit ELF and an x86-64 object", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "kfunc-kit-elf-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, "a.c");
  writeFileSync(src, "int x = 1; int f(void) { return x; }\n");
  const o64 = join(dir, "a64.o");
  if (spawnSync("gcc", ["-c", src, "-o", o64]).status !== 0) return t.skip("gcc is not installed");
  const elf = parseElf(new Uint8Array(readFileSync(o64)), o64);
  assert.equal(elf.machine, EM_X86_64);
  assert.ok(elf.symbols.some((s) => s.name === "f"));
  expectElfError(() => checkMachine(elf, [EM_BPF]), o64, /machine 62 \(x86-64\), expected 247 \(eBPF\)/);
  const o32 = join(dir, "a32.o");
  if (spawnSync("gcc", ["-m32", "-c", src, "-o", o32]).status !== 0) {
    t.diagnostic("gcc -m32 unavailable: 32-bit case covered by the header-byte test above");
    return;
  }
  expectElfError(() => parseElf(new Uint8Array(readFileSync(o32)), o32), o32, /ELF class 1 is not ELF64/);
});

test("parseElf: kernel addresses above 2^53 stay exact in addrBig/valueBig", () => {
  const { bytes } = rich();
  const elf0 = parseElf(bytes, "k.o");
  const symtab = elf0.sections.find((s) => s.type === 2)!;
  const b = new Uint8Array(bytes);
  const d = new DataView(b.buffer);
  const shoff = Number(d.getBigUint64(40, true));
  const KADDR = 0xffffffff81000000n;
  d.setBigUint64(shoff + 2 * 64 + 16, KADDR, true); // section 2 sh_addr
  d.setBigUint64(symtab.offset + 3 * 24 + 8, KADDR + 0x18n, true); // symbol 3 st_value
  const elf = parseElf(b, "k.o");
  assert.equal(elf.sections[2]!.addrBig, KADDR);
  assert.equal(elf.sections[2]!.addr, Number.MAX_SAFE_INTEGER);
  assert.equal(elf.symbols[3]!.valueBig, KADDR + 0x18n);
  assert.equal(elf.symbols[3]!.value, Number.MAX_SAFE_INTEGER);
  assert.equal(elf0.symbols[3]!.valueBig, BigInt(elf0.symbols[3]!.value));
});

test("parseElf: a kernel image's .BTF is the kernel's raw BTF", (t) => {
  const kernel = findPreparedKernel([5, 0]);
  const image = kernel && join(dirname(kernel.btf), "vmlinux");
  if (!kernel || !image || !existsSync(image))
    return t.skip("no prepared kernel with an ELF vmlinux in the kfunc-kit cache (run `kfunc vm prepare`)");
  const elf = parseElf(new Uint8Array(readFileSync(image)), image);
  assert.equal(elf.machine, EM_X86_64);
  const text = elf.section(".text")!;
  assert.ok(text.addrBig >= 0xffffffff80000000n, `.text at 0x${text.addrBig.toString(16)}`);
  assert.deepEqual(
    requireSection(elf, ".BTF", "CONFIG_DEBUG_INFO_BTF").data,
    new Uint8Array(readFileSync(kernel.btf)),
  );
});
