import assert from "node:assert/strict";
import { test } from "node:test";
import { BtfError } from "../../src/errors.ts";
import { type FuzzTarget, mutate, prng, runFuzz } from "./harness.ts";

const seeds = [{ name: "s", bytes: new Uint8Array(64).map((_, i) => i) }];
const noGc = () => {};
const opts = { seed: 7, cases: 50, maxCaseMs: 1000, maxHeapGrowthBytes: 1 << 30 };

test("fuzz harness: the PRNG and mutations are deterministic for a seed", () => {
  const a = prng(42);
  const b = prng(42);
  const xs = Array.from({ length: 5 }, () => a());
  assert.deepEqual(
    xs,
    Array.from({ length: 5 }, () => b()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const m1 = mutate(seeds[0]!, seeds, prng(9));
  const m2 = mutate(seeds[0]!, seeds, prng(9));
  assert.deepEqual(m1, m2);
  assert.notDeepEqual(m1.bytes, seeds[0]!.bytes, `a mutation changes the input (${m1.mutation})`);
});

test("fuzz harness: reports non-kfunc-kit errors, hangs and heap growth; accepts KfuncKitError", () => {
  const ok: FuzzTarget = {
    name: "ok",
    parse: (b) => {
      if (b[0] !== 0) throw new BtfError("x", undefined, "rejected");
    },
    seeds,
  };
  assert.deepEqual(runFuzz([ok], opts, noGc).failures, []);

  const crash: FuzzTarget = {
    name: "crash",
    parse: (b) => {
      if (b.length < 64) throw new TypeError("boom");
    },
    seeds,
  };
  const r1 = runFuzz([crash], opts, noGc);
  assert.ok(r1.failures.length > 0);
  assert.match(r1.failures[0]!.problem, /non-kfunc-kit error: TypeError: boom/);
  assert.equal(r1.failures[0]!.target, "crash");

  const slow: FuzzTarget = {
    name: "slow",
    parse: () => {
      const end = performance.now() + 30;
      while (performance.now() < end) {}
    },
    seeds,
  };
  const r2 = runFuzz([slow], { ...opts, cases: 2, maxCaseMs: 5 }, noGc);
  assert.match(r2.failures[0]?.problem ?? "", /took \d+ ms \(bound 5 ms\): a hang\?/);

  // large typed arrays live off the V8 heap: leak plain objects, which heapUsed counts
  const objs: object[] = [];
  const leak2: FuzzTarget = {
    name: "leak2",
    parse: () => {
      for (let i = 0; i < 20_000; i++) objs.push({ i, s: `x${i}` });
    },
    seeds,
  };
  const r4 = runFuzz([leak2], { ...opts, cases: 20, maxHeapGrowthBytes: 4 << 20 }, noGc);
  assert.match(r4.failures.at(-1)?.problem ?? "", /heap grew by [\d.]+ MiB/);
  assert.ok(objs.length > 0);
});
