/**
 * `kfunc test` in QEMU: the kfunc-zoo and seed suites, the deliberate-failure suite, a selftests-style file
 * and a test that panics the guest on 6.12, with 6.1's column failing at the module build (the hand-written
 * seed module uses 6.9+ kbuild macros and registers KPROBE kfuncs, which 6.1 cannot); the kfunc-zoo matrix
 * (`kfunc test examples/kfunc-zoo --kernel debian:bookworm --kernel debian:bookworm-backports`) passing on
 * both; `kfunc new` + `kfunc test` passing on 6.1 and 6.12 with JUnit output; Ctrl-C during a run stops
 * QEMU and prints the partial report.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { junit, matrix, runTests, type TestRunResults } from "../../src/testing/index.ts";
import { FIXTURES_DIR, REPO_ROOT } from "../helpers/index.ts";

const ZOO = join(REPO_ROOT, "examples", "kfunc-zoo");
const SEED = join(REPO_ROOT, "examples", "seed");
const DIR = join(FIXTURES_DIR, "testing");
const OLD = "debian:bookworm";
const NEW = "debian:bookworm-backports";
let r: TestRunResults;
const work = mkdtempSync(join(tmpdir(), "kfunc-test-vm-"));

before(async () => {
  r = await runTests({
    paths: [
      ZOO,
      SEED,
      join(DIR, "suite.test.bpf.c"),
      join(DIR, "selftests_style.test.bpf.c"),
      join(DIR, "crashmod"),
    ],
    modules: [ZOO, SEED, join(DIR, "crashmod")],
    kernels: [OLD, NEW],
  });
});
after(() => rmSync(work, { recursive: true, force: true }));

const col = (spec: string) => r.kernels.find((k) => k.spec === spec)!;
const outcome = (spec: string, file: string, program: string) =>
  col(spec).tests.find((t) => t.file.endsWith(file) && t.program === program);

test("6.12: every kfunc-zoo test passes (retvals, refusals with their __msg, a C-struct context, printk)", () => {
  const zoo = col(NEW).tests.filter((t) => t.file.endsWith("zoo.test.bpf.c"));
  assert.equal(zoo.length, 12, zoo.map((t) => `${t.status} ${t.title}`).join("\n"));
  for (const t of zoo) assert.equal(t.status, "pass", `${t.title}: ${JSON.stringify(t)}`);
});

test("6.12: the seed module's tests pass (a kprobe may call its kfunc, other program types are refused)", () => {
  const seed = col(NEW).tests.filter((t) => t.file.endsWith("seed.test.bpf.c"));
  assert.deepEqual(
    seed.map((t) => [t.program, t.status]),
    [
      ["kprobe_calls_it", "pass"],
      ["syscall_may_not_call", "pass"],
      ["pointer_for_a_scalar", "pass"],
    ],
    JSON.stringify(seed),
  );
});

test("6.12: the deliberate failures are reported as exactly those failures in the VM", () => {
  const failed = col(NEW)
    .tests.filter((t) => t.file.endsWith("suite.test.bpf.c") && t.status === "fail")
    .map((t) => t.program);
  assert.deepEqual(failed.sort(), ["missing_msg", "success_refused", "wrong_retval"]);
  assert.equal(outcome(NEW, "selftests_style.test.bpf.c", "no_r0")?.status, "pass");
});

test("a test that panics the guest fails with the console tail; the rest of that kernel's tests are not run", () => {
  assert.equal(outcome(NEW, "crash.test.bpf.c", "a_ok_before")?.status, "pass");
  const crash = outcome(NEW, "crash.test.bpf.c", "b_panics")!;
  assert.equal(crash.status, "fail");
  assert.equal(crash.failure?.kind, "crash");
  assert.match(crash.failure!.got, /Kernel panic - not syncing: kfunc test fixture: deliberate panic/);
  assert.match(crash.failure!.got, /--- console \(tail\) ---/);
  const after = outcome(NEW, "crash.test.bpf.c", "c_after_the_panic")!;
  assert.equal(after.status, "not-run");
  assert.match(after.reason ?? "", /kernel panic/);
});

test("6.1: the module that cannot build there marks the column with the reason; 6.12 still ran", () => {
  const old = col(OLD);
  assert.match(old.release ?? "", /^6\.1\./);
  assert.match(old.error ?? "", /module build for 6\.1\.\S+: .*examples\/seed'?: build for 6\.1\.\S+ failed/);
  assert.ok(col(NEW).tests.length > 20);
  const m = matrix(r);
  assert.match(m.split("\n")[0]!, new RegExp(`test +${old.release!.replace(/\./g, "\\.")} +6\\.12\\.`));
  assert.match(m, /column failed/);
  const x = junit(r);
  assert.deepEqual(
    [...x.matchAll(/<testsuite name="([^"]+)"/g)].map((m) => m[1]),
    [old.release, col(NEW).release],
  );
  assert.equal(r.ok, false);
});

const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), ...args], {
    encoding: "utf8",
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
  });

test("the kfunc-zoo matrix passes on 6.1 and 6.12 (KPROBE registered on 6.12 only), with the matrix printed", () => {
  const t = cli(["test", ZOO, "--kernel", OLD, "--kernel", NEW]);
  assert.equal(t.status, 0, `${t.stdout}\n${t.stderr}`);
  const lines = t.stdout.split("\n");
  const header = lines.find((l) => /^test +6\.1\.\S+ +6\.12\.\S+/.test(l));
  assert.ok(header, t.stdout);
  const row = (program: string) => lines.find((l) => l.includes(`zoo.test.bpf.c: ${program} `)) ?? "";
  assert.match(row("zoo_kprobe"), /pass .* pass/, "refused on 6.1 as __refused_below says, loads on 6.12");
  assert.match(row("weak_probe"), /skip: requires Linux >= 6\.4.* pass/);
  assert.match(row("acquire_release"), /pass .* pass/);
  assert.match(row("add4_printk"), /skip: requires Linux >= 6\.2.* pass/);
  assert.match(t.stdout, /kfunc test: 22 passed, 0 failed, 2 skipped \(24 results on 2 kernels\)/);
});

test("kfunc new <dir> && kfunc test <dir> passes on 6.1 and 6.12 (the dir is under /tmp: shared automatically)", () => {
  const dir = join(work, "mykfuncs");
  const n = cli(["new", dir]);
  assert.equal(n.status, 0, n.stderr);
  const out = join(work, "junit.xml");
  const t = cli(["test", dir, "--kernel", OLD, "--kernel", NEW, "--reporter", "junit", "--output", out]);
  assert.equal(t.status, 0, `${t.stdout}\n${t.stderr}`);
  assert.match(t.stdout, /kfunc test: 6 passed, 0 failed \(6 results on 2 kernels\)/);
  const x = readFileSync(out, "utf8");
  const suites = [...x.matchAll(/<testsuite name="([^"]+)" tests="(\d+)" failures="(\d+)" errors="(\d+)"/g)];
  assert.deepEqual(
    suites.map((s) => [s[1]!.split(".").slice(0, 2).join("."), s[2], s[3], s[4]]),
    [
      ["6.1", "3", "0", "0"],
      ["6.12", "3", "0", "0"],
    ],
  );
});

test("Ctrl-C during a run: QEMU is gone, the partial report is printed, exit 1", async () => {
  const dir = join(work, "mykfuncs");
  const tmp = mkdtempSync(join(tmpdir(), "kfunc-test-sigint-"));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), "test", dir, "--kernel", NEW],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, TMPDIR: tmp },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  const booting = new Promise<void>((resolve) =>
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      if (/(booting|restoring) 6\.12/.test(stderr)) resolve();
    }),
  );
  const code = new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  await booting;
  await new Promise((res) => setTimeout(res, 1500));
  child.kill("SIGINT");
  assert.equal(await code, 1, `${stdout}\n${stderr}`);
  assert.match(stderr, /interrupted; stopping QEMU/);
  assert.match(stdout, /kfunc test: .*\d+ (not run|failed)/);
  // no QEMU with this run's share (under TMPDIR) is left
  const ps = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout;
  assert.ok(!ps.split("\n").some((l) => l.includes("qemu-system") && l.includes(tmp)), ps);
  rmSync(tmp, { recursive: true, force: true });
});
