import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfMap } from "../../src/kernel/map.ts";
import { mapCreate } from "../../src/sys/bpf-map.ts";
import { allIds } from "../../src/sys/bpf-obj.ts";
import { BPF_MAP_TYPE } from "../../src/sys/constants.ts";
import { possibleCpus } from "../../src/sys/cpus.ts";

function make(type: number, keySize: number, valueSize: number, maxEntries: number, name: string): BpfMap {
  const fd = mapCreate({ type, keySize, valueSize, maxEntries, name });
  return new BpfMap(fd, { name, type, keySize, valueSize, maxEntries, flags: 0 });
}

test("array map: typed set/get by size, raw bytes, info from the kernel", () => {
  using m = make(BPF_MAP_TYPE.ARRAY, 4, 8, 4, "t_array");
  m.set(2, 0x1_0000_0001);
  assert.equal(m.get(2), 0x1_0000_0001);
  assert.equal(m.get(1), 0);
  m.set(3, 2n ** 63n + 5n);
  assert.equal(m.get(3), 2n ** 63n + 5n, "64-bit values beyond 2^53 come back as bigint");
  const raw = m.lookupRaw(new Uint8Array([2, 0, 0, 0]))!;
  assert.deepEqual([...raw], [1, 0, 0, 0, 1, 0, 0, 0]);
  assert.equal(m.get(9), undefined, "out-of-range index is absent (ENOENT)");
  const info = m.info();
  assert.equal(info.name, "t_array");
  assert.equal(info.maxEntries, 4);
  assert.equal(info.valueSize, 8);
  assert.ok(allIds("map").includes(info.id));
});

test("hash map: keys/entries/delete iterate what the kernel holds", () => {
  using m = make(BPF_MAP_TYPE.HASH, 4, 4, 16, "t_hash");
  for (const k of [5, 7, 11]) m.set(k, k * 10);
  assert.deepEqual([...m.keys()].sort(), [11, 5, 7].sort());
  const entries = new Map([...m.entries()].map(([k, v]) => [k as number, v as number]));
  assert.deepEqual(
    [...entries].sort(),
    [
      [11, 110],
      [5, 50],
      [7, 70],
    ].sort(),
  );
  assert.equal(m.delete(7), true);
  assert.equal(m.delete(7), false);
  assert.equal(m.get(7), undefined);
  assert.throws(() => m.set(5, 1, 1 /* BPF_NOEXIST */), /EEXIST/);
});

test("per-CPU array: one value per possible CPU", () => {
  using m = make(BPF_MAP_TYPE.PERCPU_ARRAY, 4, 4, 1, "t_pcpu");
  const n = possibleCpus();
  m.set(
    0,
    Array.from({ length: n }, (_, i) => i + 100),
  );
  assert.deepEqual(
    m.get(0),
    Array.from({ length: n }, (_, i) => i + 100),
  );
});

test("closing a map removes it from the kernel", () => {
  const m = make(BPF_MAP_TYPE.ARRAY, 4, 4, 1, "t_close");
  const id = m.info().id;
  m.close();
  m.close();
  assert.equal(m.closed, true);
  assert.equal(allIds("map").includes(id), false);
  assert.throws(() => m.fd, /after close/);
});
