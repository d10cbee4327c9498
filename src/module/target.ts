/**
 * Which kernel a module is built for: `host` (the running kernel, /lib/modules/$(uname -r)/build),
 * `debian:<suite|release>` (prepared by src/qemu) or a kernel build dir. Without a choice: the host when it
 * can load modules, otherwise the default QEMU kernel — and the result says which and why.
 */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { ModuleError, UsageError } from "../errors.ts";
import { hostCanLoadModules, hostKernelConfig, VMLINUX_BTF_PATH } from "../kernel/host.ts";
import type { Progress } from "../progress.ts";
import { type KernelVersion, parseRelease } from "./kernel-features.ts";

export { hostCanLoadModules, hostKernelConfig };

export interface ModuleTarget {
  /** What was asked for ("host", "debian:bookworm", a path) or chosen by default. */
  spec: string;
  kind: "host" | "debian" | "path";
  release: string;
  version: KernelVersion;
  /** The kernel build dir kbuild runs in. */
  headersDir: string;
  /** The target kernel's raw vmlinux BTF (or an ELF carrying .BTF); undefined when unknown. */
  btf: string | undefined;
  /** Why this kernel was chosen (printed when the user did not name one). */
  reason: string;
}

export interface ResolveTargetOptions {
  progress?: Progress | undefined;
  cacheDir?: string | undefined;
}

/** @deprecated VMLINUX_BTF_PATH (src/kernel/host.ts). */
export const HOST_BTF = VMLINUX_BTF_PATH;

function versionOf(release: string, where: string): KernelVersion {
  const v = parseRelease(release);
  if (!v)
    throw new ModuleError(`${where}: cannot read a kernel version from '${release}'`, {
      hint: "pass a kernel build dir with include/config/kernel.release",
    });
  return v;
}

/**
 * Resolves `--kernel` (or the default) into a kernel build dir, version and vmlinux BTF, through the one
 * resolver (src/kernels/resolve.ts) with `needs: "modules"`: `kfunc build --module` picks the same kernel.
 */
export async function resolveTarget(
  spec: string | undefined,
  o: ResolveTargetOptions = {},
): Promise<ModuleTarget> {
  const { resolveKernel } = await import("../kernels/resolve.ts");
  if (spec !== undefined && spec !== "host" && spec !== "debian" && !spec.startsWith("debian:")) {
    if (existsSync(spec) && !statSync(spec).isDirectory())
      throw new UsageError(`--kernel '${spec}': not host, debian:<suite|release>, or a kernel build dir`, {
        hint: "e.g. --kernel debian:bookworm-backports, --kernel debian:bookworm, --kernel /lib/modules/$(uname -r)/build",
      });
    if (existsSync(spec) && !existsSync(join(spec, "Makefile")))
      throw new UsageError(`--kernel '${spec}': not a kernel build dir (no Makefile)`, {
        hint: "pass host, debian:<suite|release>, or a kernel build dir such as /lib/modules/<release>/build",
      });
  }
  const k = await resolveKernel(spec, { needs: "modules", progress: o.progress, cacheDir: o.cacheDir });
  if (k.kind === "host" && !k.headersDir) {
    throw new ModuleError(`host kernel ${k.release}: no kernel headers at /lib/modules/${k.release}/build`, {
      hint: `install them (apt-get install linux-headers-${k.release}), or build for a QEMU kernel: --kernel debian:bookworm-backports`,
    });
  }
  if (k.kind === "debian" && !k.headersDir)
    throw new ModuleError(`kernel ${k.release} (${k.spec}): no kernel headers were unpacked`, {
      hint: "the Debian archive has no linux-headers package for this release; pick another: --kernel debian:bookworm-backports",
    });
  if (k.kind === "build-dir" && k.release === undefined)
    throw new ModuleError(`kernel build dir '${resolve(k.spec)}': no include/config/kernel.release`, {
      hint: "is the tree configured and prepared (make modules_prepare)?",
    });
  const release = k.release!;
  return {
    spec: k.spec,
    kind: k.kind === "build-dir" ? "path" : k.kind === "debian" ? "debian" : "host",
    release,
    version: k.version ?? versionOf(release, k.kind === "host" ? "host kernel" : resolve(k.spec)),
    headersDir: k.headersDir!,
    btf: k.btf,
    reason: k.reason,
  };
}
