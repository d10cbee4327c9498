/**
 * SEC("perf_event") programs on sampling events (attachPerfEvent): per CPU by default, one CPU, one process,
 * period or frequency, bpf_link or ioctl; the link closes with its collection; `kfunc run` samples the CPU
 * clock on every CPU by default and says so. Host kernel, software CPU clock (exists in every VM).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { UsageError } from "../../src/errors.ts";
import { attachPerfEvent, onlineCpuList } from "../../src/kernel/attach/index.ts";
import { loadObjectFile } from "../../src/kernel/index.ts";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";
import { requireBpf, vmlinuxHeaderDir } from "./load-helpers.ts";

const obj = () => compileFixture("attach-perf-event", { includeDirs: [vmlinuxHeaderDir()] });

/** Burns CPU until the program has run `n` times (the sampling is driven by our own CPU time). */
function spinUntil(read: () => number, n: number): number {
  const end = Date.now() + 20_000;
  let x = 0;
  while (read() < n && Date.now() < end) for (let i = 0; i < 1e6; i++) x += i;
  return x;
}

const total = (coll: Awaited<ReturnType<typeof loadObjectFile>>) => Number(coll.variable("total").get());

test("attachPerfEvent: CPU clock on every online CPU by default, one event per CPU", async (t) => {
  if (!requireBpf(t)) return;
  using coll = await loadObjectFile(obj());
  const link = attachPerfEvent(coll.program("on_sample"), { sampleFreq: 1000 });
  assert.equal(link.kind, "perf_event");
  assert.match(
    link.target,
    new RegExp(`^CPU clock at 1000 Hz on every online CPU \\(${onlineCpuList().length}\\)$`),
  );
  spinUntil(() => total(coll), 5);
  assert.ok(total(coll) >= 5, `the program ran on samples (${total(coll)})`);
  const perCpu = coll.map("samples").get(0) as unknown as Array<number | bigint>;
  assert.equal(perCpu.reduce<number>((a, b) => a + Number(b), 0) >= 5, true, "per-CPU sample counts add up");
  link.close();
  const after = total(coll);
  let x = 0;
  for (let i = 0; i < 5e7; i++) x += i; // ~50 samples' worth of CPU time at 1000 Hz
  assert.ok(x > 0);
  assert.equal(total(coll), after, "no samples after close()");
});

test("attachPerfEvent: one CPU, one process, a period, the ioctl path", async (t) => {
  if (!requireBpf(t)) return;
  using coll = await loadObjectFile(obj());
  const p = coll.program("on_sample");
  const a = attachPerfEvent(p, { cpu: 0, samplePeriod: 100_000, forceIoctl: true });
  assert.equal(a.info.mechanism, "perf_event_ioctl");
  assert.match(a.target, /every 100000 events on CPU 0/);
  a.close();
  const b = attachPerfEvent(p, { pid: process.pid, sampleFreq: 1000 });
  assert.match(b.target, new RegExp(`any CPU, pid ${process.pid}`));
  spinUntil(() => total(coll), 3);
  assert.ok(total(coll) >= 3, "samples of this process's CPU time");
  b.close();
  assert.throws(() => attachPerfEvent(p, { samplePeriod: 1, sampleFreq: 1 }), UsageError);
  assert.throws(() => attachPerfEvent(p, { sampleFreq: 0 }), UsageError);
});

test("a perf_event link is closed with its collection", async (t) => {
  if (!requireBpf(t)) return;
  const coll = await loadObjectFile(obj());
  const link = attachPerfEvent(coll.program("on_sample"), { sampleFreq: 1000 });
  assert.equal(link.closed, false);
  coll.close();
  assert.equal(link.closed, true, "Collection.close() detached the perf events");
});

test('kfunc run on a SEC("perf_event") program samples the CPU clock on every CPU and says so', (t) => {
  if (!requireBpf(t)) return;
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), "run", obj(), "--duration", "1", "--dump-maps"],
    { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stderr,
    /perf_event program on_sample: sampling CPU clock at 49 Hz on every online CPU \(\d+\)/,
  );
  assert.match(r.stderr, /attached on_sample → perf_event CPU clock at 49 Hz/);
  assert.match(r.stdout, /global total = \d+/);
});
