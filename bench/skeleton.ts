/**
 * The typed skeleton's hot paths against their untyped baselines, both sides in one run (alternating
 * blocks, medians): an array map lookup through the skeleton (`obj.maps.lookups.get(3)`, a u32 key encoded
 * and a u64 value decoded to a bigint) vs `map.ops.lookupRaw()` on the same map; typed ring-buffer records
 * (`obj.maps.rb.consume(cb(rec))`, each record decoded to `{ seq: bigint, value: bigint }`) vs libbpf 1.1's
 * `ring_buffer__consume` (bench/c/ringbuf.c) on the same producer.
 *
 *   node --import tsx bench/skeleton.ts [records-per-round=500000] [rounds=9] [--json]
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileBpf } from "../src/build/clang.ts";
import { testRun } from "../src/kernel/test-run.ts";
import { generateSkeleton } from "../src/skeleton/generate.ts";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "out");
mkdirSync(out, { recursive: true });
const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const N = Number(args[0] ?? 500_000);
const ROUNDS = Number(args[1] ?? 9);
const LOOKUPS = Number(process.env["LOOKUPS"] ?? 500_000);

const obj = compileBpf(join(here, "c", "skeleton-prog.bpf.c"), { output: join(out, "skeleton-prog.bpf.o") });
// outside the repository: the root tsconfig type-checks bench/
const skelFile = join(tmpdir(), `kfunc-kit-bench-skeleton-${process.pid}.skel.ts`);
const gen = generateSkeleton(new Uint8Array(readFileSync(obj)), obj, {
  name: "bench",
  importPath: join(here, "..", "src", "skeleton", "index.ts"),
});
writeFileSync(skelFile, gen.ts);
const peer = join(out, "ringbuf-libbpf");
execFileSync("gcc", ["-O2", "-o", peer, join(here, "c", "ringbuf.c"), "-lbpf"], { stdio: "inherit" });

interface Rec {
  seq: bigint;
  value: bigint;
}
interface BenchSkeleton {
  load(): Promise<{
    maps: {
      lookups: {
        get(k: number): bigint | undefined;
        set(k: number, v: bigint): void;
        map: { ops: { lookupRaw(): boolean; key: Uint8Array } };
      };
      rb: {
        consume(cb: (r: Rec) => unknown): number;
        ring: { consumeRaw(cb: (d: Uint8Array, o: number, n: number) => unknown): number };
      };
    };
    programs: { produce: Parameters<typeof testRun>[0] };
    close(): void;
  }>;
}
const { open } = (await import(skelFile)) as { open: () => BenchSkeleton };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const obj1 = await open().load();
const lookups = obj1.maps.lookups;
lookups.set(3, 42n);
const ops = lookups.map.ops;

function rawLookupNs(): number {
  new DataView(ops.key.buffer, ops.key.byteOffset).setUint32(0, 3, true);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) ops.lookupRaw();
  return Number(process.hrtime.bigint() - t0) / LOOKUPS;
}
function typedLookupNs(): number {
  let sum = 0n;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) sum += lookups.get(3)!;
  const ns = Number(process.hrtime.bigint() - t0) / LOOKUPS;
  if (sum !== 42n * BigInt(LOOKUPS)) throw new Error(`typed lookups summed ${sum}`);
  return ns;
}

function typedRecords(rounds: number): number[] {
  const rates: number[] = [];
  const pkt = new Uint8Array(64);
  let sum = 0n;
  for (let i = 0; i < rounds; i++) {
    testRun(obj1.programs.produce, { dataIn: pkt, repeat: N });
    let count = 0;
    const t0 = process.hrtime.bigint();
    obj1.maps.rb.consume((r) => {
      sum += r.value;
      count++;
    });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (count !== N) throw new Error(`round ${i}: consumed ${count} records, expected ${N}`);
    rates.push(count / s);
  }
  if (sum < 0n) throw new Error("unreachable");
  return rates;
}

/** The floor for any decoding that makes a bigint: consumeRaw, one getBigUint64 per record. */
function rawBigints(rounds: number): number[] {
  const rates: number[] = [];
  const pkt = new Uint8Array(64);
  let sum = 0n;
  let data: Uint8Array | undefined;
  let view: DataView | undefined;
  for (let i = 0; i < rounds; i++) {
    testRun(obj1.programs.produce, { dataIn: pkt, repeat: N });
    let count = 0;
    const t0 = process.hrtime.bigint();
    obj1.maps.rb.ring.consumeRaw((d, o) => {
      if (d !== data) {
        data = d;
        view = new DataView(d.buffer, d.byteOffset, d.byteLength);
      }
      sum += view!.getBigUint64(o + 8, true);
      count++;
    });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (count !== N) throw new Error(`round ${i}: consumed ${count} records, expected ${N}`);
    rates.push(count / s);
  }
  if (sum < 0n) throw new Error("unreachable");
  return rates;
}

