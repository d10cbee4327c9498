/**
 * The loader's own bookkeeping, without root and without a kernel: loadCollectionSync with a FakeSys
 * (test/kernel/fake-sys.ts) and a fake Environment. A real clang object (test/fixtures/loader-fake.bpf.c);
 * only the kernel is stood in for. Proves the order of the bpf(2) commands, that a failure at any of them
 * closes every fd created before it (no leak), and that the error names the map or program.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadCollectionSync } from "../../src/kernel/collection.ts";
import { parseObject } from "../../src/object/index.ts";
import type { ObjectSpec } from "../../src/object/types.ts";
import { compileFixture } from "../helpers/index.ts";
import { FakeSys, fakeEnv } from "./fake-sys.ts";
import { fixtureSpec } from "./load-helpers.ts";

let cached: ObjectSpec | undefined;
function spec(): ObjectSpec {
  if (!cached) {
    const obj = compileFixture("loader-fake");
    cached = parseObject(readFileSync(obj), obj);
  }
  return cached;
}

const openFds = () => readdirSync("/proc/self/fd").length;
const EINVAL = 22;

test("the loader issues BTF, maps in spec order, global data, programs, then prog-array slots, through `sys`", () => {
  const sys = new FakeSys();
  const c = loadCollectionSync(spec(), { sys, env: fakeEnv });
  assert.deepEqual(
    sys.calls.map((x) => `${x.op} ${x.what}${x.withBtf ? " +btf" : ""}`),
    [
      `btfLoad BTF of ${spec().source}`,
      "mapCreate map 'jumps' +btf",
      "mapCreate map 'counts' +btf",
      "mapCreate map 'events'", // ring buffers are created without key/value BTF
      "mapCreate map '.data' +btf",
      "mapUpdate map '.data'", // the initial value (seen = 1)
      "mapCreate map '.rodata' +btf",
      "mapUpdate map '.rodata'",
      "mapFreeze map '.rodata'",
      "progLoad program 'tail_target'",
      "progLoad program 'count_packets'",
      "progLoad program 'emit'",
      "mapUpdate map 'jumps'", // slot 1 = tail_target
    ],
  );
  assert.deepEqual([...c.programs.keys()], ["tail_target", "count_packets", "emit"]);
  assert.equal(
    c.maps.get("counts")?.fd,
    sys.handed[2]!.value,
    "the collection owns the fds the backend made",
  );
  assert.ok(sys.handed.every((fd) => !fd.closed));
  c.close();
  assert.deepEqual(
    sys.handed.filter((fd) => !fd.closed).map((fd) => fd.what),
    [],
    "closing the collection closes every fd",
  );
});

test("a failure at any bpf(2) call closes every fd made before it, and the error names the object", () => {
  const total = (() => {
    const sys = new FakeSys();
    loadCollectionSync(spec(), { sys, env: fakeEnv }).close();
    return sys.calls.length;
  })();
  const before = openFds();
  let failures = 0;
  for (let n = 1; n <= total; n++) {
    const sys = new FakeSys({ n, errno: EINVAL });
    let error: unknown;
    try {
      loadCollectionSync(spec(), { sys, env: fakeEnv }).close();
    } catch (e) {
      error = e;
    }
    const failed = sys.calls[n - 1]!;
    const leaked = sys.handed.filter((fd) => !fd.closed).map((fd) => fd.what);
    assert.deepEqual(leaked, [], `call ${n} (${failed.op} ${failed.what}) failed: these fds stayed open`);
    if (failed.op === "mapCreate" && failed.withBtf) {
      // libbpf's fallback: the map is created again without BTF, and the load goes on
      assert.equal(error, undefined, `call ${n}: a map refused with BTF is retried without`);
      assert.deepEqual(sys.calls[n], { op: "mapCreate", what: failed.what, withBtf: false });
      continue;
    }
    failures++;
    assert.ok(error instanceof Error, `call ${n} (${failed.op} ${failed.what}) failed but the load did not`);
    const name = failed.what.startsWith("BTF of") ? spec().source : /'([^']*)'/.exec(failed.what)![1]!;
    assert.ok(
      error.message.includes(name),
      `call ${n} (${failed.op} ${failed.what}): the error names '${name}': ${error.message}`,
    );
    assert.equal(sys.calls.length, n, `call ${n}: nothing is issued after the failure`);
  }
  assert.ok(failures >= 8, `${failures} of ${total} calls failed the load`);
  assert.equal(openFds(), before, "no fd of the process is left open");
});

test("a program the fake verifier refuses is a VerifierError that names it; the maps are closed", () => {
  const sys = new FakeSys({ n: 11, errno: 13 }); // the second progLoad: count_packets, EACCES
  assert.throws(
    () => loadCollectionSync(spec(), { sys, env: fakeEnv }),
    (e: Error) => e.name === "VerifierError" && /count_packets/.test(e.message) && /EACCES/.test(e.message),
  );
  assert.equal(sys.calls[10]!.what, "program 'count_packets'");
  assert.ok(sys.handed.every((fd) => fd.closed));
});

test(".kconfig externs are answered by the environment's kernel config, not the host's", () => {
  const spec = fixtureSpec("load-kconfig");
  const config = {
    file: "fake-config",
    values: new Map([
      ["CONFIG_BPF_SYSCALL", "y"],
      ["CONFIG_KFUNC_KIT_TRISTATE", "m"],
      ["CONFIG_KFUNC_KIT_INT", "42"],
      ["CONFIG_KFUNC_KIT_STR", '"abc"'],
    ]),
  };
  const sys = new FakeSys();
  loadCollectionSync(spec, { sys, env: { ...fakeEnv, kernelConfig: () => config } }).close();
  const update = sys.calls.find((c) => c.op === "mapUpdate" && c.what === "map '.kconfig'");
  assert.ok(update?.value, sys.calls.map((c) => `${c.op} ${c.what}`).join(", "));
  const at = (name: string) => spec.externs.find((e) => e.name === name)!;
  const v = new DataView(update.value.buffer);
  assert.equal(update.value[at("CONFIG_BPF_SYSCALL").offset], 1);
  assert.equal(v.getUint32(at("CONFIG_KFUNC_KIT_TRISTATE").offset, true), 2, "m → LIBBPF_TRISTATE_MODULE");
  assert.equal(v.getInt32(at("CONFIG_KFUNC_KIT_INT").offset, true), 42);
  const str = at("CONFIG_KFUNC_KIT_STR");
  assert.equal(new TextDecoder().decode(update.value.subarray(str.offset, str.offset + 3)), "abc");
  assert.equal(v.getInt32(at("CONFIG_KFUNC_KIT_ABSENT").offset, true), 0);

  const none = new FakeSys();
  assert.throws(
    () =>
      loadCollectionSync(spec, {
        sys: none,
        env: { ...fakeEnv, kernelConfig: () => ({ ...config, values: new Map() }) },
      }),
    /extern \(kconfig\) 'CONFIG_BPF_SYSCALL': not set in the running kernel's config \(fake-config\)/,
  );
  assert.ok(none.handed.every((fd) => fd.closed));
});

test("pinned maps: created and pinned once, reused when compatible, refused by name when not; a failed load unpins", () => {
  const pinPath = mkdtempSync(join(tmpdir(), "kfunc-kit-fake-bpffs-"));
  try {
    const spec = fixtureSpec("load-pin");
    const sys = new FakeSys();
    loadCollectionSync(spec, { sys, env: fakeEnv, pinPath }).close();
    const path = join(pinPath, "shared_counts");
    assert.deepEqual(
      sys.calls.filter((c) => c.op !== "btfLoad" && c.op !== "progLoad").map((c) => `${c.op} ${c.what}`),
      [
        `objGet map 'shared_counts' at ${path}`,
        "mapCreate map 'shared_counts'",
        `objPin map 'shared_counts' at ${path}`,
      ],
    );
    assert.ok(existsSync(path));

    // a second load finds the pin and creates no map
    const again = new FakeSys();
    again.pinned.set(path, sys.pinned.get(path)!);
    loadCollectionSync(spec, { sys: again, env: fakeEnv, pinPath }).close();
    assert.equal(again.calls.filter((c) => c.op === "mapCreate").length, 0);
    assert.ok(again.handed.every((fd) => fd.closed));

    // an incompatible pin (another max_entries) is refused, naming the map and the path
    const bigger = new FakeSys();
    bigger.pinned.set(path, { ...sys.pinned.get(path)!, maxEntries: 8 });
    assert.throws(
      () => loadCollectionSync(spec, { sys: bigger, env: fakeEnv, pinPath }),
      (e: Error) => /map 'shared_counts': pinned map at '.*shared_counts' is incompatible/.test(e.message),
    );
    assert.ok(bigger.handed.every((fd) => fd.closed));

    // a load that pinned and then failed (the program) removes its pin again
    rmSync(path);
    const calls = sys.calls.length;
    const failing = new FakeSys({ n: calls, errno: 13 }); // the last call: progLoad
    assert.equal(sys.calls[calls - 1]!.op, "progLoad");
    assert.throws(() => loadCollectionSync(spec, { sys: failing, env: fakeEnv, pinPath }), /count_enter/);
    assert.ok(failing.calls.some((c) => c.op === "objPin"));
    assert.equal(existsSync(path), false, "the failed load's pin is gone");
    assert.ok(failing.handed.every((fd) => fd.closed));
  } finally {
    rmSync(pinPath, { recursive: true, force: true });
  }
});
