/**
 * PerfBuffer on the host kernel: bpf_perf_event_output from a tracepoint program, one ring per online
 * CPU; every sample of N openat calls arrives; with a deliberately small ring, received + lost add up to
 * exactly what the program sent.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { attach } from "../../src/kernel/attach/index.ts";
import { onlineCpuList, PerfBuffer } from "../../src/kernel/perf-buffer.ts";
import { compileFixture, rootSkip } from "../helpers/index.ts";
import {
  decodeEvent,
  loadFixture,
  onCpu,
  openFdCount,
  openMissing,
  setStreamConfig,
  type TestObject,
} from "./attach-helpers.ts";

let obj: TestObject;
const prefix = `/tmp/kk-pb-${process.pid}-`;

const NOT_ROOT = rootSkip();

before(() => {
  if (NOT_ROOT) return;
  obj = loadFixture(compileFixture("attach-streams"), ["pb_openat"]);
  setStreamConfig(obj.maps.get("config")!.fd, prefix);
});
after(() => obj?.close());

test("every sample of N openat calls arrives with its path, pid and CPU", { skip: NOT_ROOT }, () => {
  using pb = new PerfBuffer(obj.maps.get("perf_events")!, { pagesPerCpu: 64 });
  assert.deepEqual(pb.cpus, onlineCpuList());
  using _link = attach(obj.programs.get("pb_openat")!);
  const N = 500;
  openMissing(prefix, N);
  const got: Array<{ cpu: number; path: string; pid: number; cookie: bigint }> = [];
  for (let round = 0; round < 20 && got.length < N; round++)
    pb.poll(50, (cpu, d) => {
      got.push({ cpu, ...decodeEvent(d) });
    });
  assert.equal(got.length, N);
  assert.equal(pb.lost, 0);
  const paths = new Set(got.map((g) => g.path));
  for (let i = 0; i < N; i++) assert.ok(paths.has(`${prefix}${i}`), `sample for ${prefix}${i}`);
  for (const g of got) {
    assert.equal(g.pid, process.pid);
    assert.equal(g.cookie, 0x1122334455667788n);
    assert.ok(pb.cpus.includes(g.cpu));
  }
});

test("a full one-page ring: received + lost = sent, counted from PERF_RECORD_LOST", {
  skip: NOT_ROOT,
}, () => {
  using pb = new PerfBuffer(obj.maps.get("perf_events")!, { pagesPerCpu: 1 });
  using _link = attach(obj.programs.get("pb_openat")!);
  // one producer CPU, so the ring that overflows is the one that gets the LOST record
  const cpu = pb.cpus[0]!;
  const { received, sent } = onCpu(cpu, () => {
    openMissing(`${prefix}flood`, 600);
    let received = pb.consume(() => {});
    assert.ok(received < 600, `a 4 KiB ring cannot hold 600 samples (got ${received})`);
    // the kernel writes the LOST record once the ring has room again: drain, then one more sample
    openMissing(`${prefix}more`, 1);
    received += pb.consume(() => {});
    return { received, sent: 601 };
  });
  assert.ok(pb.lost > 0);
  assert.equal(received + pb.lost, sent);
});

test("samples() iterates asynchronously and stops on abort", { skip: NOT_ROOT }, async () => {
  using pb = new PerfBuffer(obj.maps.get("perf_events")!);
  using _link = attach(obj.programs.get("pb_openat")!);
  const ac = new AbortController();
  setTimeout(() => openMissing(`${prefix}async`, 20), 30);
  const paths: string[] = [];
  for await (const s of pb.samples({ signal: ac.signal })) {
    paths.push(decodeEvent(s.data).path);
    if (paths.length === 20) ac.abort();
  }
  assert.equal(new Set(paths).size, 20);
});

test("close() releases every per-CPU fd and mapping", { skip: NOT_ROOT }, () => {
  const fds = openFdCount();
  for (let i = 0; i < 20; i++) new PerfBuffer(obj.maps.get("perf_events")!).close();
  assert.equal(openFdCount(), fds);
});

test("consumeRaw hands out every sample in order, samples that wrap a one-page ring included", () => {
  using pb = new PerfBuffer(obj.maps.get("perf_events")!, { pagesPerCpu: 1 });
  using _link = attach(obj.programs.get("pb_openat")!);
  const cpu = pb.cpus[0]!;
  let wrapped = 0;
  const paths: string[] = [];
  onCpu(cpu, () => {
    // 10 rounds of 20 samples through a 4 KiB ring: the write position passes the ring's end repeatedly
    for (let round = 0; round < 10; round++) {
      openMissing(`${prefix}raw${round}-`, 20);
      pb.consumeRaw((_cpu, d, off, len) => {
        if (d.byteLength !== 4096) wrapped++; // the scratch copy of a sample split by the ring's end
        paths.push(decodeEvent(d.subarray(off, off + len)).path);
      });
    }
  });
  assert.equal(pb.lost, 0);
  assert.deepEqual(
    paths,
    Array.from({ length: 200 }, (_, i) => `${prefix}raw${Math.floor(i / 20)}-${i % 20}`),
  );
  assert.ok(wrapped > 0, "no sample wrapped");
});

test("a callback that stops or throws: the next read starts after its sample, nothing twice", () => {
  using pb = new PerfBuffer(obj.maps.get("perf_events")!, { pagesPerCpu: 4 });
  using _link = attach(obj.programs.get("pb_openat")!);
  onCpu(pb.cpus[0]!, () => openMissing(`${prefix}stop-`, 20));
  const paths: string[] = [];
  let i = 0;
  const note = (d: Uint8Array, off: number, len: number) => {
    paths.push(decodeEvent(d.subarray(off, off + len)).path);
    i++;
    if (i === 12) throw new Error("sample 12");
    return i !== 5;
  };
  assert.equal(
    pb.consumeRaw((_cpu, d, off, len) => note(d, off, len)),
    5,
  );
  assert.throws(() => pb.consumeRaw((_cpu, d, off, len) => note(d, off, len)), /sample 12/);
  assert.equal(paths.length, 12);
  pb.consumeRaw((_cpu, d, off, len) => note(d, off, len));
  assert.deepEqual(
    paths,
    Array.from({ length: 20 }, (_, j) => `${prefix}stop-${j}`),
  );
});

test("an idle samples() iterator sleeps without a timeout and ends on abort", {
  timeout: 20_000,
}, async () => {
  using pb = new PerfBuffer(obj.maps.get("perf_events")!);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  let n = 0;
  for await (const _s of pb.samples({ signal: ac.signal })) n++;
  assert.equal(n, 0);
});
