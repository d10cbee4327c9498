/**
 * A deterministic mutation fuzzer for kfunc-kit's parsers. Every case either succeeds or throws a
 * KfuncKitError; anything else (TypeError, RangeError, a hang, runaway memory) is a bug, reported with the
 * seed and case number so it can be replayed: `KFUNC_KIT_FUZZ_SEED=<seed> npm run test:only -- fuzz`.
 *
 * Targets are named parser functions over bytes; other layers add theirs (e.g. parseObject) by appending
 * a `FuzzTarget` in test/fuzz/fuzz.test.ts.
 */
import { isKfuncKitError } from "../../src/errors.ts";

export interface FuzzSeed {
  name: string;
  bytes: Uint8Array;
  /** Byte ranges worth mutating more often (e.g. one ELF section). */
  regions?: Array<[start: number, end: number]>;
}

export interface FuzzTarget {
  name: string;
  /** Parses (and should exercise) the bytes; may throw only KfuncKitError. */
  parse: (bytes: Uint8Array) => unknown;
  seeds: FuzzSeed[];
  /** Default true: an unmutated seed that does not parse fails the run (a broken fixture). */
  seedsMustParse?: boolean;
}

export interface FuzzOptions {
  seed: number;
  cases: number;
  /** A case slower than this is reported as a hang. */
  maxCaseMs: number;
  /** Heap growth (after GC, across all cases) above this fails the run. */
  maxHeapGrowthBytes: number;
  /** Called with a progress line every 1000 cases. */
  onProgress?: (line: string) => void;
}

export interface FuzzFailure {
  caseNumber: number;
  target: string;
  seedName: string;
  mutation: string;
  problem: string;
}

export interface FuzzReport {
  seed: number;
  cases: number;
  ok: number;
  rejected: number;
  byTarget: Record<string, { ok: number; rejected: number }>;
  /** Distinct error messages with digits replaced, a measure of how many checks were reached. */
  distinctErrors: number;
  slowestMs: number;
  heapGrowthBytes: number;
  failures: FuzzFailure[];
}

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING_U32 = [
  0, 1, 2, 4, 8, 12, 16, 24, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
];
const INTERESTING_U8 = [0, 1, 0x7f, 0x80, 0xff, 0x20, 0x13, 0x0c];

/** Applies 1–3 stacked mutations; returns the new bytes and a description for replay. */
export function mutate(
  seed: FuzzSeed,
  all: FuzzSeed[],
  rand: () => number,
): { bytes: Uint8Array; mutation: string } {
  let b = new Uint8Array(seed.bytes);
  const steps: string[] = [];
  const int = (n: number) => Math.floor(rand() * n);
  const pos = (len: number) => {
    const r = seed.regions;
    if (r && r.length > 0 && rand() < 0.6) {
      const [s, e] = r[int(r.length)]!;
      if (e > s && e <= len) return s + int(e - s);
    }
    return int(Math.max(1, len));
  };
  const count = 1 + int(3);
  for (let k = 0; k < count && b.length > 0; k++) {
    const op = int(7);
    if (op === 0) {
      const flips = 1 + int(8);
      for (let i = 0; i < flips; i++) {
        const p = pos(b.length);
        const bit = int(8);
        b[p]! ^= 1 << bit;
        steps.push(`flip ${p}.${bit}`);
      }
    } else if (op === 1) {
      const p = pos(b.length);
      const v = rand() < 0.5 ? INTERESTING_U8[int(INTERESTING_U8.length)]! : int(256);
      b[p] = v;
      steps.push(`set8 ${p}=${v}`);
    } else if (op === 2 && b.length >= 4) {
      const p = pos(b.length - 3) & ~3;
      const v = rand() < 0.7 ? INTERESTING_U32[int(INTERESTING_U32.length)]! : int(b.length * 2);
      new DataView(b.buffer, b.byteOffset).setUint32(p, v, rand() < 0.5);
      steps.push(`set32 ${p}=${v}`);
    } else if (op === 3) {
      const len = int(b.length);
      b = b.slice(0, len);
      steps.push(`truncate ${len}`);
    } else if (op === 4) {
      // splice: copy a chunk of another (or the same) seed over a random position
      const from = all[int(all.length)]!.bytes;
      const n = 1 + int(Math.min(64, from.length));
      const src = int(Math.max(1, from.length - n));
      const dst = pos(b.length);
      b.set(from.subarray(src, src + Math.min(n, b.length - dst)), dst);
      steps.push(`splice ${src}+${n}->${dst}`);
    } else if (op === 5) {
      // insert or delete a few bytes: shifts every later offset
      const p = pos(b.length);
      const n = 1 + int(16);
      const next = rand() < 0.5 ? new Uint8Array(b.length + n) : new Uint8Array(Math.max(0, b.length - n));
      if (next.length > b.length) {
        next.set(b.subarray(0, p));
        next.set(b.subarray(p), p + n);
        steps.push(`insert ${n}@${p}`);
      } else {
        const at = Math.min(p, next.length);
        next.set(b.subarray(0, at));
        next.set(b.subarray(at + (b.length - next.length)), at);
        steps.push(`delete ${n}@${p}`);
      }
      b = next;
    } else {
      // duplicate a 4-byte word elsewhere (offsets and sizes that point at real data)
      if (b.length >= 8) {
        const a = pos(b.length - 3) & ~3;
        const c = pos(b.length - 3) & ~3;
        b.copyWithin(c, a, a + 4);
        steps.push(`copy32 ${a}->${c}`);
      }
    }
  }
  return { bytes: b, mutation: steps.join(", ") };
}

