/**
 * The module-BTF guarantee: before kbuild runs, the kernel build dir has the target kernel's BTF as
 * `vmlinux` (scripts/Makefile.modfinal runs pahole and resolve_btfids only when that file exists), pahole
 * is installed, and tools/bpf/resolve_btfids/resolve_btfids exists (Debian 6.1's kbuild ships none: borrow
 * a 6.12 kbuild's, which works for 6.1 too).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  accessSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { parseElf } from "../elf/index.ts";
import { EnvironmentError, ModuleError } from "../errors.ts";
import type { Progress } from "../progress.ts";
import type { ModuleTarget } from "./target.ts";

export interface BtfGuarantee {
  /** `vmlinux` in the build dir (present after the call). */
  vmlinux: string;
  /** What was done ("copied …", "borrowed …"), for the build summary. */
  actions: string[];
  warnings: string[];
  paholeVersion: string;
}

export interface GuaranteeOptions {
  progress?: Progress | undefined;
  cacheDir?: string | undefined;
}

const BTF_MAGIC_LE = [0x9f, 0xeb];

function isBtfOrElf(path: string): boolean {
  const b = readFileSync(path).subarray(0, 4);
  const elf = b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
  return elf || (b[0] === BTF_MAGIC_LE[0] && b[1] === BTF_MAGIC_LE[1]) || (b[0] === 0xeb && b[1] === 0x9f);
}

/** The raw BTF of a raw BTF file or an ELF vmlinux (its .BTF section); undefined when there is none. */
function rawBtf(path: string): { bytes: Uint8Array | undefined; elf: boolean } {
  const b = new Uint8Array(readFileSync(path));
  const elf = b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
  if (!elf) return { bytes: b, elf };
  try {
    return { bytes: parseElf(b, path).section(".BTF")?.data, elf };
  } catch {
    return { bytes: undefined, elf };
  }
}

/**
 * Why the kbuild dir's `vmlinux` is not the target kernel's BTF, or undefined when it is (same bytes).
 * Another kernel's BTF would make pahole encode module BTF on the wrong base; a truncated one makes it fail.
 */
export function notTargetBtf(vmlinux: string, targetBtf: string): { why: string; elf: boolean } | undefined {
  if (realpathSync(vmlinux) === realpathSync(targetBtf)) return undefined;
  const have = rawBtf(vmlinux);
  const want = rawBtf(targetBtf).bytes;
  if (!want || !have.bytes) return have.bytes ? undefined : { why: "it has no .BTF section", elf: have.elf };
  if (Buffer.from(have.bytes).equals(Buffer.from(want))) return undefined;
  const sum = (b: Uint8Array) => createHash("sha256").update(b).digest("hex").slice(0, 12);
  return {
    why: `its BTF (${have.bytes.byteLength} bytes, sha256 ${sum(have.bytes)}) differs from the target's (${want.byteLength} bytes, sha256 ${sum(want)})${have.bytes.byteLength < want.byteLength && Buffer.from(want.subarray(0, have.bytes.byteLength)).equals(Buffer.from(have.bytes)) ? ": truncated" : ""}`,
    elf: have.elf,
  };
}

