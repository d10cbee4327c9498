import { type ElfFile, parseElf } from "../elf/index.ts";
import { KernelUnavailableError } from "../errors.ts";
import { runTool } from "../host/exec.ts";

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

function tryElf(bytes: Uint8Array, source: string): ElfFile | undefined {
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45) return undefined;
  try {
    return parseElf(bytes, source);
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
  throw new KernelUnavailableError(`kernel image '${source}': no zstd or xz compressed ELF vmlinux found`, {
    hint: "is it an x86-64 bzImage? QEMU can still boot it directly; BTF must then come from the headers",
  });
}

/** The `.BTF` section of an ELF vmlinux (equal to that kernel's /sys/kernel/btf/vmlinux). */
export function vmlinuxBtf(elfBytes: Uint8Array, source: string): Uint8Array | undefined {
  return parseElf(elfBytes, source).section(".BTF")?.data;
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
