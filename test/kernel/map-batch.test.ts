/**
 * Map batch operations (BPF_MAP_LOOKUP_BATCH / UPDATE_BATCH / DELETE_BATCH) on the host kernel: a whole
 * 10,000-entry hash map read in batches equals the element-by-element read; the pass ends at ENOENT whether
 * or not the last batch is full; small batches (and buckets larger than the batch: ENOSPC) still see every
 * element once; per-CPU values; a map type without batch operations falls back and says why.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfMap } from "../../src/kernel/map.ts";
import { MapBatchOps, mapCreate } from "../../src/sys/bpf-map.ts";
import { BPF_MAP_TYPE } from "../../src/sys/constants.ts";
import { possibleCpus } from "../../src/sys/cpus.ts";

function make(type: number, keySize: number, valueSize: number, maxEntries: number, name: string, flags = 0) {
  const fd = mapCreate({ type, keySize, valueSize, maxEntries, name, flags });
  return new BpfMap(fd, { name, type, keySize, valueSize, maxEntries, flags });
}

const sorted = <T>(xs: Array<[T, unknown]>) => [...xs].sort((a, b) => Number(a[0]) - Number(b[0]));

test("a 10,000-entry hash map read in batches equals the element-by-element read", () => {
  using m = make(BPF_MAP_TYPE.HASH, 4, 8, 10_000, "t_batch_big");
  const want: Array<[number, number]> = Array.from({ length: 10_000 }, (_, i) => [
    i * 7 + 1,
    i * 3 + 2 ** 40,
  ]);
  assert.equal(m.updateBatch(want), 10_000);
  const got = [...m.entries()];
  assert.equal(m.batchFallback, undefined, "batches were used");
  assert.deepEqual(sorted(got), want);
  const byElement = [...m.entriesRawByElement()].map(([k, v]) => [
    new DataView(k.buffer).getUint32(0, true),
    Number(new DataView(v.buffer).getBigUint64(0, true)),
  ]);
  assert.deepEqual(sorted(byElement as Array<[number, number]>), want);
  const raw = [...m.entriesRaw()];
  assert.equal(raw.length, 10_000);
  assert.equal(new Set(raw.map(([k]) => k.join())).size, 10_000, "no element twice");
});

test("a pass ends at ENOENT with a full last batch, a partial one, or an empty map", () => {
  for (const n of [0, 1, 1023, 1024, 2048, 2500]) {
    using m = make(BPF_MAP_TYPE.HASH, 4, 4, 4096, `t_end_${n}`);
    if (n) m.updateBatch(Array.from({ length: n }, (_, i) => [i, i + 1] as [number, number]));
    const seen = new Set<number>();
    const total = m.lookupBatchRaw((keys, values, count) => {
      const k = new DataView(keys.buffer);
      const v = new DataView(values.buffer);
      for (let i = 0; i < count; i++) {
        assert.equal(v.getUint32(i * 4, true), k.getUint32(i * 4, true) + 1);
        seen.add(k.getUint32(i * 4, true));
      }
    });
    assert.equal(total, n, `${n} entries`);
    assert.equal(seen.size, n);
    // a second pass starts over
    assert.equal(
      m.lookupBatchRaw(() => {}),
      n,
    );
  }
});

test("small batches and buckets larger than the batch (ENOSPC) still see every element once", () => {
  using m = make(BPF_MAP_TYPE.HASH, 4, 4, 2000, "t_small");
  m.updateBatch(Array.from({ length: 2000 }, (_, i) => [i, i] as [number, number]));
  for (const capacity of [1, 3, 7, 100]) {
    const b = new MapBatchOps(m.fd, 4, 4, "t_small", capacity);
    const seen: number[] = [];
    for (let n = b.lookupNext(); n > 0; n = b.lookupNext()) {
      const k = new DataView(b.keys.buffer);
      for (let i = 0; i < n; i++) seen.push(k.getUint32(i * 4, true));
    }
    assert.equal(seen.length, 2000, `capacity ${capacity}`);
    assert.equal(new Set(seen).size, 2000, `capacity ${capacity}: no element twice`);
    if (capacity === 1) assert.ok(b.capacity > 1, "a bucket of 2+ elements grew the arrays (ENOSPC)");
  }
});

test("array and per-CPU maps: batch reads, per-CPU values per possible CPU", () => {
  using a = make(BPF_MAP_TYPE.ARRAY, 4, 8, 300, "t_barray");
  a.updateBatch([
    [5, 55],
    [299, 2n ** 63n],
  ]);
  const all = new Map(a.entries());
  assert.equal(all.size, 300);
  assert.equal(all.get(5), 55);
  assert.equal(all.get(299), 2n ** 63n);
  assert.equal(all.get(0), 0);
  assert.equal(a.batchFallback, undefined);

  const cpus = possibleCpus();
  using p = make(BPF_MAP_TYPE.PERCPU_HASH, 4, 4, 64, "t_bpcpu");
  const want = Array.from(
    { length: 40 },
    (_, k) => [k, Array.from({ length: cpus }, (_, c) => k * 100 + c)] as [number, number[]],
  );
  assert.equal(p.updateBatch(want), 40);
  assert.deepEqual(sorted([...p.entries()]), want);
  assert.deepEqual(p.get(7), want[7]![1]);
});

test("deleteBatch and a failing updateBatch report what happened", () => {
  using m = make(BPF_MAP_TYPE.HASH, 4, 4, 100, "t_bdel");
  m.updateBatch(Array.from({ length: 10 }, (_, i) => [i, i] as [number, number]));
  assert.equal(m.deleteBatch([1, 2, 3]), 3);
  assert.deepEqual(
    [...m.keys()].sort((x, y) => Number(x) - Number(y)),
    [0, 4, 5, 6, 7, 8, 9],
  );
  assert.throws(() => m.deleteBatch([4, 42]), /BPF_MAP_DELETE_BATCH.*after 1 element.*ENOENT/);
  // 6 elements left in a 100-entry map: 94 more fit, the 95th fails (E2BIG)
  assert.throws(
    () => m.updateBatch(Array.from({ length: 100 }, (_, i) => [1000 + i, i] as [number, number])),
    /BPF_MAP_UPDATE_BATCH after 94 element\(s\): E2BIG/,
  );
  assert.equal(m.get(1000 + 93), 93);
  assert.equal(m.get(1000 + 94), undefined);
});

test("a map type without batch operations is read element by element and says why", () => {
  // stack trace maps have no batch ops (key: u32 stack id, value: up to 127 u64 addresses)
  using t = make(BPF_MAP_TYPE.STACK_TRACE, 4, 8 * 16, 16, "t_stacks");
  assert.deepEqual([...t.entries()], []);
  assert.match(t.batchFallback ?? "", /this map type has no batch operations \((ENOTSUPP|EOPNOTSUPP)\)/);
  assert.equal(
    t.lookupBatchRaw(() => {}),
    t.batchFallback,
  );
});