function libbpf(rounds: number): number[] {
  const text = execFileSync(peer, [obj, String(N), String(rounds)], { encoding: "utf8" });
  return text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { records: number; seconds: number })
    .map((r) => {
      if (r.records !== N) throw new Error(`libbpf consumed ${r.records}, expected ${N}`);
      return r.records / r.seconds;
    });
}

// warm-up (JIT, page faults of the fresh mappings), then alternate
rawLookupNs();
typedLookupNs();
typedRecords(2);
rawBigints(2);
libbpf(2);
const raw: number[] = [];
const typed: number[] = [];
const recs: number[] = [];
const rawBig: number[] = [];
const c: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  raw.push(rawLookupNs());
  typed.push(typedLookupNs());
}
for (let i = 0; i < 3; i++) {
  recs.push(...typedRecords(Math.ceil(ROUNDS / 3)));
  c.push(...libbpf(Math.ceil(ROUNDS / 3)));
  rawBig.push(...rawBigints(Math.ceil(ROUNDS / 3)));
}
obj1.close();
const res = {
  lookups: LOOKUPS,
  records: N,
  rounds: ROUNDS,
  lookupNs: { untypedOps: median(raw), typedGet: median(typed) },
  recordsPerSecond: { typedConsume: median(recs), rawOneBigint: median(rawBig), libbpf: median(c) },
};
const ratio = {
  typedGetVsOps: res.lookupNs.typedGet / res.lookupNs.untypedOps,
  typedRecordsVsLibbpf: res.recordsPerSecond.typedConsume / res.recordsPerSecond.libbpf,
  rawOneBigintVsLibbpf: res.recordsPerSecond.rawOneBigint / res.recordsPerSecond.libbpf,
};
if (process.argv.includes("--json")) process.stdout.write(`${JSON.stringify({ ...res, ratio }, null, 2)}\n`);
else
  process.stdout.write(
    `skeleton, medians of ${ROUNDS} rounds\n` +
      `  array lookup: typed obj.maps.lookups.get(3) ${res.lookupNs.typedGet.toFixed(0)} ns, untyped map.ops.lookupRaw() ${res.lookupNs.untypedOps.toFixed(0)} ns → ${ratio.typedGetVsOps.toFixed(2)}× (target ≤ 1.1×)\n` +
      `  ring buffer: typed consume(cb(rec)) ${(res.recordsPerSecond.typedConsume / 1e6).toFixed(1)} M records/s, libbpf ${(res.recordsPerSecond.libbpf / 1e6).toFixed(1)} M records/s → ${ratio.typedRecordsVsLibbpf.toFixed(2)}× (target ≥ 0.5×)\n` +
      `  ring buffer: untyped consumeRaw + one getBigUint64 per record ${(res.recordsPerSecond.rawOneBigint / 1e6).toFixed(1)} M records/s → ${ratio.rawOneBigintVsLibbpf.toFixed(2)}× (the floor for a bigint field)\n`,
  );
