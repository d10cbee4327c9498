/**
 * vmlinux.h for a target kernel, printed from its BTF by kfunc-kit's own C printer (dumpC) and cached by
 * the BTF's hash: `<cache>/vmlinux-h/<sha256-16>/vmlinux.h`. Returns the directory to pass as -I.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dumpC } from "../btf/c-printer.ts";
import { parseBtf } from "../btf/index.ts";
import { parseElf } from "../elf/index.ts";
import { BtfError } from "../errors.ts";
import { ensureWritableDir } from "../host/cache.ts";

export interface VmlinuxHeader {
  /** Directory holding vmlinux.h. */
  dir: string;
  header: string;
  /** true when it was printed now, false when it came from the cache. */
  fresh: boolean;
}

function elfBtf(bytes: Uint8Array, source: string): Uint8Array {
  const sec = parseElf(bytes, source).section(".BTF");
  if (!sec)
    throw new BtfError(source, undefined, "an ELF file without a .BTF section", {
      hint: "pass the kernel's raw BTF (/sys/kernel/btf/vmlinux) or a vmlinux built with CONFIG_DEBUG_INFO_BTF=y",
    });
  return sec.data;
}

/** Raw BTF from a raw BTF file or an ELF vmlinux. */
export function readKernelBtf(path: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new BtfError(`kernel BTF '${path}'`, undefined, "cannot read it", {
      cause: e,
      hint: "is the kernel built with CONFIG_DEBUG_INFO_BTF=y? pass --kernel debian:bookworm-backports to use a QEMU kernel's",
    });
  }
  const isElf = bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
  return isElf ? elfBtf(bytes, path) : bytes;
}

/** vmlinux.h for the kernel whose BTF is at `btfPath`, from the cache when printed before. */
export function vmlinuxHeader(btfPath: string, cacheDir: string): VmlinuxHeader {
  const btf = readKernelBtf(btfPath);
  // the salt changes when the printer output changes
  const key = createHash("sha256").update("dumpC-v1\0").update(btf).digest("hex").slice(0, 16);
  const dir = join(cacheDir, "vmlinux-h", key);
  const header = join(dir, "vmlinux.h");
  if (existsSync(header)) return { dir, header, fresh: false };
  ensureWritableDir(dir);
  const text = dumpC(parseBtf(btf, { source: btfPath }));
  const tmp = `${header}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, header);
  return { dir, header, fresh: true };
}
