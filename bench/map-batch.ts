/**
 * Reading a whole 10,000-entry hash map (u32 → u64): BPF_MAP_LOOKUP_BATCH (BpfMap.entries(), typed, and
 * lookupBatchRaw) against one GET_NEXT_KEY + LOOKUP_ELEM per element (entriesRawByElement), alternating
 * in one process; medians.
 *
 *   node --import tsx bench/map-batch.ts [entries=10000] [rounds=15]
 */
import { BpfMap } from "../src/kernel/map.ts";
import { mapCreate } from "../src/sys/bpf-map.ts";
import { BPF_MAP_TYPE } from "../src/sys/constants.ts";

const N = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 15);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const props = {
  name: "bench_hash",
  type: BPF_MAP_TYPE.HASH,
  keySize: 4,
  valueSize: 8,
  maxEntries: N,
  flags: 0,
};
using m = new BpfMap(mapCreate(props), props);
m.updateBatch(Array.from({ length: N }, (_, i) => [i * 3 + 1, i * 7] as [number, number]));

const ways: Record<string, () => number> = {
  "entries() (batches, typed)": () => {
    let n = 0;
    for (const _e of m.entries()) n++;
    return n;
  },
  "lookupBatchRaw (batches, raw)": () => m.lookupBatchRaw(() => {}) as number,
  "entriesRawByElement (2 syscalls/element)": () => {
    let n = 0;
    for (const _e of m.entriesRawByElement()) n++;
    return n;
  },
};
const times = new Map<string, number[]>(Object.keys(ways).map((k) => [k, []]));
for (let r = 0; r < ROUNDS + 2; r++) {
  for (const [name, f] of Object.entries(ways)) {
    const t0 = process.hrtime.bigint();
    const n = f();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (n !== N) throw new Error(`${name}: ${n} entries, expected ${N}`);
    if (r >= 2) times.get(name)!.push(ms); // 2 warm-up rounds
  }
}
const base = median(times.get("entriesRawByElement (2 syscalls/element)")!);
process.stdout.write(`reading a ${N}-entry hash map, medians of ${ROUNDS} rounds\n`);
for (const [name, t] of times) {
  const ms = median(t);
  process.stdout.write(
    `  ${name.padEnd(42)} ${ms.toFixed(2).padStart(8)} ms  ${(base / ms).toFixed(1)}× faster than by element\n`,
  );
}
