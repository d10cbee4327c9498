import { existsSync } from "node:fs";
import type { Command } from "commander";
import type { Btf } from "../../btf/index.ts";
import { BtfError, UsageError } from "../../errors.ts";
import { readInputFile } from "../../files.ts";
import { VMLINUX_BTF_PATH } from "../../kernel/host.ts";

const VMLINUX_BTF = VMLINUX_BTF_PATH;
const SYSFS_BTF = "/sys/kernel/btf/";
const EM_BPF = 247;
const FORMATS = ["c", "raw", "json"] as const;
type Format = (typeof FORMATS)[number];

interface DumpOpts {
  base?: string;
  format: string;
  scope: string;
  kfuncs: boolean;
}

export function register(program: Command): void {
  const btf = program
    .command("btf")
    .description("work with BTF (kernel, module and eBPF object type information)");
  btf
    .command("dump")
    .description("print BTF as a C header (vmlinux.h with kfunc prototypes), bpftool's raw text, or JSON")
    .argument("<file>", "raw BTF (/sys/kernel/btf/*), an eBPF object (.o) or a kernel module (.ko)")
    .option(
      "--base <file>",
      "base BTF for split BTF (default for a .ko: its .BTF.base, else /sys/kernel/btf/vmlinux)",
    )
    .option("--format <format>", "c | raw | json", "c")
    .option("--scope <scope>", "split BTF, format c: own (module types and what they need) | all", "own")
    .option("--no-kfuncs", "format c: leave out the `extern … __ksym` kfunc prototypes")
    .action(async (file: string, opts: DumpOpts) => {
      await dump(file, opts);
    });
}

function read(file: string, what: string): Uint8Array {
  if (file === VMLINUX_BTF && !existsSync(file))
    throw new UsageError(`${what} '${file}' does not exist`, {
      hint: "this kernel has no BTF (CONFIG_DEBUG_INFO_BTF=n)",
    });
  return readInputFile(file, what);
}

async function dump(file: string, opts: DumpOpts): Promise<void> {
  if (!FORMATS.includes(opts.format as Format))
    throw new UsageError(`unknown format '${opts.format}'`, { hint: `use one of: ${FORMATS.join(", ")}` });
  if (opts.scope !== "own" && opts.scope !== "all")
    throw new UsageError(`unknown scope '${opts.scope}'`, { hint: "use own or all" });
  const btf = await loadBtf(file, opts.base);
  if (opts.format === "c") {
    const { dumpCBytes } = await import("../../btf/c-printer.ts");
    const bytes = dumpCBytes(btf, { scope: opts.scope, kfuncPrototypes: opts.kfuncs });
    process.stdout.write(bytes);
  } else if (opts.format === "raw") {
    const { dumpRaw } = await import("../../btf/dump-raw.ts");
    process.stdout.write(dumpRaw(btf));
  } else {
    const { dumpJson } = await import("../../btf/dump-json.ts");
    process.stdout.write(`${dumpJson(btf, 2)}\n`);
  }
  // bench/btf-dump.ts reads the peak RSS this way (no /usr/bin/time here)
  if (process.env["KFUNC_KIT_REPORT_MAXRSS"])
    process.stderr.write(`maxrss_kb=${process.resourceUsage().maxRSS}\n`);
}

/** Loads BTF from raw BTF, an eBPF object or a kernel module, with the right base for split BTF. */
export async function loadBtf(file: string, baseOpt: string | undefined): Promise<Btf> {
  const bytes = read(file, "file");
  // the parser alone, not the whole btf index (writer, builder, .BTF.ext): startup time counts here
  const [{ parseBtf }, { parseBtfHeader }] = await Promise.all([
    import("../../btf/btf.ts"),
    import("../../btf/header.ts"),
  ]);
  const loadBase = (path: string): Btf => parseBtf(read(path, "base BTF"), { source: path });
  if (bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    const { parseElf } = await import("../../elf/index.ts");
    const elf = parseElf(bytes, file);
    const isModule =
      elf.section(".modinfo") !== undefined || elf.section(".gnu.linkonce.this_module") !== undefined;
    const sec = elf.section(".BTF");
    if (!sec)
      throw new BtfError(file, undefined, "no .BTF section", {
        hint: isModule
          ? "the module was built without BTF: the kernel needs CONFIG_DEBUG_INFO_BTF_MODULES, pahole must be installed, and the kbuild dir needs a vmlinux (kfunc module build takes care of it)"
          : elf.machine === EM_BPF
            ? "compile the eBPF object with -g (clang -target bpf -g -O2)"
            : "this ELF file carries no BTF",
      });
    if (!isModule && !baseOpt) return parseBtf(sec.data, { source: `${file}: .BTF` });
    let base: Btf;
    let baseName: string;
    if (baseOpt) {
      base = loadBase(baseOpt);
      baseName = baseOpt;
    } else {
      const distilled = elf.section(".BTF.base");
      if (distilled) {
        base = parseBtf(distilled.data, { source: `${file}: .BTF.base` });
        baseName = ".BTF.base";
      } else if (existsSync(VMLINUX_BTF)) {
        base = loadBase(VMLINUX_BTF);
        baseName = VMLINUX_BTF;
      } else
        throw new BtfError(file, undefined, "module BTF is split BTF and needs a base, but there is none", {
          hint: `pass --base <the target kernel's vmlinux BTF> (${VMLINUX_BTF} does not exist here)`,
        });
    }
    const mismatch = (cause: unknown) =>
      new BtfError(file, undefined, `the module's BTF does not fit base '${baseName}'`, {
        cause,
        hint: "pass --base with the vmlinux BTF of the kernel the module was built for",
      });
    let split: Btf;
    try {
      split = parseBtf(sec.data, { base, source: `${file}: .BTF` });
    } catch (e) {
      throw mismatch(e);
    }
    const { flatOf } = await import("../../btf/c-flat.ts");
    const bad = flatOf(split).misplacedName();
    if (bad !== undefined)
      throw mismatch(new Error(`type [${bad}]: a name points into the middle of a base string`));
    return split;
  }
  const isBtf = (bytes[0] === 0x9f && bytes[1] === 0xeb) || (bytes[0] === 0xeb && bytes[1] === 0x9f);
  if (!isBtf)
    throw new BtfError(file, undefined, "neither raw BTF nor an ELF object/module", {
      hint: "pass /sys/kernel/btf/<name>, a .BTF section dumped to a file, an eBPF object (.o) or a module (.ko)",
    });
  const isSysfsModule = file.startsWith(SYSFS_BTF) && file !== VMLINUX_BTF;
  const basePath = baseOpt ?? (isSysfsModule ? VMLINUX_BTF : undefined);
  if (basePath) return parseBtf(bytes, { base: loadBase(basePath), source: file });
  try {
    return parseBtf(bytes, { source: file });
  } catch (e) {
    // split BTF's string section continues the base's, so its first byte is not the empty string
    let split = false;
    try {
      const h = parseBtfHeader(bytes, file);
      split = h.strLen > 0 && bytes[h.strStart] !== 0;
    } catch {
      // not BTF at all: the original error says why
    }
    if (split)
      throw new BtfError(file, undefined, "this is split BTF (a module's) and needs its base", {
        cause: e,
        hint: `pass --base ${VMLINUX_BTF} (or the vmlinux BTF of the kernel it belongs to)`,
      });
    throw e;
  }
}
