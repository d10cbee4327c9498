import type { Command } from "commander";

interface BuildOpts {
  kernel?: string;
  json?: boolean;
  out?: string;
  btfGuarantee?: boolean;
}

interface HeaderOpts {
  base?: string;
  weak?: boolean;
  output?: string;
}

export function register(program: Command): void {
  const module = program.command("module").description("kfunc kernel modules: build them with working BTF");
  module
    .command("build")
    .description(
      "build a kfunc module (kfunc.json + kfunc bodies, or a hand-written Kbuild/Makefile module) for a kernel, with module BTF guaranteed and checked",
    )
    .argument("<dir>", "the module directory")
    .option(
      "--kernel <kernel>",
      "host | debian:<suite|release> | <kernel build dir> (default: the host if it can load modules, else the default QEMU kernel)",
    )
    .option("--out <dir>", "build directory (default <dir>/build/<release>)")
    .option(
      "--no-btf-guarantee",
      "build with the kernel build dir as it is (no vmlinux/resolve_btfids fix-ups)",
    )
    .option("--json", "print the result as JSON")
    .action(async (dir: string, opts: BuildOpts) => {
      const { buildModule } = await import("../../module/index.ts");
      const { createProgress } = await import("../progress.ts");
      const progress = createProgress({ quiet: opts.json === true });
      const r = await buildModule(dir, {
        kernel: opts.kernel,
        progress,
        outDir: opts.out,
        btfGuarantee: opts.btfGuarantee !== false,
      });
      if (opts.json) {
        const { printJson } = await import("../json.ts");
        printJson(r);
        return;
      }
      const out: string[] = [`built ${r.ko} for Linux ${r.kernel}`];
      if (opts.kernel === undefined) out.push(`  target: ${r.target.reason}`);
      for (const s of r.sets)
        out.push(`  kfunc set '${s.name}': ${s.count} kfunc${s.count === 1 ? "" : "s"}, all resolved`);
      const width = Math.min(70, Math.max(0, ...r.kfuncs.map((k) => k.prototype.length)));
      for (const k of r.kfuncs)
        out.push(
          `    ${k.prototype.padEnd(width)}${k.flags.length ? `  ${k.flags.map((f) => `KF_${f}`).join(" | ")}` : ""}`.trimEnd(),
        );
      out.push(`  prototypes for eBPF programs: ${r.header}`);
      for (const w of r.warnings) out.push(`  warning: ${w}`);
      process.stdout.write(`${out.join("\n")}\n`);
    });
  module
    .command("header")
    .description("print `extern … __ksym;` prototypes of a built module's kfuncs (from its BTF)")
    .argument("<ko>", "a kernel module built with BTF")
    .option(
      "--base <btf>",
      "the target kernel's vmlinux BTF (default: the host's when the module was built for it, else that kernel's from the kfunc-kit cache)",
    )
    .option("--weak", "declare the kfuncs __weak (probe them with bpf_ksym_exists)")
    .option("-o, --output <file>", "write the header to a file instead of stdout")
    .action(async (ko: string, opts: HeaderOpts) => {
      const { readInputFile, writeOutputFile } = await import("../../files.ts");
      const { parseBtf } = await import("../../btf/index.ts");
      const { generateKfuncHeader, moduleHeaderBase } = await import("../../module/index.ts");
      const bytes = readInputFile(ko, "module");
      const base = moduleHeaderBase(bytes, ko, opts.base);
      if (base.note) process.stderr.write(`kfunc: ${base.note}\n`);
      const text = generateKfuncHeader(
        bytes,
        parseBtf(readInputFile(base.path, "base BTF"), { source: base.path }),
        { weak: opts.weak === true, source: ko },
      );
      if (opts.output) writeOutputFile(opts.output, text, "output file");
      else process.stdout.write(text);
    });
}
