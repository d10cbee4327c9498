import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import type { TestRunResults } from "../../src/testing/index.ts";
import { REPO_ROOT } from "../helpers/index.ts";

const FIXTURE = "test/fixtures/uvm-test";

function kfunc(args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("kfunc test --uvm runs __retval tests in the userspace runtime with kfunc mocks from a TS file", () => {
  for (const engine of ["jit", "interp"]) {
    const r = kfunc([
      "test",
      "--uvm",
      `${FIXTURE}/retval.test.bpf.c`,
      "--kfuncs",
      `${FIXTURE}/kfuncs.ts`,
      "--json",
      ...(engine === "interp" ? ["--interp"] : []),
    ]);
    assert.equal(r.code, 1, `one test fails on purpose: ${r.stderr}`);
    const res = JSON.parse(r.stdout) as TestRunResults;
    assert.equal(res.kernels.length, 1);
    assert.equal(res.kernels[0]!.release, `uvm (${engine})`);
    const by = new Map(res.kernels[0]!.tests.map((t) => [t.program, t]));
    assert.equal(by.get("sum_is_ten")?.status, "pass", JSON.stringify(by.get("sum_is_ten")));
    assert.equal(by.get("sum_is_ten")?.retval, 10);
    assert.equal(by.get("scale_loop")?.status, "pass", JSON.stringify(by.get("scale_loop")));
    const wrong = by.get("scale_wrong")!;
    assert.equal(wrong.status, "fail");
    assert.equal(wrong.failure?.kind, "retval");
    assert.equal(wrong.failure?.expected, "retval 22");
    assert.equal(wrong.failure?.got, "retval 21");
    const verifier = by.get("verifier_only")!;
    assert.equal(verifier.status, "skip");
    assert.match(verifier.reason ?? "", /__failure needs the kernel's verifier/);
    assert.deepEqual(
      { passed: res.summary.passed, failed: res.summary.failed, skipped: res.summary.skipped },
      { passed: 2, failed: 1, skipped: 1 },
    );
  }
});

test("kfunc test --uvm without the kfunc mocks fails the load with the kfunc's name; a passing filter exits 0", () => {
  const missing = kfunc([
    "test",
    "--uvm",
    `${FIXTURE}/retval.test.bpf.c`,
    "--filter",
    "sum_is_ten",
    "--json",
  ]);
  assert.equal(missing.code, 1);
  const res = JSON.parse(missing.stdout) as TestRunResults;
  const t = res.kernels[0]!.tests.find((x) => x.program === "sum_is_ten")!;
  assert.equal(t.status, "fail");
  assert.equal(t.failure?.kind, "load");
  assert.match(t.failure?.got ?? "", /bpf_kfunc_call_test/);
  const ok = kfunc([
    "test",
    "--uvm",
    `${FIXTURE}/retval.test.bpf.c`,
    "--kfuncs",
    `${FIXTURE}/kfuncs.ts`,
    "--filter",
    "sum_is_ten|verifier_only",
  ]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /✔ sum_is_ten/);
  const usage = kfunc(["test", "--uvm", "--host", `${FIXTURE}/retval.test.bpf.c`]);
  assert.equal(usage.code, 2, usage.stderr);
});
