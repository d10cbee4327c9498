/** What `kfunc test` reports: the records the guest streams and the structured result of a run. */

export type TestStatus = "pass" | "fail" | "skip" | "error" | "not-run";

export interface TestFailure {
  /** What went wrong: the load, a refusal that did not come, a `__msg`, an `__xlated`, the retval, a printk line, a crash. */
  kind: "load" | "not-refused" | "msg" | "xlated" | "retval" | "printk" | "test-run" | "crash" | "error";
  expected: string;
  got: string;
  /** The verifier log excerpt (the lines around the failure), when there is one. */
  log?: string[];
  /** The C source line of the failing instruction (from BTF line info). */
  sourceLine?: string;
  /** kfunc-kit's explanation of the verifier's refusal. */
  hint?: string;
}

/** One test's outcome on one kernel: a record of the guest protocol (`type: "test"`). */
export interface TestOutcome {
  /** The test file (source, or object) as given. */
  file: string;
  program: string;
  /** The program's name, then its `__description` when it has one (and " @unpriv" for that run). */
  title: string;
  status: TestStatus;
  /** Why it was skipped, not run, or errored. */
  reason?: string;
  failure?: TestFailure;
  /** Load + verify + test-run, ms (guest clock). */
  durationMs: number;
  retval?: number;
}

/** Guest protocol records (src/qemu/result-channel.ts), in the order they come. */
export type GuestRecord =
  | {
      type: "ready";
      release: string;
      startMs: number;
      /** When the runner's main() began (node's start-up + loading the bundle), and when the warm-up ended. */
      mainMs?: number;
      warmMs?: number;
    }
  | { type: "start"; file: string; program: string; title: string }
  | ({ type: "test" } & TestOutcome)
  | { type: "file-error"; file: string; message: string }
  | { type: "done"; count: number };

/** What the guest runner is told to do (a JSON file, argv[2]). */
export interface GuestPlan {
  files: { file: string; object: string }[];
  /** Only tests whose title matches (a RegExp source). */
  filter?: string;
  /** Also note each start and verdict in the kernel log (VM runs: the console survives a panic). */
  kmsg?: boolean;
  /** Capabilities (numbers) every run goes without (`dropCaps`). */
  dropCaps?: number[];
  /**
   * VM runs: set `kernel.unprivileged_bpf_disabled` to 0 (Debian boots with 2) so that the `@unpriv` runs
   * can load, as the kernel's BPF CI configures its VMs.
   */
  allowUnprivileged?: boolean;
  /**
   * Test worker processes (default 1: every test in the runner's own process). With more, the runner forks
   * that many workers and hands out `queue` from one queue as they finish (src/testing/guest-workers.ts).
   */
  jobs?: number;
  /** With `jobs` > 1: every test run, in the order to start them (longest known first). */
  queue?: WorkItem[];
}

/** One test run to hand to a worker: the plan's file index and the run's title. */
export interface WorkItem {
  file: number;
  title: string;
  /** Runs with no other test at once (a `__printk` test: the kernel's one trace buffer is shared). */
  exclusive?: boolean;
}

/** Prefix of the runner's kernel-log lines (`kfunc-test: start {…}`, `kfunc-test: result {…}`). */
export const KMSG_TAG = "kfunc-test: ";

export interface KernelColumn {
  /** The spec asked for (`debian:bookworm`). */
  spec: string;
  /** Its release (`6.1.0-50-amd64`) once known. */
  release: string | undefined;
  /** The whole column failed before tests could run (build, boot, insmod). */
  error?: string;
  tests: TestOutcome[];
  /** ms: prepare, module build, compile, boot (QEMU start → guest runner ready), tests, total. */
  timings: Record<string, number>;
}

export interface TestRunSummary {
  passed: number;
  failed: number;
  skipped: number;
  errors: number;
  notRun: number;
  total: number;
}

export interface TestRunResults {
  kernels: KernelColumn[];
  summary: TestRunSummary;
  ok: boolean;
  durationMs: number;
}

/** Capability numbers (linux/capability.h) of the sets test_loader drops (`dropCaps`, the `@unpriv` runs). */
export const CAPS: Record<string, number> = {
  CAP_NET_ADMIN: 12,
  CAP_SYS_ADMIN: 21,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
};
