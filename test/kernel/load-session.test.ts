/**
 * LoadSession: loads of one spec (and its clones) in a session share the object's BTF (one kernel BTF
 * object, the program info's btf_id is the same) and stay usable after the session is closed; without a
 * session each load loads its own BTF; a changed spec (data section layout) gets its own BTF.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadCollection } from "../../src/kernel/index.ts";
import { LoadSession } from "../../src/kernel/load-session.ts";
import { testRun } from "../../src/kernel/test-run.ts";
import { cloneObjectSpec } from "../../src/object/index.ts";
import { progInfo } from "../../src/sys/bpf-obj.ts";
import { fixtureSpec, requireBpf } from "./load-helpers.ts";

test("loads in a LoadSession share the object's BTF; without one each load has its own", async (t) => {
  if (!requireBpf(t)) return;
  const spec = fixtureSpec("load-syscall");
  const name = "lookup_task";
  const btfIdOf = (c: Awaited<ReturnType<typeof loadCollection>>) => progInfo(c.program(name).fd).btfId;
  const session = new LoadSession();
  const a = await loadCollection(cloneObjectSpec(spec), { programs: [name], session });
  const b = await loadCollection(cloneObjectSpec(spec), { programs: [name], session });
  const c = await loadCollection(cloneObjectSpec(spec), { programs: [name] });
  const d = await loadCollection(cloneObjectSpec(spec), { programs: [name] });
  try {
    assert.ok(btfIdOf(a) > 0);
    assert.equal(btfIdOf(a), btfIdOf(b), "one BTF object for both loads in the session");
    assert.notEqual(btfIdOf(c), btfIdOf(d), "without a session each load loads its BTF");
    assert.notEqual(btfIdOf(c), btfIdOf(a));
    // a clone whose data layout differs is not given the other layout's BTF
    const changed = cloneObjectSpec(spec);
    const ds = changed.dataSections.find((s) => s.variables.length > 0);
    if (ds) {
      ds.variables = ds.variables.slice(0, -1);
      const e = await loadCollection(changed, { programs: [name], session });
      assert.notEqual(btfIdOf(e), btfIdOf(a));
      e.close();
    }
    session.close();
    // the kernel keeps what the loaded program references: still runs after the session closed
    assert.equal(typeof testRun(b.program(name), { ctxIn: new Uint8Array(24) }).retval, "number");
    await assert.rejects(loadCollection(cloneObjectSpec(spec), { programs: [name], session }), /after close/);
  } finally {
    for (const x of [a, b, c, d]) x.close();
    session.close();
  }
});
