import type { Command } from "commander";

const MARK = { ok: "✔", warn: "⚠", fail: "✖", skip: "–" } as const;

export function register(program: Command): void {
  program
    .command("doctor")
    .description("check this host for kfunc work: kernel, BTF, modules, kprobes, trampolines, tools, QEMU")
    .option("--json", "print the report as JSON")
    .action(async (opts: { json?: boolean }) => {
      const { runDoctor } = await import("../../module/doctor.ts");
      const r = await runDoctor();
      if (opts.json) {
        const { printJson } = await import("../json.ts");
        printJson(r);
        return;
      }
      const out = [`kfunc doctor: Linux ${r.kernel}`, ""];
      const width = Math.max(...r.checks.map((c) => c.title.length));
      for (const c of r.checks) {
        out.push(`${MARK[c.status]} ${c.title.padEnd(width)}  ${c.detail}`);
        if (c.fix) out.push(`  ${" ".repeat(width)}  fix: ${c.fix}`);
      }
      out.push("", ...r.summary.map((s) => `• ${s}`));
      process.stdout.write(`${out.join("\n")}\n`);
    });
}
