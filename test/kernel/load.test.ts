import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { attach } from "../../src/kernel/attach/index.ts";
import { getGlobal, loadCollection, setGlobal } from "../../src/kernel/index.ts";
import { kernelVersionCode } from "../../src/kernel/ksyms.ts";
import { testRun } from "../../src/kernel/test-run.ts";
import { BPF_PROG_TYPE } from "../../src/sys/constants.ts";
import { fixtureSpec, procStatus, requireBpf } from "./load-helpers.ts";

test("tp_btf program calls vmlinux kfuncs; CO-RE task_struct reads and globals match /proc", async (t) => {
  if (!requireBpf(t)) return;
  const spec = fixtureSpec("load-kfunc");
  setGlobal(spec, "target_tgid", process.pid);
  setGlobal(spec, "magic", 0x1234_5678_9abcn);
  assert.equal(getGlobal(spec, "target_tgid"), process.pid);
  using coll = await loadCollection(spec);
  const prog = coll.program("on_sys_enter");
  assert.equal(prog.type, BPF_PROG_TYPE.TRACING);
  assert.ok(prog.attachBtfId > 0, "attach BTF id of btf_trace_sys_enter resolved");
  coll.variable("from_user").set(4242);
  {
    using _link = attach(prog);
    for (let i = 0; i < 5; i++) readFileSync("/proc/self/stat");
  }
  const hits = coll.variable("hits").get() as number;
  assert.ok(hits >= 5, `expected >= 5 syscalls seen, got ${hits}`);
  const seen = coll.map("by_tgid").get(process.pid) as Record<string, number | string>;
  assert.ok(seen, "the program wrote an entry for our tgid");
  assert.equal(seen["tgid"], process.pid);
  assert.equal(seen["found_pid"], process.pid, "bpf_task_from_pid(tgid)->pid == tgid");
  assert.equal(seen["calls"], 1, "bpf_rcu_read_lock/unlock ran");
  assert.equal(String(seen["comm"]), procStatus(process.pid, "Name").slice(0, 15));
  const tids = new Set((await import("node:fs")).readdirSync(`/proc/${process.pid}/task`).map(Number));
  assert.ok(tids.has(seen["pid"] as number), `pid ${seen["pid"]} is one of our threads`);
  assert.equal(
    coll.variable("magic_seen").get(),
    0x1234_5678_9abc,
    ".rodata set before load reached the program",
  );
  assert.equal(coll.variable("kver").get(), kernelVersionCode(), "LINUX_KERNEL_VERSION from .kconfig");
  assert.equal(coll.variable("weak_exists").get(), 0, "bpf_ksym_exists(missing weak kfunc) is false");
  assert.equal(coll.variable("echo_user").get(), 4242, ".bss written from user space reached the program");
  assert.throws(() => coll.variable("magic").set(1), /read-only/);
});

test("syscall program calls kfuncs through BPF_PROG_TEST_RUN (loaded sleepable)", async (t) => {
  if (!requireBpf(t)) return;
  using coll = await loadCollection(fixtureSpec("load-syscall"));
  const prog = coll.program("lookup_task");
  assert.equal(prog.sleepable, true);
  const ctx = new Uint8Array(24);
  new DataView(ctx.buffer).setInt32(0, process.pid, true);
  const r = testRun(prog, { ctxIn: ctx });
  assert.equal(r.retval, 0);
  const out = r.ctxOut!;
  assert.equal(new DataView(out.buffer, out.byteOffset).getInt32(4, true), process.pid);
  const comm = new TextDecoder().decode(out.subarray(8, 24)).replace(/\0.*$/s, "");
  assert.equal(comm, procStatus(process.pid, "Name").slice(0, 15));
  new DataView(ctx.buffer).setInt32(0, 0x3fff_fff0, true);
  assert.equal(testRun(prog, { ctxIn: ctx }).retval | 0, -1, "no such pid → NULL → -1");
  assert.equal(coll.variable("runs").get(), 2);
});
