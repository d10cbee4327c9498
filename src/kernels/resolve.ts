/**
 * The one `--kernel` resolver, for every verb that builds for a kernel (`kfunc module build`, `kfunc
 * build`, and the library's buildModule/buildProgram). Accepted forms:
 *
 * | form | what it gives |
 * |---|---|
 * | `host` | the running kernel: release, `/lib/modules/<release>/build`, /sys/kernel/btf/vmlinux |
 * | `debian`, `debian:<suite>`, `debian:<release>` | a Debian kernel prepared by {@link prepareKernel} (cached) |
 * | a directory | a kernel build dir: include/config/kernel.release, its `vmlinux` (BTF) if present |
 * | a file | a BTF file or an ELF vmlinux carrying .BTF (only its BTF is used) |
 *
 * Without a choice the default depends on what is needed, and is the same for every verb: the host,
 * unless modules are needed and the host cannot load them — then the default QEMU kernel. So a module
 * built by `kfunc module build X` and a program built by `kfunc build --module X` target the same kernel.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { hostCanLoadModules, hostRelease, VMLINUX_BTF_PATH } from "../kernel/host.ts";
import { type KernelVersion, parseKernelVersion } from "../kernel-version.ts";
import type { Progress } from "../progress.ts";
import { DEFAULT_KERNEL } from "./debian.ts";
import type { PreparedKernel } from "./types.ts";

/** What the caller will do with the kernel: compile against its BTF, or build and load modules for it. */
export type KernelNeed = "btf" | "modules";

export interface ResolvedKernel {
  /** What was asked for, or the default that was chosen ("host", "debian:bookworm-backports", a path). */
  spec: string;
  kind: "host" | "debian" | "build-dir" | "file";
  /** `uname -r` of the kernel; undefined when the form does not say (a BTF file, an unconfigured tree). */
  release: string | undefined;
  version: KernelVersion | undefined;
  /** The kbuild dir (kernel headers); undefined when there is none. */
  headersDir: string | undefined;
  /** The kernel's vmlinux BTF (raw BTF, or an ELF carrying .BTF); undefined when unknown. */
  btf: string | undefined;
  /** The Debian kernel, for `debian:` forms. */
  prepared: PreparedKernel | undefined;
  /** Why this kernel (printed when the user did not name one). */
  reason: string;
  /** Whether the kernel was chosen by default. */
  defaulted: boolean;
}

export interface ResolveKernelOptions {
  /** Default "btf". */
  needs?: KernelNeed | undefined;
  progress?: Progress | undefined;
  cacheDir?: string | undefined;
}

export const KERNEL_FORMS = "host, debian:<suite|release>, a kernel build dir, or a BTF file";

/** The kernel chosen when none is named, and why. */
export function defaultKernel(needs: KernelNeed = "btf"): { spec: string; reason: string } {
  if (needs === "btf") return { spec: "host", reason: "the host kernel (the default)" };
  const host = hostCanLoadModules();
  if (host.ok) return { spec: "host", reason: `the host kernel (${host.why})` };
  return {
    spec: DEFAULT_KERNEL,
    reason: `the host kernel ${hostRelease()} cannot load modules (${host.why}): building for the default QEMU kernel ${DEFAULT_KERNEL}`,
  };
}

/** Resolves `--kernel` (or the default for `needs`); throws UsageError for a form it does not know. */
export async function resolveKernel(
  spec: string | undefined,
  o: ResolveKernelOptions = {},
): Promise<ResolvedKernel> {
  const chosen = spec === undefined ? defaultKernel(o.needs) : { spec, reason: `--kernel ${spec}` };
  const r = await resolveSpec(chosen.spec, o);
  return { ...r, spec: chosen.spec, reason: r.reason ?? chosen.reason, defaulted: spec === undefined };
}

type Resolved = Omit<ResolvedKernel, "spec" | "reason" | "defaulted"> & { reason?: string };

async function resolveSpec(spec: string, o: ResolveKernelOptions): Promise<Resolved> {
  if (spec === "host") {
    const release = hostRelease();
    const headers = `/lib/modules/${release}/build`;
    return {
      kind: "host",
      release,
      version: parseKernelVersion(release),
      headersDir: existsSync(join(headers, "Makefile")) ? headers : undefined,
      btf: existsSync(VMLINUX_BTF_PATH) ? VMLINUX_BTF_PATH : undefined,
      prepared: undefined,
    };
  }
  if (spec === "debian" || spec.startsWith("debian:")) {
    const { prepareKernel } = await import("./kernel.ts");
    const k = await prepareKernel(spec, {
      ...(o.progress ? { progress: o.progress } : {}),
      ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
    });
    // the package version (6.1.192-2) is more precise than the release (6.1.0-41-amd64)
    return {
      kind: "debian",
      release: k.release,
      version: k.version,
      headersDir: k.headersDir,
      btf: k.btf,
      prepared: k,
    };
  }
  if (existsSync(spec) && statSync(spec).isDirectory()) {
    const dir = resolve(spec);
    let release: string | undefined;
    try {
      release = readFileSync(join(dir, "include", "config", "kernel.release"), "utf8").trim();
    } catch {
      release = undefined;
    }
    const vmlinux = join(dir, "vmlinux");
    const btf = existsSync(vmlinux)
      ? vmlinux
      : release === hostRelease() && existsSync(VMLINUX_BTF_PATH)
        ? VMLINUX_BTF_PATH
        : undefined;
    return {
      kind: "build-dir",
      release,
      version: release === undefined ? undefined : parseKernelVersion(release),
      headersDir: existsSync(join(dir, "Makefile")) ? dir : undefined,
      btf,
      prepared: undefined,
      reason: `kernel build dir ${dir}`,
    };
  }
  if (existsSync(spec))
    return {
      kind: "file",
      release: undefined,
      version: undefined,
      headersDir: undefined,
      btf: resolve(spec),
      prepared: undefined,
    };
  throw new UsageError(`--kernel '${spec}': not ${KERNEL_FORMS}`, {
    hint: "e.g. --kernel debian:bookworm-backports, --kernel debian:bookworm, --kernel /lib/modules/$(uname -r)/build",
  });
}
