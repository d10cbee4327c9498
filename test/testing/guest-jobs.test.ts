/**
 * `guestJobs` (`kfunc test --guest-jobs N`) on the host kernel (the host runner path is the guest runner's):
 * two worker processes give the same verdicts, in the same report order, as one process, on a suite with
 * passes, skips and deliberate failures; the run really is spread over two workers; each test's duration is
 * kept per kernel release for the next run's order; and a worker that dies in a test fails that test (the
 * others still run) instead of hanging the run; workers that cannot start at all leave every test not run,
 * with their error; the CLI flag checks its value.
 *
 * The worker pids and the crashes come from a wrapper around the real runner bundle: the wrapper notes its
 * pid when it runs as a worker, and can SIGKILL itself right after a given test's `start` record, or exit
 * before it starts — a worker
 * dying (a crash in native code, the OOM killer) cannot be provoked on purpose by a test program here.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { pathToFileURL } from "node:url";
import { readDurations, schedule } from "../../src/testing/durations.ts";
import { runTests, type TestOutcome, type TestRunResults } from "../../src/testing/index.ts";
import { bundleForGuest } from "../../src/testing/run.ts";
import { FIXTURES_DIR, REPO_ROOT, rootSkip } from "../helpers/index.ts";

const DIR = join(FIXTURES_DIR, "testing");
const PATHS = [join(DIR, "suite.test.bpf.c"), join(DIR, "selftests_style.test.bpf.c")];
const why = rootSkip("to load eBPF programs on the host");

let tmp: string;
let wrapper: string;
let pidFile: string;
let one: TestRunResults;

const verdicts = (tests: TestOutcome[]) =>
  tests.map((t) => `${t.file} | ${t.title}: ${t.status}${t.failure ? ` (${t.failure.kind})` : ""}`);

before(async () => {
  if (why) return;
  tmp = mkdtempSync(join(tmpdir(), "kfunc-guest-jobs-"));
  const bundle = bundleForGuest(
    join(REPO_ROOT, "src", "testing", "guest.ts"),
    `guest-jobs-test-${process.pid}`,
  );
  pidFile = join(tmp, "worker-pids");
  wrapper = join(tmp, "wrapped-runner.mjs");
  writeFileSync(
    wrapper,
    `import { appendFileSync } from "node:fs";
if (process.argv[3] === "--worker") {
  appendFileSync(${JSON.stringify(pidFile)}, process.pid + "\\n");
  if (process.env.KFUNC_TEST_WORKER_EXIT) {
    process.stderr.write("worker: cannot start (deliberate)\\n");
    process.exit(3);
  }
  const crashAt = process.env.KFUNC_TEST_CRASH_AT;
  if (crashAt) {
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (chunk, ...rest) => {
      const r = write(chunk, ...rest);
      const s = String(chunk);
      if (s.includes('"type":"start"') && s.includes(JSON.stringify(crashAt))) process.kill(process.pid, "SIGKILL");
      return r;
    };
  }
}
await import(${JSON.stringify(pathToFileURL(bundle).href)});
`,
  );
  one = await runTests({ paths: PATHS, host: true, guestScript: wrapper });
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test("the slowest known tests start first; tests without a duration first of all, in file order", () => {
  const items = [
    { file: 0, title: "a", source: "/s/x.c" },
    { file: 0, title: "b", source: "/s/x.c" },
    { file: 1, title: "c", source: "/s/y.c" },
    { file: 1, title: "d", source: "/s/y.c", exclusive: true },
  ];
  assert.deepEqual(
    schedule(items, {}).map((i) => i.title),
    ["a", "b", "c", "d"],
  );
  assert.deepEqual(
    schedule(items, { "/s/x.c": { a: 1, b: 70_000 }, "/s/y.c": { d: 5 } }).map((i) => i.title),
    ["c", "b", "d", "a"],
  );
  assert.deepEqual(schedule(items, {})[3], { file: 1, title: "d", exclusive: true });
});

test("guestJobs 2: the same verdicts in the same order as guestJobs 1, from two worker processes", {
  skip: why,
}, async () => {
  assert.equal(one.kernels[0]!.error, undefined);
  assert.equal(existsSync(pidFile), false, "guestJobs 1 runs the tests in the runner itself");
  const cacheDir = join(tmp, "cache");
  const two = await runTests({ paths: PATHS, host: true, guestJobs: 2, guestScript: wrapper, cacheDir });
  const a = one.kernels[0]!.tests;
  const b = two.kernels[0]!.tests;
  assert.ok(a.length >= 15, `only ${a.length} tests`);
  assert.ok(a.some((t) => t.status === "fail") && a.some((t) => t.status === "pass"));
  assert.deepEqual(verdicts(b), verdicts(a));
  assert.deepEqual(
    b.map((t) => t.failure?.expected),
    a.map((t) => t.failure?.expected),
  );
  assert.deepEqual(two.summary, one.summary);
  const pids = readFileSync(pidFile, "utf8").trim().split("\n");
  assert.equal(new Set(pids).size, 2, `worker pids: ${pids.join(" ")}`);
  // the durations were kept for the next run's order, per test, under the kernel's release
  const d = readDurations(cacheDir, release());
  assert.equal(
    Object.values(d).reduce((n, perTitle) => n + Object.keys(perTitle).length, 0),
    b.length,
  );
  assert.equal(typeof d[PATHS[0]!]?.["returns_42"], "number");
});

test("a worker that dies in a test fails that test; the other tests still run, nothing hangs", {
  skip: why,
  timeout: 120_000,
}, async () => {
  process.env["KFUNC_TEST_CRASH_AT"] = "returns_42";
  let r: TestRunResults;
  try {
    r = await runTests({ paths: PATHS, host: true, guestJobs: 2, guestScript: wrapper, timeoutS: 100 });
  } finally {
    delete process.env["KFUNC_TEST_CRASH_AT"];
  }
  const tests = r.kernels[0]!.tests;
  const crashed = tests.find((t) => t.title === "returns_42")!;
  assert.equal(crashed.status, "fail");
  assert.equal(crashed.failure?.kind, "crash");
  assert.match(crashed.failure!.got, /the test worker \(pid \d+\) died while it ran \(killed by SIGKILL\)/);
  const expected = one.kernels[0]!.tests.map((t) =>
    t.title === "returns_42" ? { ...t, status: "fail" as const, failure: crashed.failure! } : t,
  );
  assert.deepEqual(verdicts(tests), verdicts(expected));
  assert.equal(r.summary.notRun, 0);
});

test("workers that cannot start: every test is reported not run with the workers' error, nothing hangs", {
  skip: why,
  timeout: 120_000,
}, async () => {
  process.env["KFUNC_TEST_WORKER_EXIT"] = "1";
  let r: TestRunResults;
  try {
    r = await runTests({ paths: PATHS, host: true, guestJobs: 2, guestScript: wrapper, timeoutS: 100 });
  } finally {
    delete process.env["KFUNC_TEST_WORKER_EXIT"];
  }
  const tests = r.kernels[0]!.tests;
  assert.equal(tests.length, one.kernels[0]!.tests.length);
  assert.equal(r.summary.notRun, tests.length);
  assert.match(
    tests[0]!.reason ?? "",
    /the test process exited \(1\): .*worker: cannot start \(deliberate\)/,
  );
  assert.equal(r.ok, false);
});

test("the CLI: --guest-jobs takes a positive integer (exit 2 otherwise), and runs the tests with it", {
  skip: why,
}, () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), ...args], {
      encoding: "utf8",
      cwd: REPO_ROOT,
    });
  const bad = cli(["test", "--host", "--guest-jobs", "0", PATHS[0]!]);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /--guest-jobs '0': expected a positive integer/);
  const good = cli([
    "test",
    "--host",
    "--guest-jobs",
    "2",
    "--filter",
    "^(returns_42|regex_msg)$",
    PATHS[0]!,
  ]);
  assert.equal(good.status, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /kfunc test: 2 passed, 0 failed/);
});
