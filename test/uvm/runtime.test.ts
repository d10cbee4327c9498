import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { isKfuncKitError } from "../../src/errors.ts";
import { parseObject } from "../../src/object/index.ts";
import { UvmFault } from "../../src/uvm/fault.ts";
import { sourceParamNames } from "../../src/uvm/host.ts";
import type { RingBufMap } from "../../src/uvm/maps.ts";
import { UvmObject, type UvmOptions } from "../../src/uvm/object.ts";
import { compileFixture } from "../helpers/index.ts";

// Real clang objects in the userspace runtime, each case in both engines.
const spec = () => {
  const path = compileFixture("uvm-runtime");
  return parseObject(new Uint8Array(readFileSync(path)), path);
};

const kfuncs = {
  uvm_add32: (a: number, b: number) => (a + b) >>> 0,
  uvm_sum_bytes: (buf: Uint8Array | null, sz: number) => {
    assert.equal(buf!.byteLength, sz);
    return BigInt(buf!.reduce((s, x) => s + x, 0));
  },
  uvm_mix64: (a: bigint, b: number) => a * 2n + BigInt(b),
};

function args(a: bigint, b = 0n, n = 0n, idx = 0n): Uint8Array {
  const v = new DataView(new ArrayBuffer(32));
  v.setBigUint64(0, a, true);
  v.setBigUint64(8, b, true);
  v.setBigUint64(16, n, true);
  v.setBigUint64(24, idx, true);
  return new Uint8Array(v.buffer);
}

function load(engine: "jit" | "js" | "interp", extra: UvmOptions = {}): UvmObject {
  const s = spec();
  return new UvmObject(s, { engine, kfuncs, paramNames: sourceParamNames(s), ...extra }).load();
}

function faultOf(fn: () => unknown): UvmFault {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UvmFault, `expected a UvmFault, got ${e}`);
    return e;
  }
  assert.fail("expected a fault");
}

