/**
 * Attach on the host kernel: tracepoint (bpf_link and the ioctl fallback), raw_tp, tp_btf, and the clear
 * refusals (kprobe without kprobe support → NotSupportedError pointing at the VM runner; xdp → test-run).
 * Programs count the test process's own openat() calls, so every count is exact.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { isKfuncKitError } from "../../src/errors.ts";
import { attach } from "../../src/kernel/attach/index.ts";
import { pmuType } from "../../src/sys/perf.ts";
import { compileFixture } from "../helpers/index.ts";
import { getU64, loadFixture, openFdCount, openMissing, setU32, type TestObject } from "./attach-helpers.ts";

let obj: TestObject;
const prefix = `/tmp/kfunc-kit-attach-${process.pid}-`;

before(() => {
  obj = loadFixture(compileFixture("attach-counters"), [
    "tp_openat",
    "raw_sys_enter",
    "btf_sys_enter",
    "kp_unlinkat",
    "xdp_pass",
  ]);
  setU32(obj.maps.get("config")!.fd, process.pid);
});
after(() => obj?.close());

const hits = (slot: number) => getU64(obj.maps.get("hits")!.fd, slot);

/** Attaches, makes n openat calls, detaches, makes more: only the first n count. */
function countWhileAttached(program: string, slot: number, options: Parameters<typeof attach>[1] = {}) {
  const before = hits(slot);
  const link = attach(obj.programs.get(program)!, options);
  openMissing(prefix, 25, program);
  const during = hits(slot) - before;
  link.close();
  link.close(); // idempotent
  openMissing(prefix, 5, `${program}-after`);
  return { link, during, afterClose: hits(slot) - before - during };
}

test("tracepoint/syscalls/sys_enter_openat through a perf bpf_link counts exactly the test's openat calls", () => {
  const r = countWhileAttached("tp_openat", 0);
  assert.equal(r.link.info.mechanism, "bpf_link");
  assert.equal(r.link.info.target, "syscalls/sys_enter_openat");
  assert.equal(r.during, 25);
  assert.equal(r.afterClose, 0, "no hits after close(): the link detached");
});

test("tracepoint attach through PERF_EVENT_IOC_SET_BPF (the pre-5.15 fallback) counts the same", () => {
  const r = countWhileAttached("tp_openat", 0, { forceIoctl: true });
  assert.equal(r.link.info.mechanism, "perf_event_ioctl");
  assert.equal(r.during, 25);
  assert.equal(r.afterClose, 0);
});

test("raw_tp/sys_enter sees the test's openat syscalls (id 257 in args[1])", () => {
  const r = countWhileAttached("raw_sys_enter", 1);
  assert.equal(r.link.info.kind, "raw_tp");
  assert.equal(r.during, 25);
  assert.equal(r.afterClose, 0);
});

test("tp_btf/sys_enter (typed args) sees the test's openat syscalls", () => {
  const r = countWhileAttached("btf_sys_enter", 2);
  assert.equal(r.link.info.kind, "tp_btf");
  assert.equal(r.during, 25);
  assert.equal(r.afterClose, 0);
});

test("attach/close cycles leak no fds", () => {
  const fds = openFdCount();
  for (let i = 0; i < 10; i++) {
    for (const p of ["tp_openat", "raw_sys_enter", "btf_sys_enter"]) attach(obj.programs.get(p)!).close();
    using _l = attach(obj.programs.get("tp_openat")!, { forceIoctl: true });
  }
  assert.equal(openFdCount(), fds);
});

test("kprobe/do_unlinkat: without kprobe support the error says why and points at the VM runner", (t) => {
  const prog = obj.programs.get("kp_unlinkat")!;
  const hasKprobes = pmuType("kprobe") !== undefined || existsSync("/sys/kernel/tracing/kprobe_events");
  if (hasKprobes) {
    // a kernel with kprobes: the attach must work instead
    using link = attach(prog);
    assert.equal(link.info.kind, "kprobe");
    t.diagnostic(`kprobes available here (${link.info.probeVia}); checked attach instead of the refusal`);
    return;
  }
  assert.throws(
    () => attach(prog),
    (e: unknown) => {
      assert.ok(isKfuncKitError(e));
      assert.equal(e.code, "NOT_SUPPORTED");
      assert.match(e.message, /kprobe 'kp_unlinkat' → do_unlinkat: this kernel has neither a kprobe PMU/);
      assert.match(e.hint ?? "", /kfunc vm run/);
      return true;
    },
  );
  // the tracefs path refuses the same way when asked for explicitly
  assert.throws(() => attach(prog, { forceTracefs: true }), /kprobe_events/);
});

test("xdp programs are not attached: the error points at test-run", () => {
  assert.throws(
    () => attach(obj.programs.get("xdp_pass")!),
    (e: unknown) => {
      assert.ok(isKfuncKitError(e));
      assert.equal(e.code, "NOT_SUPPORTED");
      assert.match(e.hint ?? "", /kfunc test-run .* --program xdp_pass/);
      return true;
    },
  );
});

test("a tracepoint that does not exist is named in the error with where to look", () => {
  const p = obj.programs.get("tp_openat")!;
  assert.throws(
    () => attach(p, { target: "syscalls/sys_enter_nonexistent_xyz" }),
    (e: unknown) => {
      assert.ok(isKfuncKitError(e));
      assert.match(e.message, /tracepoint 'syscalls\/sys_enter_nonexistent_xyz'/);
      assert.match(e.hint ?? "", /no such tracepoint/);
      return true;
    },
  );
  assert.throws(() => attach(p, { target: "nocategory" }), /is not <category>\/<name>/);
});
