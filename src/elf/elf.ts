import { ElfError } from "../errors.ts";

/** Section types (sh_type) kfunc-kit cares about. */
export const SHT = {
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  NOBITS: 8,
  REL: 9,
} as const;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const SHN_UNDEF = 0;
/** Section indexes from here up are special (SHN_ABS, SHN_COMMON, SHN_XINDEX…), not real sections. */
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const EM_BPF = 247;

const MACHINE_NAMES: Record<number, string> = {
  3: "i386",
  40: "ARM",
  62: "x86-64",
  183: "AArch64",
  243: "RISC-V",
  247: "eBPF",
};

function machineName(m: number): string {
  return MACHINE_NAMES[m] ? `${m} (${MACHINE_NAMES[m]})` : String(m);
}
export const ET_REL = 1;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  /** sh_addr; exact below 2^53 (relocatable objects: 0), else MAX_SAFE_INTEGER: use `addrBig`. */
  addr: number;
  /** sh_addr, exact (kernel images put sections at 0xffffffff8…). */
  addrBig: bigint;
  /** File offset of the section data. */
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
  /** Zero-copy view of the section's bytes (empty for SHT_NOBITS). */
  data: Uint8Array;
}

export interface ElfSymbol {
  index: number;
  name: string;
  /** st_value; exact below 2^53 (offsets in relocatable objects), else MAX_SAFE_INTEGER: use `valueBig`. */
  value: number;
  /** st_value, exact (kernel addresses in vmlinux). */
  valueBig: bigint;
  size: number;
  /** STB_* */
  bind: number;
  /** STT_* */
  type: number;
  /** STV_* (st_other & 3) */
  visibility: number;
  /** Section index (or SHN_UNDEF / SHN_ABS / SHN_COMMON). */
  shndx: number;
}

export interface ElfRelocation {
  offset: number;
  /** Symbol index into the symbol table the relocation section links to. */
  symbol: number;
  type: number;
  addend: number;
}

export interface ElfFile {
  /** File name used in error messages. */
  source: string;
  bytes: Uint8Array;
  littleEndian: boolean;
  type: number;
  machine: number;
  sections: ElfSection[];
  /** The symbol table (`.symtab`), empty if there is none. Index 0 is the null symbol. */
  symbols: ElfSymbol[];
  section(name: string): ElfSection | undefined;
  /** Relocation sections (SHT_REL/SHT_RELA) keyed by the index of the section they apply to. */
  relocationsFor(sectionIndex: number): ElfRelocation[];
}

const MAX_SECTIONS = 65535;
const CORRUPT_HINT =
  "the file is truncated or corrupt: rebuild it (clang -target bpf -g -c for eBPF objects, make for modules)";
const MAX_SYMBOLS = 4_000_000;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
function clampSafe(v: bigint): number {
  return v > MAX_SAFE ? Number.MAX_SAFE_INTEGER : Number(v);
}

/** Reads a NUL-terminated string at `off` in a string table. */
export function readCString(table: Uint8Array, off: number, source: string, what: string): string {
  if (off >= table.length) {
    if (off === 0) return "";
    throw new ElfError(
      source,
      undefined,
      `${what}: string offset ${off} out of range (table is ${table.length} bytes)`,
      { hint: CORRUPT_HINT },
    );
  }
  // indexOf is a native scan: a corrupt table without NULs costs each lookup microseconds, not a JS loop
  let end = table.indexOf(0, off);
  if (end < 0) end = table.length;
  if (end === table.length)
    throw new ElfError(source, undefined, `${what}: unterminated string at offset ${off}`, {
      hint: CORRUPT_HINT,
    });
  return latin1(table, off, end);
}

function latin1(b: Uint8Array, start: number, end: number): string {
  if (end - start < 64) {
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
    return s;
  }
  return new TextDecoder().decode(b.subarray(start, end));
}

