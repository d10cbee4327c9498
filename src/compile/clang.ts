/**
 * Compiles eBPF C with clang (`-target bpf`), with the include paths eBPF programs need:
 * the multiarch asm/ headers, libbpf's bpf_helpers.h, and kfunc-kit's own headers (include/).
 * Compiler diagnostics come back as a KfuncKitError with file:line lines.
 */
import { spawnSync } from "node:child_process";
import { existsSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { EnvironmentError, ObjectError, UsageError } from "../errors.ts";

/** kfunc-kit's own eBPF headers (compat shims such as bpf_ksym_exists for libbpf < 1.2). */
export const KFUNC_KIT_INCLUDE = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "include");

export interface CompileBpfOptions {
  /** Output object path. */
  output: string;
  /** Extra -I directories (e.g. where a generated vmlinux.h or module header lives). */
  includeDirs?: string[];
  /** Extra -D defines ("NAME" or "NAME=VALUE"). */
  defines?: string[];
  /** Optimisation level, default 2 (the verifier needs optimised code). */
  optLevel?: 0 | 1 | 2;
  /** Extra clang arguments. */
  extraArgs?: string[];
  clang?: string;
}

export function clangArgs(source: string, options: CompileBpfOptions): string[] {
  const args = ["-target", "bpf", `-O${options.optLevel ?? 2}`, "-g", "-Wall", "-Wno-unused-variable"];
  args.push("-D__TARGET_ARCH_x86", "-D__x86_64__");
  for (const d of options.defines ?? []) args.push(`-D${d}`);
  for (const dir of options.includeDirs ?? []) args.push("-I", dir);
  args.push("-I", KFUNC_KIT_INCLUDE);
  if (existsSync("/usr/include/x86_64-linux-gnu")) args.push("-idirafter", "/usr/include/x86_64-linux-gnu");
  args.push(...(options.extraArgs ?? []), "-c", source, "-o", options.output);
  return args;
}

/** Compiles one eBPF C file; throws with the compiler's diagnostics on failure. */
export function compileBpf(source: string, options: CompileBpfOptions): string {
  const clang = options.clang ?? "clang";
  // clang takes anything that is not C (a .o, a directory) as linker input for -c, and exits 0 having
  // written nothing: only C sources go in
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(source);
  } catch {
    st = undefined;
  }
  if (!st) throw new UsageError(`eBPF source '${source}' does not exist`, { hint: "check the path" });
  if (st.isDirectory())
    throw new UsageError(`eBPF source '${source}' is a directory`, {
      hint: "name the C file inside it (kfunc build <dir>/prog.bpf.c)",
    });
  if (!source.endsWith(".c"))
    throw new UsageError(`eBPF source '${source}' is not a C file (.c)`, {
      hint: "kfunc build compiles eBPF C (prog.bpf.c); to look at a built object use kfunc inspect",
    });
  if (existsSync(options.output) && statSync(options.output).isDirectory())
    throw new UsageError(`output '${options.output}' is a directory`, {
      hint: "name the object file (-o <dir>/prog.bpf.o)",
    });
  // a stale object from an earlier build must not pass for this one
  rmSync(options.output, { force: true });
  const r = spawnSync(clang, clangArgs(source, options), { encoding: "utf8" });
  if (r.error) {
    throw new EnvironmentError(`cannot run ${clang}: ${r.error.message}`, {
      hint: "install clang: apt-get install clang (npm test / npm run demo install it when run as root)",
    });
  }
  if (r.status !== 0) {
    const diag = r.stderr
      .split("\n")
      .filter((l) => /(error|warning|note):/.test(l) || l.startsWith(" "))
      .slice(0, 40)
      .join("\n");
    throw new ObjectError(`compiling ${source} failed:\n${diag || r.stderr.trim()}`, {
      hint: compileHint(r.stderr),
    });
  }
  const after = existsSync(options.output) ? statSync(options.output) : undefined;
  if (!after?.isFile() || after.size === 0)
    throw new ObjectError(`compiling ${source}: ${clang} exited 0 but wrote no object ${options.output}`, {
      hint: `run it by hand to see why: ${clang} ${clangArgs(source, options).join(" ")}`,
    });
  return options.output;
}

/** A fix for the compile failures kfunc programs run into most. */
export function compileHint(stderr: string): string {
  if (/'vmlinux\.h' file not found/.test(stderr))
    return "`kfunc build` generates vmlinux.h for the target kernel (--kernel); with plain clang pass -I <dir with vmlinux.h>";
  if (/'[^']+\.kfuncs\.h' file not found/.test(stderr))
    return "pass the module: kfunc build <prog.bpf.c> --module <module dir> (after kfunc module build <module dir>)";
  if (/'bpf\/bpf_helpers\.h' file not found/.test(stderr))
    return "install libbpf's headers: apt-get install libbpf-dev";
  if (/'asm\/types\.h' file not found/.test(stderr))
    return "install the multiarch headers (apt-get install libc6-dev), or include vmlinux.h instead of linux/*.h";
  if (/conflicting types for '([^']+)'/.test(stderr))
    return "a prototype differs from the kernel's: include the generated <module>.kfuncs.h instead of retyping it";
  return "fix the errors above (file:line:column)";
}
