import type { Command } from "commander";

interface BuildOpts {
  output?: string;
  kernel?: string;
  module?: string[];
  include?: string[];
  define?: string[];
  json?: boolean;
  skeleton?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function register(program: Command): void {
  program
    .command("build")
    .description(
      "compile an eBPF C program for a kernel: vmlinux.h from its BTF (cached), libbpf headers, kfunc_kit.h and the modules' <name>.kfuncs.h",
    )
    .argument("<source>", "the eBPF C file (prog.bpf.c)")
    .option("-o, --output <file>", "the object to write (default: prog.bpf.o next to the source)")
    .option(
      "--kernel <kernel>",
      "host | debian:<suite|release> | <kernel build dir> | <BTF file> (default: the host; with --module, the kernel `kfunc module build` picks by default)",
    )
    .option(
      "--module <dir>",
      "a kfunc module dir (built with kfunc module build) whose kfuncs.h to use; repeatable",
      collect,
    )
    .option("-I, --include <dir>", "extra include dir; repeatable", collect)
    .option("-D, --define <macro>", "extra define NAME or NAME=VALUE; repeatable", collect)
    .option("--skeleton", "also write the object's typed TypeScript skeleton (<name>.skel.ts beside it)")
    .option("--json", "print the result as JSON")
    .action(async (source: string, opts: BuildOpts) => {
      const { buildProgram } = await import("../../compile/program.ts");
      const { createProgress } = await import("../progress.ts");
      const r = await buildProgram(source, {
        output: opts.output,
        kernel: opts.kernel,
        modules: opts.module,
        includeDirs: opts.include,
        defines: opts.define,
        progress: createProgress({ quiet: opts.json === true }),
      });
      let skeleton: string[] | undefined;
      if (opts.skeleton) {
        const { writeSkeleton } = await import("../../skeleton/files.ts");
        skeleton = writeSkeleton(r.object).files;
      }
      if (opts.json) {
        const { printJson } = await import("../json.ts");
        printJson(skeleton ? { ...r, skeleton } : r);
      } else process.stdout.write(`${[r.object, ...(skeleton ?? [])].join("\n")}\n`);
    });
}