/**
 * Parses an ELF64 file (EM_BPF objects and x86-64 kernel modules). Pure: bytes in, a value out.
 * Every read is bounds-checked; problems throw {@link ElfError} naming the file and offset.
 */
export function parseElf(bytes: Uint8Array, source = "<memory>"): ElfFile {
  const fail = (offset: number | undefined, what: string): never => {
    throw new ElfError(source, offset, what, { hint: CORRUPT_HINT });
  };
  if (bytes.length < 64) fail(0, `file too small for an ELF header (${bytes.length} bytes, need 64)`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46)
    fail(0, "not an ELF file (bad magic); expected a clang -target bpf object or a .ko");
  if (bytes[4] !== 2)
    fail(4, `ELF class ${bytes[4]} is not ELF64; eBPF objects and x86-64 modules are ELF64`);
  if (bytes[5] !== 1 && bytes[5] !== 2) fail(5, `unknown ELF data encoding ${bytes[5]}`);
  const le = bytes[5] === 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => view.getUint16(o, le);
  const u32 = (o: number) => view.getUint32(o, le);
  const u64 = (o: number, what: string): number => {
    const v = view.getBigUint64(o, le);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(o, `${what} ${v} is too large`);
    return Number(v);
  };
  const type = u16(16);
  const machine = u16(18);
  const shoff = u64(40, "e_shoff");
  const shentsize = u16(58);
  let shnum = u16(60);
  let shstrndx = u16(62);
  if (shoff === 0) fail(40, "no section header table");
  if (shentsize !== 64) fail(58, `section header size ${shentsize}, expected 64`);
  if (shoff + 64 > bytes.length) fail(shoff, "section header table beyond end of file (truncated?)");
  if (shnum === 0) shnum = u64(shoff + 32, "sh_size of section 0");
  if (shstrndx === 0xffff) shstrndx = u32(shoff + 40);
  if (shnum > MAX_SECTIONS || shoff + shnum * 64 > bytes.length)
    fail(shoff, `section header table of ${shnum} entries runs past end of file (truncated?)`);

  const sections: ElfSection[] = [];
  const nameOffsets: number[] = [];
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * 64;
    const shType = u32(h + 4);
    const addrBig = view.getBigUint64(h + 16, le);
    const offset = u64(h + 24, `section ${i} sh_offset`);
    const size = u64(h + 32, `section ${i} sh_size`);
    if (shType !== SHT.NOBITS && shType !== SHT.NULL && offset + size > bytes.length)
      fail(
        h,
        `section ${i} data [${offset}, +${size}) runs past end of file (${bytes.length} bytes; truncated?)`,
      );
    sections.push({
      index: i,
      name: "",
      type: shType,
      flags: u64(h + 8, "sh_flags"),
      addr: clampSafe(addrBig),
      addrBig,
      offset,
      size,
      link: u32(h + 40),
      info: u32(h + 44),
      addralign: u64(h + 48, "sh_addralign"),
      entsize: u64(h + 56, "sh_entsize"),
      data:
        shType === SHT.NOBITS || shType === SHT.NULL
          ? new Uint8Array(0)
          : bytes.subarray(offset, offset + size),
    });
    nameOffsets.push(u32(h));
  }
  if (shstrndx >= sections.length) fail(62, `section name table index ${shstrndx} out of range`);
  const shstr = sections[shstrndx]!.data;
  for (const s of sections)
    s.name = readCString(shstr, nameOffsets[s.index]!, source, `section ${s.index} name`);

  const symbols: ElfSymbol[] = [];
  const symtab = sections.find((s) => s.type === SHT.SYMTAB);
  if (symtab) {
    if (symtab.link >= sections.length)
      fail(symtab.offset, `.symtab links to missing string table ${symtab.link}`);
    const strtab = sections[symtab.link]!.data;
    const n = Math.floor(symtab.size / 24);
    if (n > MAX_SYMBOLS) fail(symtab.offset, `${n} symbols is more than supported`);
    const sv = new DataView(symtab.data.buffer, symtab.data.byteOffset, symtab.data.byteLength);
    for (let i = 0; i < n; i++) {
      const o = i * 24;
      const info = sv.getUint8(o + 4);
      const value = sv.getBigUint64(o + 8, le);
      const size = sv.getBigUint64(o + 16, le);
      const shndx = sv.getUint16(o + 6, le);
      if (shndx >= sections.length && shndx < SHN_LORESERVE)
        fail(
          symtab.offset + o + 6,
          `symbol ${i} is in section ${shndx}, but there are ${sections.length} sections (corrupt .symtab?)`,
        );
      symbols.push({
        index: i,
        name: readCString(strtab, sv.getUint32(o, le), source, `symbol ${i} name`),
        value: clampSafe(value),
        valueBig: value,
        size: clampSafe(size),
        bind: info >> 4,
        type: info & 0xf,
        visibility: sv.getUint8(o + 5) & 3,
        shndx,
      });
    }
  }

  const relocCache = new Map<number, ElfRelocation[]>();
  const relocSections = new Map<number, ElfSection[]>();
  for (const s of sections) {
    if (s.type !== SHT.REL && s.type !== SHT.RELA) continue;
    if (s.info >= sections.length)
      fail(s.offset, `relocation section '${s.name}' targets missing section ${s.info}`);
    const list = relocSections.get(s.info) ?? [];
    list.push(s);
    relocSections.set(s.info, list);
  }

  function relocationsFor(sectionIndex: number): ElfRelocation[] {
    const cached = relocCache.get(sectionIndex);
    if (cached) return cached;
    const out: ElfRelocation[] = [];
    for (const rs of relocSections.get(sectionIndex) ?? []) {
      const rela = rs.type === SHT.RELA;
      const entsize = rela ? 24 : 16;
      const rv = new DataView(rs.data.buffer, rs.data.byteOffset, rs.data.byteLength);
      const n = Math.floor(rs.size / entsize);
      for (let i = 0; i < n; i++) {
        const o = i * entsize;
        const info = rv.getBigUint64(o + 8, le);
        const symbol = Number(info >> 32n);
        if (symbol >= symbols.length)
          fail(
            rs.offset + o,
            `relocation ${i} in '${rs.name}' names symbol ${symbol}, but there are ${symbols.length}`,
          );
        out.push({
          offset: Number(rv.getBigUint64(o, le)),
          symbol,
          type: Number(info & 0xffffffffn),
          addend: rela ? Number(rv.getBigInt64(o + 16, le)) : 0,
        });
      }
    }
    relocCache.set(sectionIndex, out);
    return out;
  }

  const byName = new Map<string, ElfSection>();
  for (const s of sections) if (!byName.has(s.name)) byName.set(s.name, s);

  return {
    source,
    bytes,
    littleEndian: le,
    type,
    machine,
    sections,
    symbols,
    section: (name) => byName.get(name),
    relocationsFor,
  };
}

/** Throws ElfError unless the file's e_machine is one of `expected` (e.g. [EM_BPF] for an eBPF object). */
export function checkMachine(elf: ElfFile, expected: readonly number[], hint?: string): void {
  if (expected.includes(elf.machine)) return;
  throw new ElfError(
    elf.source,
    18,
    `machine ${machineName(elf.machine)}, expected ${expected.map(machineName).join(" or ")}`,
    {
      hint:
        hint ??
        (expected.includes(EM_BPF)
          ? "compile eBPF programs with clang -target bpf"
          : "is this file for another architecture?"),
    },
  );
}

/** The named section, or an ElfError saying it is missing and what produces it. */
export function requireSection(elf: ElfFile, name: string, hint: string): ElfSection {
  const s = elf.section(name);
  if (s) return s;
  throw new ElfError(elf.source, undefined, `no section '${name}'`, { hint });
}
