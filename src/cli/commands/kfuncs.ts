import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { UsageError } from "../../errors.ts";
import { readInputFile } from "../../files.ts";
import { VMLINUX_BTF_PATH } from "../../kernel/host.ts";
import { printJson } from "../json.ts";

const SYSFS_BTF = "/sys/kernel/btf";
const VMLINUX_BTF = VMLINUX_BTF_PATH;

const NO_TAGS =
  "this kernel's BTF has no bpf_kfunc decl tags: kfuncs are only tagged since Linux 6.11 built with pahole >= 1.27";
const NO_TAGS_HOW =
  "the kfuncs still exist: for a module, `kfunc inspect <module>.ko` reads its kfunc sets from .BTF_ids; for vmlinux, look for the BTF_KFUNCS_START/BTF_SET8_START sets in the kernel source (`grep -rn BTF_ID_FLAGS kernel/ net/`) and declare them yourself with `extern … __ksym`";

interface KfuncsOpts {
  json?: boolean;
  module?: string;
}

export function register(program: Command): void {
  program
    .command("kfuncs")
    .description("list the running kernel's kfuncs (vmlinux and every module with BTF) with C prototypes")
    .option("--module <name>", "only this BTF object (a module name, or vmlinux)")
    .option("--json", "print as JSON")
    .action(async (opts: KfuncsOpts) => {
      await listKfuncs(opts);
    });
}

async function listKfuncs(opts: KfuncsOpts): Promise<void> {
  if (!existsSync(VMLINUX_BTF))
    throw new UsageError(`${VMLINUX_BTF} does not exist: this kernel has no BTF`, {
      hint: "kfuncs need a kernel built with CONFIG_DEBUG_INFO_BTF=y",
    });
  const { parseBtf } = await import("../../btf/btf.ts");
  const { findKfuncs, hasKfuncTags } = await import("../../btf/kfuncs.ts");
  const names = readdirSync(SYSFS_BTF)
    .filter((n) => n !== "vmlinux")
    .sort();
  if (opts.module && opts.module !== "vmlinux" && !names.includes(opts.module))
    throw new UsageError(`no BTF for module '${opts.module}' in ${SYSFS_BTF}`, {
      hint: names.length
        ? `is it loaded? modules with BTF: ${names.slice(0, 20).join(", ")}${names.length > 20 ? ", …" : ""}`
        : "no module has BTF loaded (is CONFIG_DEBUG_INFO_BTF_MODULES set, or CONFIG_MODULES off?)",
    });
  const vmlinux = parseBtf(readInputFile(VMLINUX_BTF, "vmlinux BTF"), { source: VMLINUX_BTF });
  const tagged = hasKfuncTags(vmlinux);
  const objects: { name: string; kfuncs: ReturnType<typeof findKfuncs> }[] = [];
  const wanted = opts.module ? [opts.module] : ["vmlinux", ...names];
  for (const name of wanted) {
    if (name === "vmlinux") {
      objects.push({ name, kfuncs: findKfuncs(vmlinux) });
      continue;
    }
    const path = `${SYSFS_BTF}/${name}`;
    const btf = parseBtf(readInputFile(path, "module BTF"), { base: vmlinux, source: path });
    objects.push({ name, kfuncs: findKfuncs(btf) });
  }
  const release = existsSync("/proc/sys/kernel/osrelease")
    ? readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()
    : undefined;
  if (opts.json) {
    printJson({
      kernel: release,
      tagged,
      ...(tagged ? {} : { note: `${NO_TAGS}; ${NO_TAGS_HOW}` }),
      objects: objects.map((o) => ({ name: o.name, count: o.kfuncs.length, kfuncs: o.kfuncs })),
    });
    return;
  }
  if (!tagged) {
    process.stderr.write(
      `kfunc: ${NO_TAGS}${release ? ` (running ${release})` : ""}\n  hint: ${NO_TAGS_HOW}\n`,
    );
    return;
  }
  const lines: string[] = [];
  for (const o of objects) {
    if (o.kfuncs.length === 0 && !opts.module) continue;
    lines.push(`${o.name}: ${o.kfuncs.length} kfunc${o.kfuncs.length === 1 ? "" : "s"}`);
    for (const k of o.kfuncs) lines.push(`  ${k.fastcall ? "__bpf_fastcall " : ""}${k.prototype};`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}
