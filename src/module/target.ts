/**
 * Which kernel a module is built for: `host` (the running kernel, /lib/modules/$(uname -r)/build),
 * `debian:<suite|release>` (prepared by src/qemu) or a kernel build dir. Without a choice: the host when it
 * can load modules, otherwise the default QEMU kernel — and the result says which and why.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { release as osRelease } from "node:os";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { ModuleError, UsageError } from "../errors.ts";
import type { Progress } from "../progress.ts";
import { type KernelVersion, parseRelease } from "./kernel-features.ts";

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

export const HOST_BTF = "/sys/kernel/btf/vmlinux";

/** Reads the running kernel's config from /proc/config.gz or /boot/config-<release>. */
export function hostKernelConfig(release = osRelease()): { text: string; source: string } | undefined {
  try {
    return { text: gunzipSync(readFileSync("/proc/config.gz")).toString("utf8"), source: "/proc/config.gz" };
  } catch {}
  const boot = `/boot/config-${release}`;
  try {
    return { text: readFileSync(boot, "utf8"), source: boot };
  } catch {}
  return undefined;
}

/** Whether the running kernel can load modules, with the evidence. */
export function hostCanLoadModules(): { ok: boolean; why: string } {
  if (!existsSync("/proc/modules"))
    return { ok: false, why: "no /proc/modules: the host kernel is built without CONFIG_MODULES" };
  const config = hostKernelConfig();
  if (config && !/^CONFIG_MODULES=y$/m.test(config.text))
    return { ok: false, why: `CONFIG_MODULES is not set in ${config.source}` };
  return { ok: true, why: "/proc/modules exists" };
}

function versionOf(release: string, where: string): KernelVersion {
  const v = parseRelease(release);
  if (!v)
    throw new ModuleError(`${where}: cannot read a kernel version from '${release}'`, {
      hint: "pass a kernel build dir with include/config/kernel.release",
    });
  return v;
}

function hostTarget(spec: string, reason: string): ModuleTarget {
  const release = osRelease();
  const headersDir = `/lib/modules/${release}/build`;
  if (!existsSync(join(headersDir, "Makefile"))) {
    throw new ModuleError(`host kernel ${release}: no kernel headers at ${headersDir}`, {
      hint: `install them (apt-get install linux-headers-${release}), or build for a QEMU kernel: --kernel debian:bookworm-backports`,
    });
  }
  return {
    spec,
    kind: "host",
    release,
    version: versionOf(release, "host kernel"),
    headersDir,
    btf: existsSync(HOST_BTF) ? HOST_BTF : undefined,
    reason,
  };
}

function pathTarget(spec: string): ModuleTarget {
  const dir = resolve(spec);
  if (!existsSync(join(dir, "Makefile")))
    throw new UsageError(`--kernel '${spec}': not a kernel build dir (no Makefile)`, {
      hint: "pass host, debian:<suite|release>, or a kernel build dir such as /lib/modules/<release>/build",
    });
  const relFile = join(dir, "include", "config", "kernel.release");
  let release: string;
  try {
    release = readFileSync(relFile, "utf8").trim();
  } catch {
    throw new ModuleError(`kernel build dir '${dir}': no include/config/kernel.release`, {
      hint: "is the tree configured and prepared (make modules_prepare)?",
    });
  }
  let btf: string | undefined;
  if (existsSync(join(dir, "vmlinux"))) btf = join(dir, "vmlinux");
  else if (release === osRelease() && existsSync(HOST_BTF)) btf = HOST_BTF;
  return {
    spec,
    kind: "path",
    release,
    version: versionOf(release, dir),
    headersDir: dir,
    btf,
    reason: `kernel build dir ${dir}`,
  };
}

async function debianTarget(spec: string, reason: string, o: ResolveTargetOptions): Promise<ModuleTarget> {
  const { prepareKernel } = await import("../qemu/index.ts");
  const k = await prepareKernel(spec, {
    ...(o.progress ? { progress: o.progress } : {}),
    ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
  });
  if (!k.headersDir)
    throw new ModuleError(`kernel ${k.release} (${spec}): no kernel headers were unpacked`, {
      hint: "the Debian archive has no linux-headers package for this release; pick another: --kernel debian:bookworm-backports",
    });
  // The package version (6.1.192-2) is more precise than the release (6.1.0-41-amd64).
  return {
    spec,
    kind: "debian",
    release: k.release,
    version: k.version,
    headersDir: k.headersDir,
    btf: k.btf,
    reason,
  };
}

/** Resolves `--kernel` (or the default) into a kernel build dir, version and vmlinux BTF. */
export async function resolveTarget(
  spec: string | undefined,
  o: ResolveTargetOptions = {},
): Promise<ModuleTarget> {
  if (spec === undefined) {
    const host = hostCanLoadModules();
    if (host.ok) return hostTarget("host", `the host kernel (${host.why})`);
    const { DEFAULT_KERNEL } = await import("../qemu/index.ts");
    return debianTarget(
      DEFAULT_KERNEL,
      `the host kernel ${osRelease()} cannot load modules (${host.why}): building for the default QEMU kernel ${DEFAULT_KERNEL}`,
      o,
    );
  }
  if (spec === "host") return hostTarget(spec, "--kernel host");
  if (spec === "debian" || spec.startsWith("debian:")) return debianTarget(spec, `--kernel ${spec}`, o);
  if (existsSync(spec) && statSync(spec).isDirectory()) return pathTarget(spec);
  throw new UsageError(`--kernel '${spec}': not host, debian:<suite|release>, or a kernel build dir`, {
    hint: "e.g. --kernel debian:bookworm-backports, --kernel debian:bookworm, --kernel /lib/modules/$(uname -r)/build",
  });
}
