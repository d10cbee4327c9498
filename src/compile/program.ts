/**
 * `buildProgram(source, { kernel, modules })`: compiles eBPF C for a target kernel with the include paths a
 * kfunc program needs — vmlinux.h printed from that kernel's BTF (cached), libbpf's headers, kfunc-kit's
 * include/kfunc_kit.h, and the `<module>.kfuncs.h` prototype header of each module it calls.
 */
import { existsSync, readdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { ModuleError, UsageError } from "../errors.ts";
import type { Progress } from "../progress.ts";
import { compileBpf } from "./clang.ts";
import { vmlinuxHeader } from "./vmlinux-h.ts";

export interface BuildProgramOptions {
  /** Output object (default: `<source minus .c>.o`, so `prog.bpf.c` → `prog.bpf.o`). */
  output?: string | undefined;
  /**
   * `host`, `debian:<suite|release>`, a kernel build dir, or a BTF / ELF vmlinux file. Default: the host,
   * or with `modules` the kernel `kfunc module build` defaults to (src/kernels/resolve.ts).
   */
  kernel?: string | undefined;
  /** Module dirs (their `build/<release>/*.kfuncs.h`) or dirs holding a `*.kfuncs.h`. */
  modules?: string[] | undefined;
  includeDirs?: string[] | undefined;
  defines?: string[] | undefined;
  cacheDir?: string | undefined;
  progress?: Progress | undefined;
}

export interface BuiltProgram {
  object: string;
  /** The BTF vmlinux.h was printed from. */
  kernelBtf: string;
  /** Kernel release when known (Debian kernels, host). */
  release: string | undefined;
  vmlinuxH: string;
  /** The module prototype headers on the include path. */
  moduleHeaders: string[];
  includeDirs: string[];
}

interface KernelBtf {
  btf: string;
  release: string | undefined;
  reason: string;
  defaulted: boolean;
}

/**
 * The target kernel's BTF through the one resolver (src/kernels/resolve.ts). With modules to call, the
 * default is the one `kfunc module build` uses (the kernel the modules were built for).
 */
async function kernelBtf(spec: string | undefined, o: BuildProgramOptions): Promise<KernelBtf> {
  const { resolveKernel } = await import("../kernels/resolve.ts");
  const k = await resolveKernel(spec, {
    needs: (o.modules?.length ?? 0) > 0 ? "modules" : "btf",
    progress: o.progress,
    cacheDir: o.cacheDir,
  });
  if (!k.btf) {
    if (k.kind === "build-dir")
      throw new UsageError(
        `--kernel '${k.spec}': a kernel build dir without vmlinux (no BTF to print vmlinux.h from)`,
        { hint: "put the kernel's BTF there as vmlinux, or pass the BTF file itself" },
      );
    throw new UsageError(
      `--kernel '${k.spec}': kernel ${k.release ?? ""} has no BTF to print vmlinux.h from`,
      {
        hint: "is the kernel built with CONFIG_DEBUG_INFO_BTF=y? pass --kernel debian:bookworm-backports to use a QEMU kernel's",
      },
    );
  }
  return { btf: k.btf, release: k.release, reason: k.reason, defaulted: k.defaulted };
}

function headersIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".kfuncs.h")) : [];
}

/** The directory with a module's `<name>.kfuncs.h` for this kernel. */
function moduleHeaderDir(dir: string, release: string | undefined): { dir: string; headers: string[] } {
  const abs = resolve(dir);
  const direct = headersIn(abs);
  if (direct.length) return { dir: abs, headers: direct.map((h) => join(abs, h)) };
  const builds = join(abs, "build");
  const candidates = release
    ? [join(builds, release)]
    : existsSync(builds)
      ? readdirSync(builds).map((r) => join(builds, r))
      : [];
  const found = candidates.filter((c) => headersIn(c).length > 0);
  if (found.length === 1)
    return { dir: found[0]!, headers: headersIn(found[0]!).map((h) => join(found[0]!, h)) };
  if (found.length > 1)
    throw new UsageError(
      `--module '${dir}': built for several kernels (${found.map((f) => basename(f)).join(", ")})`,
      {
        hint: "name the kernel with --kernel, or pass the build dir itself",
      },
    );
  throw new ModuleError(`--module '${dir}': no *.kfuncs.h${release ? ` for ${release}` : ""}`, {
    hint: `build the module first: kfunc module build ${dir}${release ? " --kernel <the same kernel>" : ""}`,
  });
}

export function defaultOutput(source: string): string {
  return source.endsWith(".c") ? `${source.slice(0, -2)}.o` : `${source}.o`;
}

/** Compiles one eBPF C file for the target kernel; throws with file:line diagnostics on failure. */
export async function buildProgram(source: string, o: BuildProgramOptions = {}): Promise<BuiltProgram> {
  if (!existsSync(source))
    throw new UsageError(`eBPF source '${source}' does not exist`, { hint: "check the path" });
  const cacheDir = o.cacheDir ?? (await import("../host/cache.ts")).defaultCacheDir();
  const k = await kernelBtf(o.kernel, o);
  if (k.defaulted) o.progress?.note(`kernel: ${k.reason}`);
  o.progress?.step("vmlinux.h for the target kernel");
  let vm: ReturnType<typeof vmlinuxHeader>;
  try {
    vm = vmlinuxHeader(k.btf, cacheDir);
  } catch (e) {
    o.progress?.fail();
    throw e;
  }
  o.progress?.succeed(`vmlinux.h ${vm.fresh ? "printed" : "cached"}: ${vm.header}`);
  const moduleHeaders: string[] = [];
  const includeDirs = [dirname(resolve(source)), vm.dir];
  for (const m of o.modules ?? []) {
    const found = moduleHeaderDir(m, k.release);
    includeDirs.push(found.dir);
    moduleHeaders.push(...found.headers);
  }
  includeDirs.push(...(o.includeDirs ?? []));
  const output = o.output ?? defaultOutput(source);
  o.progress?.step(`compiling ${source}`);
  try {
    compileBpf(source, { output, includeDirs, defines: o.defines ?? [] });
  } catch (e) {
    o.progress?.fail();
    throw e;
  }
  o.progress?.succeed(`compiled ${output}`);
  return {
    object: output,
    kernelBtf: k.btf,
    release: k.release,
    vmlinuxH: vm.header,
    moduleHeaders,
    includeDirs,
  };
}
