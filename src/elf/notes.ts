/**
 * ELF notes (SHT_NOTE sections) and the SystemTap SDT probe notes in `.note.stapsdt` that describe USDT
 * probes: one note per call site, with the probe's provider and name, its address, the `.stapsdt.base`
 * address it was linked against, its semaphore and the argument spec string ("-4@%eax 8@-16(%rbp)").
 * Pure: an ElfFile in, values out. Format: https://sourceware.org/systemtap/wiki/UserSpaceProbeImplementation
 */
import { ElfError } from "../errors.ts";
import type { ElfFile, ElfSection } from "./elf.ts";

export const SHT_NOTE = 7;
export const NT_STAPSDT = 3;
export const STAPSDT_NOTE_SECTION = ".note.stapsdt";
export const STAPSDT_BASE_SECTION = ".stapsdt.base";

export interface ElfNote {
  /** The owner ("GNU", "stapsdt"…), without its NUL. */
  name: string;
  type: number;
  /** Zero-copy view of the descriptor. */
  desc: Uint8Array;
  /** Offset of the note header in the file. */
  offset: number;
}

function align(n: number, a: number): number {
  return (n + a - 1) & ~(a - 1);
}

/** The notes of one SHT_NOTE section (padding follows the section's alignment: 4, or 8 for 8-aligned notes). */
export function parseNotes(elf: ElfFile, section: ElfSection): ElfNote[] {
  const d = section.data;
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const a = section.addralign === 8 ? 8 : 4;
  const out: ElfNote[] = [];
  let o = 0;
  while (o + 12 <= d.length) {
    const namesz = v.getUint32(o, elf.littleEndian);
    const descsz = v.getUint32(o + 4, elf.littleEndian);
    const type = v.getUint32(o + 8, elf.littleEndian);
    const nameOff = o + 12;
    const descOff = align(nameOff + namesz, a);
    const end = align(descOff + descsz, a);
    if (descOff + descsz > d.length)
      throw new ElfError(
        elf.source,
        section.offset + o,
        `note in '${section.name}' runs past the end of the section (name ${namesz}, descriptor ${descsz} bytes)`,
        { hint: "the file is truncated or corrupt: rebuild it" },
      );
    let nameEnd = nameOff + namesz;
    while (nameEnd > nameOff && d[nameEnd - 1] === 0) nameEnd--;
    out.push({
      name: String.fromCharCode(...d.subarray(nameOff, nameEnd)),
      type,
      desc: d.subarray(descOff, descOff + descsz),
      offset: section.offset + o,
    });
    o = end;
  }
  return out;
}

export interface StapsdtNote {
  provider: string;
  name: string;
  /** The probe's address as recorded (link-time virtual address of the NOP). */
  pc: number;
  /** The `.stapsdt.base` address recorded in the note (0 when the note has none). */
  base: number;
  /** The semaphore's address as recorded, 0 when the probe has no semaphore. */
  semaphore: number;
  /** The argument spec string ("" for a probe without arguments). */
  args: string;
  /** `pc` adjusted for prelinking: pc + (sh_addr of .stapsdt.base − base), as libbpf and systemtap do. */
  address: number;
  /** `semaphore` with the same adjustment (0 stays 0). */
  semaphoreAddress: number;
}

function cstr(d: Uint8Array, start: number): { text: string; next: number } | undefined {
  const end = d.indexOf(0, start);
  if (end < 0) return undefined;
  return { text: new TextDecoder().decode(d.subarray(start, end)), next: end + 1 };
}

/**
 * Every USDT call site of a binary or shared library, in note order. An ELF file without `.note.stapsdt`
 * has none (an empty list); a malformed stapsdt note throws ElfError naming its offset.
 */
export function stapsdtNotes(elf: ElfFile): StapsdtNote[] {
  const sec = elf.section(STAPSDT_NOTE_SECTION);
  if (!sec) return [];
  if (sec.type !== SHT_NOTE)
    throw new ElfError(elf.source, sec.offset, `'${STAPSDT_NOTE_SECTION}' is not an SHT_NOTE section`);
  const baseSec = elf.section(STAPSDT_BASE_SECTION);
  const sectionBase = baseSec ? baseSec.addr : 0;
  const out: StapsdtNote[] = [];
  for (const n of parseNotes(elf, sec)) {
    if (n.name !== "stapsdt" || n.type !== NT_STAPSDT) continue;
    const bad = (what: string): never => {
      throw new ElfError(elf.source, n.offset, `stapsdt note: ${what}`, {
        hint: "the probe notes are corrupt: rebuild the binary with <sys/sdt.h>",
      });
    };
    const d = n.desc;
    if (d.length < 24 + 3) bad(`descriptor of ${d.length} bytes is too short`);
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const addr = (o: number): number => {
      const x = v.getBigUint64(o, elf.littleEndian);
      return x > BigInt(Number.MAX_SAFE_INTEGER) ? bad(`address ${x} is out of range`) : Number(x);
    };
    const pc = addr(0);
    const base = addr(8);
    const semaphore = addr(16);
    const provider = cstr(d, 24) ?? bad("provider name is not NUL-terminated");
    const name = cstr(d, provider.next) ?? bad("probe name is not NUL-terminated");
    if (name.text === "") bad(`probe of provider '${provider.text}' has an empty name`);
    const args = cstr(d, name.next) ?? bad(`argument string of '${provider.text}:${name.text}' is missing`);
    // libbpf treats an argument string starting with ':' as empty (old sdt.h wrote ":" for no arguments)
    const adjust = sectionBase && base ? sectionBase - base : 0;
    out.push({
      provider: provider.text,
      name: name.text,
      pc,
      base,
      semaphore,
      args: args.text.startsWith(":") ? "" : args.text,
      address: pc + adjust,
      semaphoreAddress: semaphore ? semaphore + adjust : 0,
    });
  }
  return out;
}