/** Runs `cases` mutated inputs round-robin over the targets. */
export function runFuzz(targets: FuzzTarget[], options: FuzzOptions, gc: () => void): FuzzReport {
  const rand = prng(options.seed);
  const report: FuzzReport = {
    seed: options.seed,
    cases: 0,
    ok: 0,
    rejected: 0,
    byTarget: {},
    distinctErrors: 0,
    slowestMs: 0,
    heapGrowthBytes: 0,
    failures: [],
  };
  const live = targets.filter((t) => t.seeds.length > 0);
  const errors = new Set<string>();
  // warm up: the first unmutated parse of each seed must succeed
  for (const t of live.filter((x) => x.seedsMustParse !== false))
    for (const s of t.seeds) {
      try {
        t.parse(s.bytes);
      } catch (e) {
        report.failures.push({
          caseNumber: -1,
          target: t.name,
          seedName: s.name,
          mutation: "(unmutated seed)",
          problem: `the unmutated seed does not parse: ${String(e)}`,
        });
      }
    }
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < options.cases; i++) {
    const target = live[i % live.length]!;
    const seed = target.seeds[Math.floor(rand() * target.seeds.length)]!;
    const { bytes, mutation } = mutate(seed, target.seeds, rand);
    let stat = report.byTarget[target.name];
    if (!stat) {
      stat = { ok: 0, rejected: 0 };
      report.byTarget[target.name] = stat;
    }
    const t0 = performance.now();
    let problem: string | undefined;
    try {
      target.parse(bytes);
      report.ok++;
      stat.ok++;
    } catch (e) {
      if (isKfuncKitError(e)) {
        report.rejected++;
        stat.rejected++;
        errors.add(e.message.replace(/\d+/g, "N"));
      } else
        problem = `threw a non-kfunc-kit error: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`;
    }
    const ms = performance.now() - t0;
    if (ms > report.slowestMs) report.slowestMs = ms;
    if (ms > options.maxCaseMs)
      problem ??= `took ${ms.toFixed(0)} ms (bound ${options.maxCaseMs} ms): a hang?`;
    if (problem)
      report.failures.push({ caseNumber: i, target: target.name, seedName: seed.name, mutation, problem });
    report.cases++;
    if ((i + 1) % 1000 === 0)
      options.onProgress?.(
        `${i + 1} cases: ${report.ok} ok, ${report.rejected} rejected, ${report.failures.length} failures`,
      );
    if (report.failures.length >= 20) break;
  }
  gc();
  report.heapGrowthBytes = process.memoryUsage().heapUsed - heapBefore;
  report.distinctErrors = errors.size;
  if (report.heapGrowthBytes > options.maxHeapGrowthBytes)
    report.failures.push({
      caseNumber: report.cases,
      target: "*",
      seedName: "*",
      mutation: "*",
      problem: `heap grew by ${(report.heapGrowthBytes / 1048576).toFixed(1)} MiB over the run (bound ${(options.maxHeapGrowthBytes / 1048576).toFixed(0)} MiB)`,
    });
  return report;
}
