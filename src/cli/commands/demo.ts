import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("demo")
    .description(
      "the reference scenario end to end: build the hello kfunc module and kfunc.bpf.c, boot a Debian kernel under QEMU, insmod, load + attach with kfunc-kit's loader, rm files → Result: 10, rmmod",
    )
    .option(
      "--kernel <spec>",
      "debian:bookworm-backports (default), debian:<release>, a kernel image, or host",
    )
    .option("--files <n>", "how many files to rm", "3")
    .option("--json", "print the result as JSON (no progress)")
    .action(async (opts: { kernel?: string; files: string; json?: boolean }) => {
      const { intOption } = await import("../options.ts");
      const files = intOption("--files", opts.files, 1, 100, "rm runs in the demo");
      const { createProgress } = await import("../progress.ts");
      const { runDemo } = await import("../../demo/demo.ts");
      const progress = createProgress({ quiet: opts.json === true });
      const t0 = performance.now();
      const result = await runDemo({
        ...(opts.kernel ? { kernel: opts.kernel } : {}),
        files,
        progress,
        ...(opts.json ? { onOutput: () => {} } : {}),
      });
      const total = Math.round(performance.now() - t0);
      if (opts.json) {
        const { printJson } = await import("../json.ts");
        printJson({ ...result, totalMs: total });
      } else {
        const s = result.summary;
        const lines = [
          "",
          `kfunc demo on ${result.kernel}: ${result.ok ? "PASSED" : "FAILED"} in ${(total / 1000).toFixed(1)} s`,
          `  module loaded: ${s?.moduleLoaded ? "yes" : "no"}; programs attached: ${s?.attached.join(", ") || "none"}`,
          `  rm runs: ${s?.rmPids.length ?? 0}; trace lines with Result: 10: ${s?.results.filter((r) => r === 10).length ?? 0}`,
          `  rmmod while attached: ${s?.rmmodWhileAttached || "-"}; rmmod after detach: ${s?.rmmodAfter || "-"}`,
          `  steps: ${Object.entries(result.steps)
            .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
            .join(", ")}`,
        ];
        for (const f of s?.failures ?? []) lines.push(`  ✖ ${f}`);
        process.stdout.write(`${lines.join("\n")}\n`);
      }
      if (!result.ok) process.exitCode = 1;
    });
}
