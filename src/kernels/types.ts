import { type KernelVersion, parseKernelVersion as parseVersion } from "../kernel-version.ts";
import type { Progress } from "../progress.ts";

export type { KernelVersion };

/** A kernel ready to boot: unpacked, with its ELF vmlinux and raw BTF extracted. */
export interface PreparedKernel {
  /** What was asked for: `debian:bookworm-backports`, `debian:6.1.0-50-amd64`, or an image path. */
  spec: string;
  /** `uname -r` of the kernel, e.g. `6.12.95+deb12-amd64`. */
  release: string;
  version: KernelVersion;
  /** The dir packages were unpacked into (`dpkg -x` target); for a local image, its cache dir. */
  root: string;
  /** What QEMU boots: the ELF vmlinux when extracted (PVH entry, faster), else the bzImage. */
  image: string;
  vmlinuxElf: string | undefined;
  /** The kernel's raw vmlinux BTF (== its /sys/kernel/btf/vmlinux). */
  btf: string;
  /** kbuild dir (`linux-headers-<release>`) with its Makefile include fixed; undefined without headers. */
  headersDir: string | undefined;
  /** `lib/modules/<release>` (may not exist for a local image with everything built in). */
  modulesDir: string;
}

export interface PrepareKernelOptions {
  /** Cache root (default `$KFUNC_KIT_CACHE` or ~/.cache/kfunc-kit). */
  cacheDir?: string;
  progress?: Progress;
  /** Headers dir for a local kernel image. */
  headers?: string;
  /** Run `apt-get update` on the private apt config even when lists exist. */
  refresh?: boolean;
}

/** `6.12.95-1~bpo12+1` or `6.12.95+deb12-amd64` into numbers; 0.0.0 when there are none. */
export function parseKernelVersion(s: string): KernelVersion {
  return parseVersion(s) ?? { major: 0, minor: 0, patch: 0 };
}
