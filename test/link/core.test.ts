import assert from "node:assert/strict";
import { test } from "node:test";
import { loadCollection } from "../../src/kernel/index.ts";
import { vmlinuxBtf } from "../../src/kernel/kernel-btf.ts";
import { testRun } from "../../src/kernel/test-run.ts";
import { fixtureSpec, procStatus, requireBpf } from "../kernel/load-helpers.ts";

test("CO-RE: every relocation kind against the running kernel's BTF, flavors matched by essential name", async (t) => {
  if (!requireBpf(t)) return;
  const spec = fixtureSpec("load-core");
  const kinds = new Set(spec.programs[0]!.coreRelos.map((r) => r.kindName));
  for (const k of [
    "FIELD_BYTE_OFFSET",
    "FIELD_BYTE_SIZE",
    "FIELD_EXISTS",
    "FIELD_SIGNED",
    "TYPE_EXISTS",
    "TYPE_SIZE",
    "ENUMVAL_EXISTS",
    "ENUMVAL_VALUE",
  ])
    assert.ok(kinds.has(k as never), `fixture exercises ${k}`);
  using coll = await loadCollection(spec);
  assert.equal(testRun(coll.program("core"), { ctxIn: new Uint8Array(8) }).retval, 0);
  const v = (n: string) => coll.variable(n).get();
  const btf = vmlinuxBtf();
  const task = btf.findByName("task_struct", "STRUCT");
  assert.ok(task && task.kind === "STRUCT");
  const member = (name: string) => task.members.find((m) => m.name === name)!;
  assert.equal(
    v("pid_offset"),
    member("pid").bitOffset / 8,
    "field offset = kernel's, not the local flavor's 0",
  );
  assert.equal(v("comm_offset"), member("comm").bitOffset / 8);
  assert.equal(v("pid_size"), 4);
  assert.equal(v("pid_exists"), 1);
  assert.equal(v("pid_signed"), 1);
  assert.equal(v("missing_exists"), 0, "a field the kernel lacks: exists = 0, no load failure");
  assert.equal(v("task_exists"), 1);
  assert.equal(v("task_size"), task.size);
  assert.equal(v("bogus_type_exists"), 0);
  assert.equal(v("ringbuf_exists"), 1);
  assert.equal(v("ringbuf_value"), 27);
  assert.equal(v("bogus_enum_exists"), 0);
  assert.equal(v("tgid"), process.pid, "CO-RE read of tgid through the flavor");
  assert.equal(v("pid"), process.pid, "the test-run executes on the main thread");
  assert.equal(v("comm"), procStatus(process.pid, "Name").slice(0, 15));
});
