/**
 * `kfunc test --host` on this machine's kernel (no module needed): a suite with deliberate failures is
 * reported as exactly those failures, JUnit/TAP carry the counts, a selftests-style file runs unchanged,
 * and bad input (a file that does not compile, a bad --reporter) gives clear errors and exit codes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { junit, runTests, type TestRunResults, tap } from "../../src/testing/index.ts";
import { FIXTURES_DIR, REPO_ROOT } from "../helpers/index.ts";

const DIR = join(FIXTURES_DIR, "testing");
let r: TestRunResults;

before(async () => {
  r = await runTests({
    paths: [join(DIR, "suite.test.bpf.c"), join(DIR, "selftests_style.test.bpf.c")],
    host: true,
  });
});

const statusOf = (title: string) => r.kernels[0]!.tests.find((t) => t.title.startsWith(title));

test("the deliberate failures, and only they, fail: wrong retval, missing __msg, a refused __success", () => {
  const k = r.kernels[0]!;
  assert.equal(k.error, undefined);
  const failed = k.tests
    .filter((t) => t.status === "fail")
    .map((t) => t.program)
    .sort();
  assert.deepEqual(failed, ["missing_msg", "success_refused", "wrong_retval"]);
  const wrong = statusOf("wrong_retval")!;
  assert.deepEqual(
    [wrong.failure?.kind, wrong.failure?.expected, wrong.failure?.got],
    ["retval", "retval 7", "retval 8"],
  );
  const missing = statusOf("missing_msg")!;
  assert.equal(missing.failure?.kind, "msg");
  assert.match(
    missing.failure!.expected,
    /MATCHED +SUBSTR 'invalid mem access 'scalar''\nEXPECTED SUBSTR 'this text is not in the log'/,
  );
  assert.ok(
    missing.failure?.log?.some((l) => l.includes("invalid mem access")),
    "the log excerpt is shown",
  );
  const refused = statusOf("success_refused")!;
  assert.equal(refused.failure?.kind, "load");
  assert.match(
    refused.failure!.sourceLine ?? "",
    /suite\.test\.bpf\.c:\d+: return \*\(volatile int \*\)\(long\)42;/,
  );
  for (const p of [
    "returns_42",
    "xdp_default_input",
    "refused_as_expected",
    "regex_msg",
    "success_log_msg",
    "ctx_struct",
    "ctx_hex",
    "printk_line",
  ])
    assert.equal(statusOf(p)?.status, "pass", `${p}: ${JSON.stringify(statusOf(p))}`);
  assert.match(statusOf("from_the_future")?.reason ?? "", /requires Linux >= 99\.0, running \d/);
  assert.equal(statusOf("helper_prog"), undefined, "a program without annotations is not a test");
});

test("a program written in the kernel selftests' style (bpf_misc.h, naked asm) runs unchanged", () => {
  const titles = (s: string) =>
    r.kernels[0]!.tests.filter((t) => t.file.endsWith("selftests_style.test.bpf.c") && t.status === s).map(
      (t) => t.title,
    );
  assert.deepEqual(titles("pass").sort(), [
    "equal_msgs two equal messages in order",
    "no_r0 exit without r0",
    "pointer_value any pointer value",
    "return_zero return zero",
    "xlated_text the translated program",
  ]);
  // the host's kernel.unprivileged_bpf_disabled is not 0 here (Debian: 2), and kfunc test leaves it alone
  assert.deepEqual(titles("skip").sort(), ["return_zero return zero @unpriv"]);
  assert.match(
    r.kernels[0]!.tests.find((t) => t.title === "return_zero return zero @unpriv")?.reason ?? "",
    /unprivileged_bpf_disabled is [12]/,
  );
  assert.ok(
    r.kernels[0]!.tests.every((t) => t.program !== "helper_always_loaded"),
    "__auxiliary is not a test",
  );
});

test("JUnit XML: one testsuite per kernel named by its release, with the counts", () => {
  const x = junit(r);
  const suites = [
    ...x.matchAll(/<testsuite name="([^"]+)" tests="(\d+)" failures="(\d+)" errors="(\d+)" skipped="(\d+)"/g),
  ];
  assert.equal(suites.length, 1);
  const [, name, tests, failures, errors, skipped] = suites[0]!;
  assert.equal(name, r.kernels[0]!.release);
  assert.deepEqual([tests, failures, errors, skipped].map(Number), [r.kernels[0]!.tests.length, 3, 0, 2]);
  assert.equal([...x.matchAll(/<testcase /g)].length, Number(tests));
  assert.equal([...x.matchAll(/<failure /g)].length, 3);
  assert.equal([...x.matchAll(/<skipped /g)].length, 2);
  const t = tap(r);
  assert.match(t, /^TAP version 13\n1\.\.\d+\n/);
  assert.equal([...t.matchAll(/^not ok /gm)].length, 3);
  assert.equal([...t.matchAll(/# SKIP /g)].length, 2);
});

const cli = (args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), ...args], {
    encoding: "utf8",
    cwd: REPO_ROOT,
  });

test("the CLI: exit 1 with failures, 0 when all pass, 2 for usage; the matrix and summary line", () => {
  const bad = cli(["test", "--host", join(DIR, "suite.test.bpf.c")]);
  assert.equal(bad.status, 1, bad.stderr);
  assert.match(bad.stdout, /✖ wrong_retval deliberate: wrong retval FAILED/);
  assert.match(bad.stdout, /kfunc test: 8 passed, 3 failed, 1 skipped/);
  const good = cli(["test", "--host", "--filter", "^(returns_42|regex_msg)$", join(DIR, "suite.test.bpf.c")]);
  assert.equal(good.status, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /kfunc test: 2 passed, 0 failed/);
  const usage = cli(["test", "--host", "--reporter", "xml", DIR]);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--reporter 'xml': expected spec, tap or junit/);
});

test("a test file that does not compile: clang's file:line, the other files still run", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kfunc-test-bad-"));
  try {
    writeFileSync(join(dir, "broken.test.bpf.c"), '#include "kfunc_test.h"\nint x = ;\n');
    const res = await runTests({
      paths: [join(dir, "broken.test.bpf.c"), join(DIR, "selftests_style.test.bpf.c")],
      host: true,
    });
    const t = res.kernels[0]!.tests;
    const broken = t.find((x) => x.file.endsWith("broken.test.bpf.c"))!;
    assert.equal(broken.status, "error");
    assert.match(broken.reason ?? "", /broken\.test\.bpf\.c:2:\d+: error: expected expression/);
    assert.ok(t.some((x) => x.program === "return_zero" && x.status === "pass"));
    assert.equal(res.ok, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