export function paholeVersion(): string | undefined {
  const r = spawnSync("pahole", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function hasAccess(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

const writable = (dir: string): boolean => hasAccess(dir, constants.W_OK);

export const RESOLVE_BTFIDS = join("tools", "bpf", "resolve_btfids", "resolve_btfids");

const executable = (path: string): boolean => hasAccess(path, constants.X_OK);

/** resolve_btfids binaries of kernels already in the cache (their linux-kbuild packages). */
function cachedResolveBtfids(cacheDir: string): string[] {
  const found: string[] = [];
  const kernels = join(cacheDir, "kernels");
  if (!existsSync(kernels)) return found;
  for (const k of readdirSync(kernels)) {
    const lib = join(kernels, k, "root", "usr", "lib");
    if (!existsSync(lib)) continue;
    for (const kb of readdirSync(lib)) {
      const p = join(lib, kb, RESOLVE_BTFIDS);
      if (kb.startsWith("linux-kbuild-") && executable(p)) found.push(p);
    }
  }
  // newest kbuild first: it understands every older kernel's .BTF_ids layout
  return found.sort().reverse();
}

async function findResolveBtfids(o: GuaranteeOptions): Promise<string> {
  const { DEFAULT_KERNEL, prepareKernel } = await import("../kernels/index.ts");
  const cacheDir = o.cacheDir ?? (await import("../host/cache.ts")).defaultCacheDir();
  const cached = cachedResolveBtfids(cacheDir);
  if (cached[0]) return cached[0];
  o.progress?.note(`resolve_btfids: fetching the ${DEFAULT_KERNEL} kbuild to borrow its copy`);
  const k = await prepareKernel(DEFAULT_KERNEL, {
    cacheDir,
    ...(o.progress ? { progress: o.progress } : {}),
  });
  const p = k.headersDir ? join(k.headersDir, RESOLVE_BTFIDS) : undefined;
  if (p && executable(p)) return realpathSync(p);
  throw new ModuleError(`resolve_btfids: not found in ${DEFAULT_KERNEL}'s kbuild either`, {
    hint: "build it from a kernel tree (make -C tools/bpf/resolve_btfids) and copy it into <kernel build dir>/tools/bpf/resolve_btfids/",
  });
}

/** Makes sure kbuild will generate and resolve module BTF for `target`; throws naming the fix otherwise. */
export async function ensureModuleBtf(target: ModuleTarget, o: GuaranteeOptions = {}): Promise<BtfGuarantee> {
  const actions: string[] = [];
  const warnings: string[] = [];
  const dir = target.headersDir;

  const pahole = paholeVersion();
  if (!pahole)
    throw new EnvironmentError("pahole: not found: kbuild needs it to generate module BTF", {
      hint: "install it: apt-get install dwarves",
    });

  const config = join(dir, ".config");
  if (existsSync(config) && !/^CONFIG_DEBUG_INFO_BTF_MODULES=y$/m.test(readFileSync(config, "utf8")))
    throw new ModuleError(`kernel ${target.release}: CONFIG_DEBUG_INFO_BTF_MODULES is not set in ${config}`, {
      hint: "this kernel cannot carry module BTF, so module kfuncs cannot work on it: use a kernel built with CONFIG_DEBUG_INFO_BTF_MODULES=y (Debian's are)",
    });

  const vmlinux = join(dir, "vmlinux");
  if (target.btf && !existsSync(target.btf))
    throw new ModuleError(`kernel ${target.release}: its BTF ${target.btf} is missing`, {
      hint: `the kernel cache is damaged: remove ${dirname(target.btf)} and prepare it again (kfunc vm prepare --kernel ${target.spec})`,
    });
  if (existsSync(vmlinux)) {
    if (!isBtfOrElf(vmlinux))
      throw new ModuleError(`${vmlinux}: neither raw BTF nor an ELF vmlinux`, {
        hint: `replace it with the target kernel's BTF (${target.btf ?? "its /sys/kernel/btf/vmlinux"})`,
      });
    const stale = target.btf ? notTargetBtf(vmlinux, target.btf) : undefined;
    if (stale && target.btf) {
      // raw BTF in a kbuild dir is a copy (ours, or a user's): replace a stale or corrupt one with the target's
      if (!stale.elf && writable(dir)) {
        copyFileSync(target.btf, vmlinux);
        actions.push(`replaced ${vmlinux} (${stale.why}) with the kernel's BTF ${target.btf}`);
      } else
        throw new ModuleError(
          `${vmlinux} is not the BTF of the target kernel ${target.release} (${stale.why}): module BTF built on it would name the wrong kernel types`,
          { hint: `replace it: cp ${target.btf} ${vmlinux}` },
        );
    }
  } else {
    if (!target.btf)
      throw new ModuleError(
        `kernel ${target.release}: no vmlinux in ${dir} and no BTF of that kernel known`,
        {
          hint: `copy the target kernel's /sys/kernel/btf/vmlinux to ${vmlinux} (kbuild skips module BTF without it)`,
        },
      );
    if (!writable(dir))
      throw new ModuleError(
        `${dir}: no vmlinux, and the directory is not writable to put the kernel's BTF there`,
        {
          hint: `as root: cp ${target.btf} ${vmlinux}`,
        },
      );
    try {
      copyFileSync(target.btf, vmlinux);
    } catch (e) {
      throw new ModuleError(`cannot copy the kernel's BTF ${target.btf} to ${vmlinux}`, {
        cause: e,
        hint: `as root: cp ${target.btf} ${vmlinux}`,
      });
    }
    actions.push(`copied the kernel's BTF ${target.btf} to ${vmlinux}`);
  }

  const rb = join(dir, RESOLVE_BTFIDS);
  if (!executable(rb)) {
    const donor = await findResolveBtfids(o);
    const dest = join(realpathSync(join(dir, "tools")), "bpf", "resolve_btfids", "resolve_btfids");
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(donor, dest);
    actions.push(`borrowed resolve_btfids from ${donor}`);
  }
  return { vmlinux, actions, warnings, paholeVersion: pahole };
}
