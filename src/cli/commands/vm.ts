import type { Command } from "commander";
import { UsageError } from "../../errors.ts";

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/**
 * Output for --json, lossless: a string when it is valid UTF-8, else base64 with `<name>Encoding:
 * "base64"` (JSON strings cannot carry arbitrary bytes).
 */
export function jsonBytes(name: string, bytes: Uint8Array): Record<string, string> {
  try {
    return { [name]: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { [name]: Buffer.from(bytes).toString("base64"), [`${name}Encoding`]: "base64" };
  }
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

interface RunFlags {
  kernel: string;
  headers?: string;
  mem: string;
  cpus: string;
  timeout: string;
  insmod?: string[];
  share?: string[];
  env?: string[];
  console?: boolean;
  cold?: boolean;
  json?: boolean;
  cache?: string;
}

export function register(program: Command): void {
  const vm = program
    .command("vm")
    .description("Boot a real Debian kernel under QEMU with the host root, and run a command in it");

  vm.command("run")
    .description("Run a command inside a VM; its stdout, stderr and exit code become ours")
    .argument("<command...>", "the command and its arguments (after --)")
    .option(
      "-k, --kernel <spec>",
      "debian:<suite>, debian:<release>, or a kernel image path",
      "debian:bookworm-backports",
    )
    .option("--headers <dir>", "kbuild headers dir for a local kernel image")
    .option("--mem <size>", "guest memory", "2G")
    .option("--cpus <n>", "guest vCPUs", "2")
    .option("--timeout <seconds>", "kill the VM after this long", "300")
    .option("--insmod <ko>", "load a kernel module before the command (repeatable)", collect)
    .option(
      "--share <dir>",
      "share a host dir read-write at the same path (repeatable; default: cwd)",
      collect,
    )
    .option("-e, --env <K=V>", "extra environment variable for the command (repeatable)", collect)
    .option("--console", "print the kernel console after the run")
    .option("--cold", "boot the kernel even when its saved VM state could be restored")
    .option("--json", "print one JSON result (stdout, stderr, exit code, console, timings)")
    .option("--cache <dir>", "cache dir (default $KFUNC_KIT_CACHE or ~/.cache/kfunc-kit)")
    .addHelpText("after", "\nExample:\n  kfunc vm run --insmod ./hello.ko -- bpftool prog list\n")
    .action(async (command: string[], flags: RunFlags) => {
      const { intOption, secondsOption } = await import("../options.ts");
      const cpus = intOption("--cpus", flags.cpus, 1, 255, "QEMU's pc machine has at most 255 vCPUs");
      const timeout = secondsOption("--timeout", flags.timeout) / 1000;
      const env: Record<string, string> = {};
      for (const kv of flags.env ?? []) {
        const eq = kv.indexOf("=");
        if (eq <= 0) throw new UsageError(`--env '${kv}': expected K=V`);
        env[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      const { createProgress } = await import("../progress.ts");
      const { prepareKernel, runInVm, VmError } = await import("../../qemu/index.ts");
      const { printJson } = await import("../json.ts");
      const progress = createProgress({ quiet: flags.json === true });
      const abort = new AbortController();
      let signalName: NodeJS.Signals | undefined;
      const onSignal = (s: NodeJS.Signals) => {
        if (abort.signal.aborted) process.exit(s === "SIGTERM" ? 143 : 130); // second Ctrl-C
        signalName = s;
        abort.abort();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      // `kfunc vm run -- … | head`: a closed stdout ends the VM like SIGPIPE would (exit 141, no trace)
      let pipeClosed = false;
      const onPipeError = (e: NodeJS.ErrnoException) => {
        if (e.code !== "EPIPE") throw e;
        pipeClosed = true;
        abort.abort();
      };
      process.stdout.on("error", onPipeError);
      try {
        const kernel = await prepareKernel(flags.kernel, {
          progress,
          ...(flags.cache ? { cacheDir: flags.cache } : {}),
          ...(flags.headers ? { headers: flags.headers } : {}),
        });
        const result = await runInVm({
          kernel,
          command,
          env,
          mem: flags.mem,
          cpus,
          timeoutMs: timeout * 1000,
          insmod: flags.insmod ?? [],
          shares: flags.share ?? [],
          ...(flags.cold ? { cold: true } : {}),
          signal: abort.signal,
          progress,
          ...(flags.cache ? { cacheDir: flags.cache } : {}),
          ...(flags.json
            ? {}
            : {
                onStdout: (b: Buffer) => process.stdout.write(b),
                onStderr: (b: Buffer) => process.stderr.write(b),
              }),
        });
        if (flags.json) {
          printJson({
            exitCode: result.exitCode,
            ...jsonBytes("stdout", result.stdoutBytes),
            ...jsonBytes("stderr", result.stderrBytes),
            console: result.console,
            timings: result.timings,
            kernel: { spec: kernel.spec, release: kernel.release },
            accel: result.accel,
            start: result.start,
            ...(result.insmodFailed ? { insmodFailed: result.insmodFailed } : {}),
          });
        } else if (flags.console) {
          process.stderr.write(
            `--- kernel console ---\n${result.console.trimEnd()}\n--- end of console ---\n`,
          );
        }
        process.exitCode = result.exitCode;
      } catch (e) {
        if (e instanceof VmError) {
          if (flags.json) {
            printJson({
              exitCode: null,
              error: e.message,
              reason: e.reason,
              stdout: e.stdout,
              stderr: e.stderr,
              console: e.console,
              timings: e.timings,
            });
          } else if (e.reason !== "aborted") {
            process.stderr.write(
              `--- kernel console (last 30 lines) ---\n${tail(e.console, 30)}\n--- end of console ---\n`,
            );
          }
          if (e.reason === "aborted" && pipeClosed) {
            process.exitCode = 141;
            return;
          }
          if (e.reason === "aborted") {
            process.stderr.write(`kfunc: ${e.message}\n`);
            process.exitCode = signalName === "SIGTERM" ? 143 : 130;
            return;
          }
          if (flags.json) {
            process.exitCode = 1;
            return;
          }
        }
        throw e;
      } finally {
        process.stdout.off("error", onPipeError);
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });

  vm.command("kernels")
    .description("List cached kernels and the Debian kernels available to `vm run --kernel`")
    .option("--json", "machine-readable output")
    .option("--refresh", "apt-get update the private apt config first")
    .option("--offline", "only list the cache (no apt)")
    .option("--cache <dir>", "cache dir (default $KFUNC_KIT_CACHE or ~/.cache/kfunc-kit)")
    .action(async (flags: { json?: boolean; refresh?: boolean; offline?: boolean; cache?: string }) => {
      const { listKernels } = await import("../../qemu/index.ts");
      const list = await listKernels({
        ...(flags.cache ? { cacheDir: flags.cache } : {}),
        ...(flags.refresh ? { refresh: true } : {}),
        ...(flags.offline ? { offline: true } : {}),
      });
      if (flags.json) {
        const { printJson } = await import("../json.ts");
        printJson(list);
        return;
      }
      const out: string[] = [`default: ${list.default}`, "", "cached:"];
      if (list.cached.length === 0) out.push("  (none)");
      for (const k of list.cached)
        out.push(`  debian:${k.release}  ${k.packageVersion ?? ""}${k.suite ? `  (from ${k.suite})` : ""}`);
      if (!flags.offline) {
        out.push("", "suites:");
        for (const s of list.suites)
          out.push(`  ${s.spec.padEnd(28)} → ${s.release}${s.cached ? "  (cached)" : ""}`);
        out.push("", `available releases (debian:<release>): ${list.available.length}`);
        for (const r of list.available) out.push(`  debian:${r}`);
      }
      process.stdout.write(`${out.join("\n")}\n`);
    });

  vm.command("prepare")
    .description("Download and unpack a kernel (no boot); print where its image, BTF and headers are")
    .option(
      "-k, --kernel <spec>",
      "debian:<suite>, debian:<release>, or a kernel image path",
      "debian:bookworm-backports",
    )
    .option("--headers <dir>", "kbuild headers dir for a local kernel image")
    .option("--json", "machine-readable output")
    .option("--cache <dir>", "cache dir (default $KFUNC_KIT_CACHE or ~/.cache/kfunc-kit)")
    .action(async (flags: { kernel: string; headers?: string; json?: boolean; cache?: string }) => {
      const { createProgress } = await import("../progress.ts");
      const { prepareKernel } = await import("../../qemu/index.ts");
      const k = await prepareKernel(flags.kernel, {
        progress: createProgress({ quiet: flags.json === true }),
        ...(flags.cache ? { cacheDir: flags.cache } : {}),
        ...(flags.headers ? { headers: flags.headers } : {}),
      });
      if (flags.json) {
        const { printJson } = await import("../json.ts");
        printJson(k);
        return;
      }
      const rows = [
        ["release", k.release],
        ["image", k.image],
        ["btf", k.btf],
        ["headers", k.headersDir ?? "(none)"],
        ["modules", k.modulesDir],
      ];
      process.stdout.write(`${rows.map(([a, b]) => `${a!.padEnd(8)} ${b}`).join("\n")}\n`);
    });
}
