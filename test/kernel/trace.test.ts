/**
 * trace_pipe: line parsing (with and without the irq-flags and tgid columns), and a live stream: a
 * tracepoint program bpf_printk()s one line per openat() of this process on a unique prefix; every line
 * arrives in order through tracePipe(), and the iterator ends promptly on abort.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { attach } from "../../src/kernel/attach/index.ts";
import { loadCollection, setGlobal } from "../../src/kernel/index.ts";
import { clearTrace, parseTraceLine, readTraceBuffer, tracePipe } from "../../src/kernel/trace-pipe.ts";
import { parseObject } from "../../src/object/index.ts";
import { compileFixture } from "../helpers/index.ts";
import { openMissing } from "./attach-helpers.ts";

test("parseTraceLine reads task, pid, cpu, flags, timestamp, event and message", () => {
  const a = parseTraceLine(
    "            node-4242    [001] d..31  1234.567890: bpf_trace_printk: BPF triggered do_unlinkat, PID: 7. Result: 7",
  );
  assert.deepEqual(
    { ...a, raw: undefined },
    {
      task: "node",
      pid: 4242,
      cpu: 1,
      flags: "d..31",
      timestamp: 1234.56789,
      event: "bpf_trace_printk",
      message: "BPF triggered do_unlinkat, PID: 7. Result: 7",
      raw: undefined,
    },
  );
  // task names with dashes and spaces, a tgid column, no flags column
  const b = parseTraceLine(" kworker/u4:1-my task-77 (   70) [000]  99.000001: bpf_trace_printk: hi");
  assert.equal(b?.task, "kworker/u4:1-my task");
  assert.equal(b?.pid, 77);
  assert.equal(b?.flags, "");
  assert.equal(b?.message, "hi");
  assert.equal(parseTraceLine("# tracer: nop"), undefined);
  assert.equal(parseTraceLine(""), undefined);
});

test("bpf_printk lines of this process stream through tracePipe() in order; abort ends the stream", async () => {
  const prefix = `/tmp/kktr${process.pid}-`;
  const spec = parseObject(readFileSync(compileFixture("attach-trace")), "attach-trace.bpf.o");
  setGlobal(spec, "target_pid", process.pid);
  setGlobal(spec, "prefix", prefix);
  using coll = await loadCollection(spec);
  using _link = attach(coll.program("trace_openat"));
  const ac = new AbortController();
  const N = 20;
  const lines: string[] = [];
  setTimeout(() => openMissing(prefix, N), 100);
  const timer = setTimeout(() => ac.abort(), 10_000);
  for await (const l of tracePipe({ signal: ac.signal, idleMs: 20 })) {
    // other processes' lines (and other tests') may be in the pipe too: keep ours
    if (!l.message.includes(prefix)) continue;
    assert.equal(l.pid, process.pid);
    assert.equal(l.event, "bpf_trace_printk");
    lines.push(l.message);
    if (lines.length === N) ac.abort();
  }
  clearTimeout(timer);
  assert.deepEqual(
    lines.map((m) => m.replace(/^kfunc-kit trace seq=\d+ path=/, "")),
    Array.from({ length: N }, (_, i) => `${prefix}${i}`),
  );
  const seqs = lines.map((m) => Number(/seq=(\d+)/.exec(m)![1]));
  assert.deepEqual(
    seqs,
    [...seqs].sort((x, y) => x - y),
  );

  // an idle pipe: the iterator stops within a poll interval of the abort
  const idle = new AbortController();
  setTimeout(() => idle.abort(), 100);
  let extra = 0;
  for await (const l of tracePipe({ signal: idle.signal, idleMs: 20 }))
    if (l.message.includes(prefix)) extra++;
  assert.equal(extra, 0);
});

test("readTraceBuffer shows printk lines without consuming them; clearTrace empties the buffer", async () => {
  const prefix = `/tmp/kkbf${process.pid}-`;
  const spec = parseObject(readFileSync(compileFixture("attach-trace")), "attach-trace.bpf.o");
  setGlobal(spec, "target_pid", process.pid);
  setGlobal(spec, "prefix", prefix);
  using coll = await loadCollection(spec);
  {
    using _link = attach(coll.program("trace_openat"));
    openMissing(prefix, 3);
  }
  const mine = () => readTraceBuffer().filter((l) => l.message.includes(prefix));
  assert.equal(mine().length, 3);
  assert.equal(mine().length, 3, "reading `trace` does not consume");
  clearTrace();
  assert.equal(mine().length, 0);
});
