import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { attach } from "../../src/kernel/attach/index.ts";
import { liveObjectCount, loadCollectionSync, setGlobal } from "../../src/kernel/index.ts";
import { allIds } from "../../src/sys/bpf-obj.ts";
import { fixtureSpec, requireBpf } from "./load-helpers.ts";

const CYCLES = 1000;

function snapshot() {
  return {
    fds: readdirSync("/proc/self/fd").length,
    progs: allIds("prog").sort(),
    maps: allIds("map").sort(),
    links: allIds("link").sort(),
    live: liveObjectCount(),
  };
}

test(`fd hygiene: ${CYCLES} open→load→attach→close cycles leave no fd and no kernel object behind`, (t) => {
  if (!requireBpf(t)) return;
  const spec = fixtureSpec("load-hygiene");
  // Warm-up: vmlinux BTF, feature probes and koffi bindings are process-wide caches, not leaks.
  loadCollectionSync(spec).close();
  const before = snapshot();
  let attached = 0;
  for (let i = 0; i < CYCLES; i++) {
    setGlobal(spec, "slot", i % 4);
    const coll = loadCollectionSync(spec);
    try {
      const link = attach(coll.program("count_enter"));
      attached++;
      coll.map("counters").get(i % 4);
      link.close();
    } finally {
      coll.close();
    }
  }
  assert.equal(attached, CYCLES);
  // Programs/maps behind detached links are freed after an RCU grace period: let the kernel catch up.
  // "Leftover" = an id that exists now and did not exist before the cycles.
  const leftovers = (now: number[], then: number[]) => now.filter((id) => !then.includes(id));
  let after = snapshot();
  const pending = () =>
    leftovers(after.progs, before.progs).length +
    leftovers(after.maps, before.maps).length +
    leftovers(after.links, before.links).length;
  for (let i = 0; i < 100 && pending() > 0; i++) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    after = snapshot();
  }
  assert.equal(after.fds, before.fds, "/proc/self/fd count unchanged");
  assert.deepEqual(leftovers(after.progs, before.progs), [], "no leftover programs (BPF_PROG_GET_NEXT_ID)");
  assert.deepEqual(leftovers(after.maps, before.maps), [], "no leftover maps (BPF_MAP_GET_NEXT_ID)");
  assert.deepEqual(leftovers(after.links, before.links), [], "no leftover links (BPF_LINK_GET_NEXT_ID)");
  assert.equal(after.live, before.live, "no live objects left in the registry");
});

test("a failed load in the middle of a collection closes what it created", (t) => {
  if (!requireBpf(t)) return;
  const spec = fixtureSpec("load-hygiene");
  const before = snapshot();
  // Corrupt the program after the maps: map creation succeeds, PROG_LOAD fails.
  const prog = spec.programs[0]!;
  const bad = new Uint8Array(prog.instructions);
  bad.fill(0, bad.length - 8); // drop the final exit
  prog.instructions = bad;
  assert.throws(() => loadCollectionSync(spec), { code: "VERIFIER" });
  const after = snapshot();
  assert.equal(after.fds, before.fds);
  assert.deepEqual(
    after.maps.filter((id) => !before.maps.includes(id)),
    [],
  );
  assert.deepEqual(
    after.progs.filter((id) => !before.progs.includes(id)),
    [],
  );
});
