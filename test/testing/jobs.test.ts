/**
 * `--jobs N` runs kernel columns at once: two columns on the host kernel (the same suite twice) with jobs 1
 * and with jobs 2. With 2 the second column starts before the first has reported a single test, with 1 only
 * after the first column ended; the verdicts are the same either way.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { runTests, type TestEvent, type TestRunResults } from "../../src/testing/index.ts";
import { FIXTURES_DIR, requireRoot } from "../helpers/index.ts";

const SUITE = join(FIXTURES_DIR, "testing", "suite.test.bpf.c");

async function run(jobs: number): Promise<{ r: TestRunResults; events: string[] }> {
  const events: string[] = [];
  const r = await runTests({
    paths: [SUITE],
    kernels: ["host", "host"],
    jobs,
    // two columns on one kernel share its trace buffer: one column's __printk reader could take the other's
    // line (distinct VMs, what --jobs is for, do not share it)
    filter: "^(?!printk)",
    onEvent: (e: TestEvent) => {
      if (e.type === "kernel") events.push("kernel");
      else if (e.type === "test") events.push("test");
    },
  });
  return { r, events };
}

const verdicts = (r: TestRunResults) =>
  r.kernels.map((k) => k.tests.map((t) => `${t.title}: ${t.status}`).sort());

test("--jobs 2 runs the two columns at once, --jobs 1 one after the other, with the same verdicts", async (t) => {
  if (!requireRoot(t)) return;
  const one = await run(1);
  const two = await run(2);
  const perColumn = one.r.kernels[0]!.tests.length;
  assert.ok(perColumn >= 5, JSON.stringify(one.r.kernels[0]));
  // jobs 1: kernel, its tests, then the second kernel
  assert.equal(one.events.indexOf("kernel", 1), perColumn + 1, one.events.join(" "));
  // jobs 2: both columns started before any test was reported
  assert.deepEqual(two.events.slice(0, 2), ["kernel", "kernel"], two.events.join(" "));
  assert.deepEqual(verdicts(two.r), verdicts(one.r));
  assert.deepEqual(verdicts(one.r)[0], verdicts(one.r)[1]);
  assert.equal(two.r.summary.total, 2 * perColumn);
});