for (const engine of ["jit", "js", "interp"] as const) {
  test(`${engine}: globals are array maps, .rodata read-only to the program, all readable and writable from TS`, () => {
    const o = load(engine);
    o.variable("data_counter").set([10, 0, 0, 0, 0, 0, 0, 0]);
    o.program("globals").run({ ctx: args(5n) });
    const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    assert.equal(dv(o.variable("bss_out")).getBigUint64(0, true), 5n * 3n + 10n);
    assert.equal(dv(o.variable("data_counter")).getBigUint64(0, true), 11n);
    dv(o.variable("ro_factor")).setBigUint64(0, 100n, true);
    o.program("globals").run({ ctx: args(2n) });
    assert.equal(dv(o.variable("bss_out")).getBigUint64(0, true), 2n * 100n + 11n);
    assert.equal(o.data(".rodata").bytes.byteLength >= 8, true);
  });

  test(`${engine}: map helpers with lddw map forms; hash and array contents visible from TS`, () => {
    const o = load(engine);
    const r = o.program("maps").run({ ctx: args(1234n, 5n) });
    assert.equal(r.r0, 1234n);
    const key = new Uint8Array([1, 0, 0, 0]);
    assert.deepEqual([...o.map("hash").lookup(key)!], [0xd2, 0x04, 0, 0, 0, 0, 0, 0]);
    o.program("maps").run({ ctx: args(1n, 6n) });
    assert.equal(
      new DataView(o.map("arr").lookup(key)!.buffer, o.map("arr").lookup(key)!.byteOffset).getBigUint64(
        0,
        true,
      ),
      11n,
    );
  });

  test(`${engine}: ring buffer reserve/submit/output consumed from TS; bpf_printk in trace_pipe format`, () => {
    const o = load(engine);
    assert.equal(o.program("ring").run({ ctx: args(0x1122n, 0x33n) }).r0, 0n);
    const recs: bigint[] = [];
    const rb = o.map("rb") as RingBufMap;
    assert.equal(
      rb.consume((d) => recs.push(new DataView(d.buffer, d.byteOffset).getBigUint64(0, true))),
      2,
    );
    assert.deepEqual(recs, [0x1122n, 0x33n]);
    assert.equal(o.trace.length, 1);
    assert.match(
      o.trace[0]!,
      /^ +kfunc-uvm-\d+ +\[000\] d\.\.31 +\d+\.\d{6}: bpf_trace_printk: ring a=4386 b=51$/,
    );
  });

  test(`${engine}: kfuncs: 32-bit args as number, 64-bit as bigint, pointer + __sz as a view; weak absent is false`, () => {
    const o = load(engine);
    // add32(7, 9) + sum(1..8) + mix64(7, -2)
    assert.equal(o.program("kfuncs").run({ ctx: args(7n, 9n) }).r0, 16n + 36n + 12n);
    const seen: unknown[] = [];
    const o2 = load(engine, {
      kfuncs: {
        ...kfuncs,
        uvm_add32: (a: number, b: number) => {
          seen.push(a, b);
          return 0;
        },
        uvm_absent: () => 0,
      },
    });
    assert.equal(
      o2.program("kfuncs").run({ ctx: args(0xffffffffn, 1n) }).r0,
      36n + (0xffffffffn * 2n - 2n) + 1000n,
    );
    assert.deepEqual(seen, [0xffffffff, 1]);
  });

  test(`${engine}: bpf-to-bpf call: the callee clobbers r6-r9, the caller's values survive`, () => {
    const o = load(engine);
    assert.equal(o.program("calls").run({ ctx: args(2n, 3n) }).r0, 6n + 2000n + 300n + 30n + 5n);
  });

  test(`${engine}: bpf_loop runs the callback subprogram; bpf_tail_call jumps and a missing slot falls through`, () => {
    const o = load(engine);
    assert.equal(o.program("looper").run({ ctx: args(0n, 0n, 10n) }).r0, 45n);
    assert.equal(o.program("tailer").run({ ctx: args(0n, 0n, 0n, 1n) }).r0, 42n);
    assert.equal(o.program("tailer").run({ ctx: args(0n, 0n, 0n, 0n) }).r0, 7n);
  });

  test(`${engine}: a wild access stops the program with pc and source line`, () => {
    const o = load(engine);
    assert.equal(o.program("wild").run({ ctx: args(0n, 0n, 0n, 24n) }).r0, 0n);
    const f = faultOf(() => o.program("wild").run({ ctx: args(0n, 0n, 0n, 4096n) }));
    assert.equal(f.kind, "wild-access");
    assert.equal(f.program, "wild");
    assert.match(f.line ?? "", /uvm-runtime\.bpf\.c:\d+: return \*\(u64 \*\)\(\(char \*\)p \+ ctx->idx\);/);
    assert.match(f.message, /8-byte load at 0x[0-9a-f]+/);
  });

  test(`${engine}: the instruction budget stops an over-long loop`, () => {
    const o = load(engine, { budget: 10_000 });
    assert.equal(o.program("spin").run({ ctx: args(0n, 0n, 100n) }).r0, 100n);
    const f = faultOf(() => o.program("spin").run({ ctx: args(0n, 0n, 1n << 40n) }));
    assert.equal(f.kind, "budget");
    assert.match(f.line ?? "", /uvm-runtime\.bpf\.c:\d+:/);
  });

  test(`${engine}: recursion deeper than the frame limit is a stack overflow`, () => {
    const o = load(engine);
    assert.equal(o.program("deep").run({ ctx: args(0n, 0n, 5n) }).r0, 5n);
    const f = faultOf(() => o.program("deep").run({ ctx: args(0n, 0n, 100n) }));
    assert.equal(f.kind, "stack-overflow");
    assert.match(f.line ?? "", /uvm-runtime\.bpf\.c:\d+:.*recurse/);
  });
}

test("a kfunc with the wrong arity is refused at bind time, naming the prototype", () => {
  const o = new UvmObject(spec());
  assert.throws(
    () => o.kfunc("uvm_add32", (a: number) => a),
    (e: Error) =>
      isKfuncKitError(e) &&
      /takes 1 argument\(s\), the prototype 'u32 uvm_add32\(u32, u32\)' has 2/.test(e.message),
  );
  assert.throws(() => o.kfunc("no_such_kfunc", () => 0), /no kfunc extern named 'no_such_kfunc'/);
});

test("a missing (non-weak) kfunc fails the load; a missing weak one does not", () => {
  const { uvm_add32: _, ...rest } = kfuncs;
  assert.throws(
    () => new UvmObject(spec(), { kfuncs: rest }).load(),
    (e: Error) => isKfuncKitError(e) && /kfunc 'uvm_add32' has no implementation/.test(e.message),
  );
  assert.doesNotThrow(() => new UvmObject(spec(), { kfuncs }).load());
});

test("an unknown helper is refused at load, by name and source line", () => {
  const path = compileFixture("uvm-unknown-helper");
  const s = parseObject(new Uint8Array(readFileSync(path)), path);
  const f = faultOf(() => new UvmObject(s).load());
  assert.equal(f.kind, "unknown-helper");
  assert.match(f.message, /helper bpf_get_current_task \(#35\) is not available/);
  assert.match(f.line ?? "", /uvm-unknown-helper\.bpf\.c:\d+: return bpf_get_current_task\(\) != 0;/);
});
