import { existsSync } from "node:fs";
import type { Command } from "commander";
import type { Btf } from "../../btf/index.ts";
import { readInputFile, readInputText } from "../../files.ts";
import { VMLINUX_BTF_PATH } from "../../kernel/host.ts";
import { printJson } from "../json.ts";

const VMLINUX_BTF = VMLINUX_BTF_PATH;
const EM_BPF = 247;

export function register(program: Command): void {
  program
    .command("inspect")
    .description(
      "show what an eBPF object (.o) or kernel module (.ko) contains: programs, maps, globals, kfuncs",
    )
    .argument("<file>", "an eBPF object built with clang -target bpf -g, or a kernel module (.ko)")
    .option("--json", "print the report as JSON")
    .option(
      "--base <file>",
      "base BTF for a module's split BTF (default: its .BTF.base, else /sys/kernel/btf/vmlinux)",
    )
    .action(async (file: string, opts: { json?: boolean; base?: string }) => {
      await inspectFile(file, opts);
    });
}

function read(file: string, what: string): Uint8Array {
  return readInputFile(file, what);
}

/**
 * Parameter names for kfunc prototypes: clang keeps none for externs, so read them from the C source the
 * object names in its line info, when that file is still there.
 */
async function paramNameSource(spec: import("../../object/index.ts").ObjectSpec) {
  const { paramNamesFromC } = await import("../../object/param-names.ts");
  const files = new Set<string>();
  for (const infos of spec.btfExt?.lineInfo.values() ?? []) for (const l of infos) files.add(l.fileName);
  const texts: string[] = [];
  for (const f of files) {
    try {
      if (f && existsSync(f)) texts.push(readInputText(f, "source"));
    } catch {
      // an unreadable source only costs the parameter names
    }
  }
  if (texts.length === 0) return undefined;
  return (name: string, count: number) => {
    for (const t of texts) {
      const names = paramNamesFromC(t, name, count);
      if (names) return names;
    }
    return undefined;
  };
}

async function inspectFile(file: string, opts: { json?: boolean; base?: string }): Promise<void> {
  const bytes = read(file, "file");
  const le = bytes[5] !== 2;
  const machine =
    bytes.length >= 20 ? (le ? bytes[18]! | (bytes[19]! << 8) : (bytes[18]! << 8) | bytes[19]!) : 0;
  if (machine === EM_BPF) {
    const { parseObject } = await import("../../object/index.ts");
    const { objectReport } = await import("../../object/report.ts");
    const { formatObjectReport } = await import("../../object/report-text.ts");
    const spec = parseObject(bytes, file);
    const report = objectReport(spec, await paramNameSource(spec));
    if (opts.json) printJson(report);
    else process.stdout.write(`${formatObjectReport(report)}\n`);
    return;
  }
  const { parseKernelModule } = await import("../../object/index.ts");
  const { parseBtf } = await import("../../btf/index.ts");
  const { moduleReport } = await import("../../object/report.ts");
  const { formatModuleReport } = await import("../../object/report-text.ts");
  const mod = parseKernelModule(bytes, file);
  let base: string | undefined;
  let problem: string | undefined;
  let moduleBtf: Btf | undefined;
  if (mod.btf) {
    let baseBtf: Btf | undefined;
    if (opts.base) {
      base = opts.base;
      baseBtf = parseBtf(read(opts.base, "base BTF"), { source: opts.base });
    } else if (mod.btfBase) {
      base = ".BTF.base";
      baseBtf = parseBtf(mod.btfBase, { source: `${file}: .BTF.base` });
    } else if (existsSync(VMLINUX_BTF)) {
      base = VMLINUX_BTF;
      baseBtf = parseBtf(read(VMLINUX_BTF, "base BTF"), { source: VMLINUX_BTF });
    } else problem = `no base BTF: pass --base <vmlinux BTF> (${VMLINUX_BTF} is missing)`;
    try {
      if (baseBtf) moduleBtf = parseBtf(mod.btf, { base: baseBtf, source: `${file}: .BTF` });
    } catch (e) {
      problem = `the module's BTF does not parse on base ${base}: the base does not match the kernel the module was built for (${e instanceof Error ? e.message : String(e)})`;
    }
  }
  const report = moduleReport(mod, moduleBtf, base, problem);
  if (opts.json) printJson(report);
  else process.stdout.write(`${formatModuleReport(report)}\n`);
}
