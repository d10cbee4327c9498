/**
 * One `kfunc test` run of the kernel's verifier selftests on the 6.12 guest, as the CI test, the bench and
 * the docs table use it: every progs/verifier_*.c of linux-source-6.12 (test/verifier-selftests/source.ts),
 * compiled with the selftests' flags and clang-19, run as prog_tests/verifier.c runs them — without
 * CAP_SYS_ADMIN, the `@unpriv` runs without test_loader's set as well — plus the deliberate fixture
 * (test/fixtures/verifier-selftests/deliberate.c). Two test workers in the guest (`guestJobs`).
 */
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultCacheDir, prepareKernel } from "../../src/kernels/index.ts";
import { runTests, type TestEvent, type TestOutcome, type TestRunResults } from "../../src/testing/index.ts";
import { type VerifierSelftests, verifierSelftests } from "./source.ts";

export const KERNEL = "debian:bookworm-backports";
export const CLANG = "clang-19";
/** Test workers in the guest: its vCPU count. */
export const GUEST_JOBS = 2;
export const DELIBERATE = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "fixtures",
  "verifier-selftests",
  "deliberate.c",
);
/** Where the last run's results are kept for scripts/verifier-table.mjs (docs/compat.md). */
export const LAST_RUN = () => join(defaultCacheDir(), "verifier-selftests", "last-run.json");

export interface SuiteRun {
  source: VerifierSelftests;
  results: TestRunResults;
  wallMs: number;
}

export async function runVerifierSelftests(
  o: { onEvent?: (e: TestEvent) => void; filter?: string; guestJobs?: number } = {},
): Promise<SuiteRun> {
  const cacheDir = defaultCacheDir();
  const kernel = await prepareKernel(KERNEL, { cacheDir });
  const source = await verifierSelftests(cacheDir, kernel.release);
  const t0 = performance.now();
  const results = await runTests({
    paths: [...source.sources, DELIBERATE],
    kernels: [KERNEL],
    modules: [],
    clang: CLANG,
    includeDirs: source.includeDirs,
    defines: source.defines,
    cflags: source.cflags,
    dropCaps: ["CAP_SYS_ADMIN"],
    // one test worker per vCPU of the guest (runInVm's default: 2; no kprobe attach here, so multi-threaded
    // TCG with 2 vCPUs is safe): the two 1M-instruction refusals then run beside the rest
    guestJobs: o.guestJobs ?? GUEST_JOBS,
    timeoutS: 1800,
    ...(o.filter ? { filter: o.filter } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
  });
  return { source, results, wallMs: Math.round(performance.now() - t0) };
}

/** The key a test has in known.json: `<file>: <title>` (title: the program, its description, " @unpriv"). */
export const keyOf = (t: Pick<TestOutcome, "file" | "title">) => `${basename(t.file)}: ${t.title}`;

export interface FileRow {
  file: string;
  pass: number;
  fail: number;
  skip: number;
  other: number;
}

/** pass / fail / skip per file, in file order. */
export function perFile(tests: TestOutcome[]): FileRow[] {
  const rows = new Map<string, FileRow>();
  for (const t of tests) {
    const f = basename(t.file);
    const r = rows.get(f) ?? { file: f, pass: 0, fail: 0, skip: 0, other: 0 };
    if (t.status === "pass") r.pass++;
    else if (t.status === "fail") r.fail++;
    else if (t.status === "skip") r.skip++;
    else r.other++;
    rows.set(f, r);
  }
  return [...rows.values()].sort((a, b) => a.file.localeCompare(b.file));
}

export function tableText(rows: FileRow[]): string {
  const w = Math.max(...rows.map((r) => r.file.length), 5);
  const line = (f: string, a: number | string, b: number | string, c: number | string, d: number | string) =>
    `${f.padEnd(w)} ${String(a).padStart(5)} ${String(b).padStart(5)} ${String(c).padStart(5)} ${String(d).padStart(6)}`;
  const sum = (k: keyof Omit<FileRow, "file">) => rows.reduce((n, r) => n + r[k], 0);
  return [
    line("file", "pass", "fail", "skip", "error"),
    ...rows.map((r) => line(r.file, r.pass, r.fail, r.skip, r.other)),
    line("total", sum("pass"), sum("fail"), sum("skip"), sum("other")),
  ].join("\n");
}
