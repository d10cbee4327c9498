import { parseElf, readCString } from "../elf/index.ts";
import { ElfError, KfuncKitError } from "../errors.ts";
import { runTool } from "./exec.ts";

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

function* find(hay: Uint8Array, needle: number[]): Generator<number> {
  const first = needle[0]!;
  for (let i = hay.indexOf(first); i >= 0 && i + needle.length <= hay.length; i = hay.indexOf(first, i + 1)) {
    let ok = true;
    for (let j = 1; j < needle.length; j++)
      if (hay[i + j] !== needle[j]) {
        ok = false;
        break;
      }
    if (ok) yield i;
  }
}

/** The parts of an ELF64 kfunc-kit needs from a vmlinux: its sections by name. */
interface KernelElf {
  section(name: string): { data: Uint8Array } | undefined;
}

/**
 * Section lookup for a kernel ELF. `parseElf` first; kernel sections live at 0xffffffff8… addresses, which
 * src/elf refuses as unsafe integers, so fall back to reading only the section headers (bounds-checked).
 */
function readKernelElf(bytes: Uint8Array, source: string): KernelElf {
  try {
    return parseElf(bytes, source);
  } catch (e) {
    if (!(e instanceof ElfError) || !e.message.includes("sh_addr")) throw e;
  }
  const fail = (what: string): never => {
    throw new ElfError(source, undefined, what);
  };
  if (bytes.length < 64 || bytes[4] !== 2 || bytes[5] !== 1) fail("not a little-endian ELF64 file");
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const num = (o: number) => {
    const x = v.getBigUint64(o, true);
    if (x > BigInt(bytes.length)) fail(`field at ${o} (${x}) points past the end of the file`);
    return Number(x);
  };
  const shoff = num(40);
  const shnum = v.getUint16(60, true);
  const shstrndx = v.getUint16(62, true);
  if (shoff + shnum * 64 > bytes.length || shstrndx >= shnum) fail("section header table out of range");
  const hdr = (i: number) => {
    const h = shoff + i * 64;
    const type = v.getUint32(h + 4, true);
    const offset = num(h + 24);
    const size = type === 8 ? 0 : num(h + 32); // SHT_NOBITS
    if (offset + size > bytes.length) fail(`section ${i} runs past the end of the file`);
    return { name: v.getUint32(h, true), data: bytes.subarray(offset, offset + size) };
  };
  const names = hdr(shstrndx).data;
  const byName = new Map<string, { data: Uint8Array }>();
  for (let i = 0; i < shnum; i++) {
    const s = hdr(i);
    byName.set(readCString(names, s.name, source, `section ${i} name`), s);
  }
  return { section: (name) => byName.get(name) };
}

function tryElf(bytes: Uint8Array, source: string): KernelElf | undefined {
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45) return undefined;
  try {
    return readKernelElf(bytes, source);
  } catch {
    return undefined;
  }
}

export interface ExtractedVmlinux {
  elf: Uint8Array;
  btf: Uint8Array | undefined;
  format: "zstd" | "xz";
  offset: number;
}

/**
 * Finds the compressed kernel inside a bzImage (zstd for Debian 6.12, xz for 6.1), decompresses it with the
 * zstd/xz tools (the stream is followed by trailing data, so their "error" exit is expected) and keeps the
 * first candidate that parses as an ELF. The ELF is PVH-bootable by QEMU and carries the kernel's `.BTF`.
 */
export async function extractVmlinux(bzImage: Uint8Array, source: string): Promise<ExtractedVmlinux> {
  const formats = [
    { format: "zstd" as const, magic: ZSTD_MAGIC, tool: "zstd", args: ["-dcq"] },
    { format: "xz" as const, magic: XZ_MAGIC, tool: "xz", args: ["-dcq", "--single-stream"] },
  ];
  for (const f of formats) {
    for (const offset of find(bzImage, f.magic)) {
      const r = await runTool(f.tool, f.args, { input: bzImage.subarray(offset), allowFailure: true });
      const elf = tryElf(r.stdout, `${source} (${f.format} stream at ${offset})`);
      if (!elf) continue;
      const btf = elf.section(".BTF");
      return { elf: r.stdout, btf: btf ? btf.data : undefined, format: f.format, offset };
    }
  }
  throw new KfuncKitError("VM", `kernel image '${source}': no zstd or xz compressed ELF vmlinux found`, {
    hint: "is it an x86-64 bzImage? QEMU can still boot it directly; BTF must then come from the headers",
  });
}

/** The `.BTF` section of an ELF vmlinux (equal to that kernel's /sys/kernel/btf/vmlinux). */
export function vmlinuxBtf(elfBytes: Uint8Array, source: string): Uint8Array | undefined {
  return readKernelElf(elfBytes, source).section(".BTF")?.data;
}

/** The release string embedded in a bzImage's setup header (`6.12.95+deb12-amd64`), if any. */
export function bzImageRelease(bytes: Uint8Array): string | undefined {
  if (bytes.length < 0x210 || bytes[0x202] !== 0x48 || bytes[0x203] !== 0x64) return undefined; // "HdrS"
  const ptr = bytes[0x20e]! | (bytes[0x20f]! << 8);
  const start = ptr + 0x200;
  let end = start;
  while (end < bytes.length && end - start < 256 && bytes[end] !== 0 && bytes[end] !== 0x20) end++;
  const s = new TextDecoder().decode(bytes.subarray(start, end));
  return /^\d+\.\d+/.test(s) ? s : undefined;
}

/** The release in an ELF vmlinux's `Linux version X ` banner. */
export function elfRelease(bytes: Uint8Array): string | undefined {
  const needle = [..."Linux version "].map((c) => c.charCodeAt(0));
  for (const at of find(bytes, needle)) {
    const start = at + needle.length;
    let end = start;
    while (end < bytes.length && end - start < 128 && bytes[end] !== 0x20 && bytes[end] !== 0) end++;
    const s = new TextDecoder().decode(bytes.subarray(start, end));
    if (/^\d+\.\d+/.test(s)) return s;
  }
  return undefined;
}
