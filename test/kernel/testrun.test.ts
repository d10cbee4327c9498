/**
 * BPF_PROG_TEST_RUN through testRun(): XDP and TC verdicts decided by packet content, XDP rewriting the
 * packet (dataOut), a socket filter's return value, a syscall program writing its context (ctxOut), a
 * raw_tp program run with a context, repeat timing, and the errors for inputs a type does not take.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { isKfuncKitError } from "../../src/errors.ts";
import { type Collection, loadObjectFile } from "../../src/kernel/index.ts";
import { testRun } from "../../src/kernel/test-run.ts";
import { compileFixture } from "../helpers/index.ts";

let coll: Collection;
before(async () => {
  coll = await loadObjectFile(compileFixture("attach-testrun"));
});
after(() => coll?.close());

const XDP = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3 };

function packet(ethertype: number, payload = 46): Uint8Array {
  const p = new Uint8Array(14 + payload);
  p.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2], 0);
  new DataView(p.buffer).setUint16(12, ethertype);
  for (let i = 14; i < p.length; i++) p[i] = i & 0xff;
  return p;
}

test("XDP: the verdict follows the packet's ethertype, and XDP_TX returns the rewritten packet", () => {
  const prog = coll.program("xdp_filter");
  assert.equal(testRun(prog, { dataIn: packet(0x0800) }).retval, XDP.PASS);
  assert.equal(testRun(prog, { dataIn: packet(0x88b5) }).retval, XDP.DROP);
  const tx = testRun(prog, { dataIn: packet(0x88b6) });
  assert.equal(tx.retval, XDP.TX);
  assert.equal(tx.dataOut?.byteLength, 60);
  assert.equal(tx.dataOut?.[14], 0xab, "the program's write is in dataOut");
  assert.deepEqual(tx.dataOut?.subarray(15), packet(0x88b6).subarray(15));
  assert.equal(
    testRun(prog, { dataIn: packet(0x0800, 0) }).retval,
    XDP.ABORTED,
    "too short for a payload byte",
  );
});

test("XDP with repeat: the kernel reports an average duration per run", () => {
  const r = testRun(coll.program("xdp_filter"), { dataIn: packet(0x0800), repeat: 10_000 });
  assert.equal(r.retval, XDP.PASS);
  assert.ok(Number.isInteger(r.durationNs) && r.durationNs >= 0);
});

test("TC (sched_cls): TC_ACT_SHOT for the drop ethertype, TC_ACT_OK otherwise", () => {
  const prog = coll.program("tc_filter");
  assert.equal(testRun(prog, { dataIn: packet(0x88b5) }).retval, 2);
  assert.equal(testRun(prog, { dataIn: packet(0x86dd) }).retval, 0);
});

test("socket filter: returns skb->len, which the kernel counts from after the Ethernet header", () => {
  // bpf_prog_test_run_skb runs eth_type_trans() and pushes the header back only for L2 (TC) programs
  assert.equal(testRun(coll.program("sock_len"), { dataIn: packet(0x0800, 100) }).retval, 100);
  assert.equal(testRun(coll.program("sock_len"), { dataIn: packet(0x88b5, 7) }).retval, 7);
});

test("syscall program: reads and writes its context; ctxOut carries the result", () => {
  const ctx = new Uint8Array(12);
  const v = new DataView(ctx.buffer);
  v.setInt32(0, 20, true);
  v.setInt32(4, 22, true);
  const r = testRun(coll.program("sys_add"), { ctxIn: ctx });
  assert.equal(r.retval, 40);
  assert.ok(r.ctxOut);
  assert.equal(new DataView(r.ctxOut.buffer, r.ctxOut.byteOffset).getInt32(8, true), 42);
});

test("raw_tp program run with a context of u64 args", () => {
  const ctx = new Uint8Array(16);
  new DataView(ctx.buffer).setBigUint64(0, 21n, true);
  assert.equal(testRun(coll.program("raw_double"), { ctxIn: ctx }).retval, 42);
});

test("inputs a program type does not take are refused with what to give instead", () => {
  assert.throws(
    () => testRun(coll.program("xdp_filter"), {}),
    (e: unknown) =>
      isKfuncKitError(e) && /test-run 'xdp_filter' failed/.test(e.message) && /--data-in/.test(e.hint ?? ""),
  );
  assert.throws(() => testRun(coll.program("sys_add"), { dataIn: packet(0x800) }), /takes a context/);
  assert.throws(
    () => testRun(coll.program("raw_double"), { ctxIn: new Uint8Array(16), repeat: 5 }),
    (e: unknown) => isKfuncKitError(e) && e.code === "USAGE",
  );
});
