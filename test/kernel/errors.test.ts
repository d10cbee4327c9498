import assert from "node:assert/strict";
import { test } from "node:test";
import { isKfuncKitError, VerifierError } from "../../src/errors.ts";
import { liveObjectCount, loadCollection } from "../../src/kernel/index.ts";
import { allIds } from "../../src/sys/bpf-obj.ts";
import { fixtureSpec, requireBpf } from "./load-helpers.ts";

async function rejection(define: string): Promise<unknown> {
  const before = { progs: allIds("prog").length, maps: allIds("map").length, live: liveObjectCount() };
  try {
    const c = await loadCollection(fixtureSpec("load-errors", [define]));
    c.close();
    return undefined;
  } catch (e) {
    // transactional: nothing created by the failed load survives
    assert.equal(allIds("prog").length, before.progs);
    assert.equal(allIds("map").length, before.maps);
    assert.equal(liveObjectCount(), before.live);
    return e;
  }
}

test("a missing non-weak kfunc fails before PROG_LOAD with libbpf's message and a module hint", async (t) => {
  if (!requireBpf(t)) return;
  const e = await rejection("MISSING_STRONG");
  assert.ok(isKfuncKitError(e));
  assert.equal(e.code, "KFUNC");
  assert.match(
    e.message,
    /extern \(func ksym\) 'bpf_kfunc_kit_missing_strong': not found in kernel or module BTFs/,
  );
  assert.match(e.hint ?? "", /module .*loaded.*BTF/);
});

test("an unguarded call to a missing weak kfunc: poisoned, and the log line is rewritten", async (t) => {
  if (!requireBpf(t)) return;
  const e = await rejection("MISSING_WEAK_UNGUARDED");
  assert.ok(e instanceof VerifierError, String(e));
  assert.match(e.message, /kfunc 'bpf_kfunc_kit_missing_weak' is referenced but wasn't resolved/);
  assert.ok(
    e.log.some((l) => l.includes("kfunc 'bpf_kfunc_kit_missing_weak' is referenced but wasn't resolved")),
  );
  assert.match(e.hint ?? "", /bpf_ksym_exists/);
});

test("leaked reference: VerifierError with the C source line and a release hint", async (t) => {
  if (!requireBpf(t)) return;
  const e = await rejection("LEAK");
  assert.ok(e instanceof VerifierError, String(e));
  assert.match(e.message, /Unreleased reference/);
  assert.doesNotMatch(e.message, /processed \d+ insns/);
  assert.match(e.message, /load-errors\.bpf\.c:\d+: /);
  assert.match(e.hint ?? "", /bpf_task_release/);
  assert.ok(e.log.length > 3, "full log kept on .log");
});

test("missing NULL check: hint names the register and the fix, with the source line", async (t) => {
  if (!requireBpf(t)) return;
  const e = await rejection("NULL_DEREF");
  assert.ok(e instanceof VerifierError, String(e));
  assert.match(e.message, /invalid mem access 'ptr_or_null_/);
  assert.match(e.message, /load-errors\.bpf\.c:\d+: /);
  assert.match(e.hint ?? "", /NULL check/);
});

test("kfunc not registered for the program type: hint about register_btf_kfunc_id_set", async (t) => {
  if (!requireBpf(t)) return;
  const e = await rejection("NOT_ALLOWED");
  assert.ok(e instanceof VerifierError, String(e));
  assert.match(e.message, /calling kernel function bpf_task_from_pid is not allowed/);
  assert.match(e.hint ?? "", /register_btf_kfunc_id_set/);
});

test("sleepable kfunc from a non-sleepable program: hint about sleepable sections", async (t) => {
  if (!requireBpf(t)) return;
  const e = await rejection("SLEEPABLE_KFUNC");
  assert.ok(e instanceof VerifierError, String(e));
  assert.match(e.message, /program must be sleepable/);
  assert.match(e.hint ?? "", /sleepable section/);
});

test("fentry where the kernel refuses trampolines: EPERM with an empty log gets the tp_btf / VM hint", async (t) => {
  if (!requireBpf(t)) return;
  const e = await rejection("FENTRY");
  if (e === undefined) {
    t.skip(
      "this kernel accepts fentry programs (trampolines work), so the EPERM hint cannot be observed here",
    );
    return;
  }
  assert.ok(e instanceof VerifierError, String(e));
  assert.match(e.message, /EPERM/);
  assert.equal(e.log.length, 0);
  assert.match(e.hint ?? "", /tp_btf.*kfunc vm run/s);
});
