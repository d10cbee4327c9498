/** `kfunc test [paths…]`: run annotated eBPF test programs against a kfunc module on one or more kernels. */
import { writeFileSync } from "node:fs";
import type { Command } from "commander";

interface TestCliOptions {
  module?: string[];
  kernel?: string[];
  host?: boolean;
  filter?: string;
  reporter?: string;
  output?: string;
  json?: boolean;
  jobs?: string;
  guestJobs?: string;
  timeout?: string;
  clang?: string;
  include?: string[];
  define?: string[];
  cflags?: string;
  dropCap?: string[];
  shard?: string;
  uvm?: boolean;
  interp?: boolean;
  kfuncs?: string;
  btf?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function register(program: Command): void {
  program
    .command("test")
    .description(
      "run eBPF test programs annotated like the kernel selftests (__success, __failure, __msg, __retval) against a kfunc module, on every kernel given",
    )
    .argument(
      "[paths...]",
      "test files (*.test.bpf.c, *.bpf.o) or dirs (their *.test.bpf.c and tests/); default: .",
    )
    .option(
      "-m, --module <dir>",
      "module dir (kfunc.json or Kbuild); default: next to the tests (repeatable)",
      collect,
    )
    .option(
      "-k, --kernel <spec>",
      "kernel (debian:bookworm-backports, debian:bookworm, …; repeatable)",
      collect,
    )
    .option("--host", "run on the host kernel (no VM)")
    .option("--filter <regex>", "only tests whose name (and description) match")
    .option("--reporter <name>", "spec, tap or junit", "spec")
    .option("-o, --output <file>", "write the tap/junit report to a file (spec stays on the terminal)")
    .option("--json", "print the structured results as JSON")
    .option("-j, --jobs <n>", "kernels run at once (default: one per host core, over --guest-jobs)")
    .option(
      "--guest-jobs <n>",
      "test worker processes per kernel, taking tests from one queue, slowest first (default 1; the VM has 2 vCPUs)",
    )
    .option("--timeout <s>", "per-kernel run timeout in seconds (default 300); a hang fails the running test")
    .option("--clang <path>", "clang to compile the tests with")
    .option("-I, --include <dir>", "include dir for compiling test sources (repeatable)", collect)
    .option("-D, --define <name[=value]>", "define for compiling test sources (repeatable)", collect)
    .option("--cflags <flags>", 'more clang flags for test sources, space-separated (e.g. "-mcpu=v3")')
    .option(
      "--drop-cap <cap>",
      "run the privileged tests without this capability too (CAP_SYS_ADMIN, as the kernel's prog_tests/verifier.c does; repeatable)",
      collect,
    )
    .option("--shard <i/n>", "run only shard i of n of the kernel × file grid (CI matrices)")
    .option(
      "--uvm",
      "run the __retval tests in the userspace runtime (no kernel); verifier-only tests are skips",
    )
    .option("--interp", "with --uvm: use the interpreter instead of the JIT")
    .option("--kfuncs <file>", "with --uvm: a module whose named exports implement the tests' kfuncs")
    .option("--btf <file>", "with --uvm: BTF for vmlinux.h and CO-RE (default /sys/kernel/btf/vmlinux)")
    .action(async (paths: string[], opts: TestCliOptions) => {
      await testCommand(paths, opts);
    });
}

async function testCommand(paths: string[], opts: TestCliOptions): Promise<void> {
  const { UsageError } = await import("../../errors.ts");
  const reporter = opts.reporter ?? "spec";
  if (!["spec", "tap", "junit"].includes(reporter))
    throw new UsageError(`--reporter '${reporter}': expected spec, tap or junit`);
  const num = (v: string | undefined, what: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what} '${v}': expected a positive integer`);
    return n;
  };
  const jobs = num(opts.jobs, "--jobs");
  const guestJobs = num(opts.guestJobs, "--guest-jobs");
  const timeoutS = num(opts.timeout, "--timeout");
  const { runTests, specLine, failureDetail, matrix, summaryLine, tap, junit } = await import(
    "../../testing/index.ts"
  );
  const { createProgress } = await import("../progress.ts");
  const quiet = !!opts.json || (reporter !== "spec" && !opts.output);
  const progress = createProgress({ quiet: !!opts.json });
  const say = (s: string) => {
    if (!quiet) process.stdout.write(`${s}\n`);
  };
  const ac = new AbortController();
  const onSigint = () => {
    process.stderr.write("\nkfunc test: interrupted; stopping QEMU and printing what ran\n");
    ac.abort();
  };
  process.once("SIGINT", onSigint);
  if ((opts.kfuncs || opts.btf || opts.interp) && !opts.uvm)
    throw new UsageError("--kfuncs, --btf and --interp go with --uvm");
  if (opts.uvm && (opts.kernel || opts.host || opts.module || opts.shard || opts.jobs || opts.guestJobs))
    throw new UsageError(
      "--uvm runs in userspace: it takes no --kernel, --host, --module, --shard, --jobs or --guest-jobs",
    );
  let results: Awaited<ReturnType<typeof runTests>>;
  try {
    if (opts.uvm) {
      const { runUvmTests } = await import("../../testing/uvm.ts");
      say("uvm (userspace runtime)");
      results = await runUvmTests({
        paths,
        kfuncs: opts.kfuncs,
        filter: opts.filter,
        clang: opts.clang,
        btf: opts.btf,
        engine: opts.interp ? "interp" : "jit",
        onResult: (t) => {
          say(specLine(t));
          if (t.status === "fail" || t.status === "error") say(failureDetail(t));
        },
      });
    } else
      results = await runTests({
        paths,
        ...(opts.module ? { modules: opts.module } : {}),
        ...(opts.kernel ? { kernels: opts.kernel } : {}),
        ...(opts.host ? { host: true } : {}),
        ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
        ...(jobs ? { jobs } : {}),
        ...(guestJobs ? { guestJobs } : {}),
        ...(timeoutS ? { timeoutS } : {}),
        ...(opts.clang ? { clang: opts.clang } : {}),
        ...(opts.include ? { includeDirs: opts.include } : {}),
        ...(opts.define ? { defines: opts.define } : {}),
        ...(opts.cflags ? { cflags: opts.cflags.split(/\s+/).filter(Boolean) } : {}),
        ...(opts.dropCap ? { dropCaps: opts.dropCap } : {}),
        ...(opts.shard ? { shard: opts.shard } : {}),
        progress,
        signal: ac.signal,
        onEvent: (e) => {
          if (e.type === "kernel")
            say(`${e.release ?? e.spec}${e.release && e.spec !== e.release ? ` (${e.spec})` : ""}`);
          else if (e.type === "kernel-error") say(`  ✖ ${e.kernel}: ${e.error}`);
          else if (e.type === "output") {
            if (!quiet) process.stderr.write(`  | ${e.text}`);
          } else if (e.type === "test") {
            say(specLine(e.outcome));
            if (e.outcome.status === "fail" || e.outcome.status === "error") say(failureDetail(e.outcome));
          }
        },
      });
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
  if (opts.json) {
    const { printJson } = await import("../json.ts");
    printJson(results);
  } else {
    const report = reporter === "tap" ? tap(results) : reporter === "junit" ? junit(results) : undefined;
    if (report && opts.output) writeFileSync(opts.output, report);
    else if (report) process.stdout.write(report);
    if (!quiet) {
      say("");
      say(matrix(results));
      say("");
      say(summaryLine(results));
    } else process.stderr.write(`${summaryLine(results)}\n`);
  }
  if (!opts.json && reporter === "spec" && opts.output)
    writeFileSync(opts.output, `${matrix(results)}\n${summaryLine(results)}\n`);
  process.exitCode = results.ok ? 0 : 1;
}
