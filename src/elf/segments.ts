/**
 * Program headers (PT_LOAD segments) of executables and shared libraries, and the virtual address → file
 * offset translation uprobes need (the kernel wants file offsets; notes and symbols give addresses).
 */
import { ElfError } from "../errors.ts";
import type { ElfFile } from "./elf.ts";

export const PT_LOAD = 1;
export const PF_X = 1;
export const PF_W = 2;
export const ET_EXEC = 2;
export const ET_DYN = 3;

export interface ElfSegment {
  /** p_vaddr */
  vaddr: number;
  /** p_memsz */
  memsz: number;
  /** p_offset */
  offset: number;
  /** p_filesz */
  filesz: number;
  /** PF_X | PF_W | PF_R */
  flags: number;
}

/** The PT_LOAD segments, sorted by address. Throws ElfError when the program header table is corrupt. */
export function loadSegments(elf: ElfFile): ElfSegment[] {
  const b = elf.bytes;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le = elf.littleEndian;
  const big = (o: number, what: string): number => {
    const x = v.getBigUint64(o, le);
    if (x > BigInt(Number.MAX_SAFE_INTEGER))
      throw new ElfError(elf.source, o, `${what} ${x} is too large for a user-space binary`);
    return Number(x);
  };
  const phoff = big(32, "e_phoff");
  const entsize = v.getUint16(54, le);
  const count = v.getUint16(56, le);
  if (phoff === 0 || count === 0) return [];
  if (entsize !== 56) throw new ElfError(elf.source, 54, `program header size ${entsize}, expected 56`);
  if (phoff + count * 56 > b.length)
    throw new ElfError(elf.source, phoff, `program header table of ${count} entries runs past end of file`, {
      hint: "the file is truncated or corrupt: rebuild it",
    });
  const out: ElfSegment[] = [];
  for (let i = 0; i < count; i++) {
    const h = phoff + i * 56;
    if (v.getUint32(h, le) !== PT_LOAD) continue;
    out.push({
      flags: v.getUint32(h + 4, le),
      offset: big(h + 8, `segment ${i} p_offset`),
      vaddr: big(h + 16, `segment ${i} p_vaddr`),
      filesz: big(h + 32, `segment ${i} p_filesz`),
      memsz: big(h + 40, `segment ${i} p_memsz`),
    });
  }
  return out.sort((a, c) => a.vaddr - c.vaddr);
}

/** The segment whose [vaddr, vaddr + memsz) holds `address`. */
export function segmentAt(segments: readonly ElfSegment[], address: number): ElfSegment | undefined {
  return segments.find((s) => s.vaddr <= address && address < s.vaddr + s.memsz);
}

/** `address` as a file offset (address − p_vaddr + p_offset), or undefined outside every segment. */
export function addressToFileOffset(segments: readonly ElfSegment[], address: number): number | undefined {
  const s = segmentAt(segments, address);
  return s ? address - s.vaddr + s.offset : undefined;
}
