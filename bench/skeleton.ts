/**
 * The typed skeleton's hot paths against their untyped baselines, both sides in one run (alternating
 * blocks, medians): an array map lookup through the skeleton (`obj.maps.lookups.get(3)`, a u32 key encoded
 * and a u64 value decoded to a bigint) vs `map.ops.lookupRaw()` on the same map; typed ring-buffer records
 * (`obj.maps.rb.consume(cb(rec))`, each record decoded to `{ seq: bigint, value: bigint }`) vs libbpf 1.1's
 * `ring_buffer__consume` (bench/c/ringbuf.c) on the same producer; the same with the record's fields 32-bit
 * (built with -DREC32), which shows the decoder's own cost without bigint allocation.
 *
 *   node --import tsx bench/skeleton.ts [records-per-round=500000] [rounds=9] [--json] [--split]
 *
 * --split adds the u64 row taken apart: a hand loop and the cursor each with no field, the low word read as
 * a number, a bigint that is not from the ring, and the u64 as a bigint, alternated with libbpf.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RecordViewState } from "../src/btf/value-codec.ts";
import { compileBpf } from "../src/compile/clang.ts";
import { testRun } from "../src/kernel/test-run.ts";
import { generateSkeleton } from "../src/skeleton/generate.ts";
import { handRelease, handSpan, mapRingByHand } from "./ring-by-hand.ts";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "out");
mkdirSync(out, { recursive: true });
const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const N = Number(args[0] ?? 500_000);
const ROUNDS = Number(args[1] ?? 9);
const LOOKUPS = Number(process.env["LOOKUPS"] ?? 500_000);

const src = join(here, "c", "skeleton-prog.bpf.c");
const obj = compileBpf(src, { output: join(out, "skeleton-prog.bpf.o") });
const obj32 = compileBpf(src, { output: join(out, "skeleton-prog32.bpf.o"), defines: ["REC32"] });
/** Generates the object's skeleton outside the repository (the root tsconfig type-checks bench/). */
function skeletonOf(object: string, name: string): string {
  const file = join(tmpdir(), `kfunc-kit-bench-${name}-${process.pid}.skel.ts`);
  const gen = generateSkeleton(new Uint8Array(readFileSync(object)), object, {
    name,
    importPath: join(here, "..", "src", "skeleton", "index.ts"),
  });
  writeFileSync(file, gen.ts);
  process.on("exit", () => rmSync(file, { force: true }));
  return file;
}
const peer = join(out, "ringbuf-libbpf");
execFileSync("gcc", ["-O2", "-o", peer, join(here, "c", "ringbuf.c"), "-lbpf"], { stdio: "inherit" });

interface Rec {
  value: bigint | number;
}
interface Cursor {
  next(): boolean;
  readonly record: Readonly<Rec>;
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
        consumeView(cb: (r: Readonly<Rec>) => unknown): number;
        cursor(): Cursor;
        ring: {
          consumeRaw(cb: (d: Uint8Array, o: number, n: number) => unknown): number;
          map: { fd: number; maxEntries: number };
        };
      };
    };
    programs: { produce: Parameters<typeof testRun>[0] };
    close(): void;
  }>;
}
type Open = { open: () => BenchSkeleton };
const { open } = (await import(skeletonOf(obj, "bench"))) as Open;
const { open: open32 } = (await import(skeletonOf(obj32, "bench32"))) as Open;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const obj1 = await open().load();
const obj32k = await open32().load();
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

function typedRecords(rounds: number, o: typeof obj1 = obj1): number[] {
  const rates: number[] = [];
  const pkt = new Uint8Array(64);
  let sum = 0;
  for (let i = 0; i < rounds; i++) {
    testRun(o.programs.produce, { dataIn: pkt, repeat: N });
    let count = 0;
    const t0 = process.hrtime.bigint();
    // the callback reads the record's value field, as the other consumers do
    o.maps.rb.consume((r) => {
      if (r.value === -1) sum++;
      count++;
    });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (count !== N) throw new Error(`round ${i}: consumed ${count} records, expected ${N}`);
    rates.push(count / s);
  }
  if (sum < 0) throw new Error("unreachable");
  return rates;
}

type InPlace =
  | "cursorNoField"
  | "cursorBig"
  | "cursorBigFloor"
  | "handBig"
  | "handNoField"
  | "handLow"
  | "handAlloc"
  | "cursorLow"
  | "cursorAlloc"
  | "cursorU32"
  | "viewBig"
  | "viewU32";
type Rb = (typeof obj1)["maps"]["rb"];
let kept: unknown;

// One function per consumer and record type, as an application would have: the field read (`value`, a u64
// read as a bigint in the default object, a u32 in the -DREC32 one) is kept in a local and published after
// the loop, so it happens and nothing else is done with it. They are written out, not compiled from one
// source per kind: compiled with `new Function`, the same loops measured slower (cursor with no field
// 0.93-0.95x libbpf written out, 0.61-0.64x compiled; docs/benchmarks.md, 2026-12-07 second morning).
const drains: Record<InPlace, (rb: Rb) => number> = {
  cursorNoField(rb) {
    let n = 0;
    for (const c = rb.cursor(); c.next(); ) n++;
    return n;
  },
  cursorBig(rb) {
    let n = 0;
    let k: unknown;
    for (const c = rb.cursor(); c.next(); ) {
      k = c.record.value;
      n++;
    }
    kept = k;
    return n;
  },
  // the floor for a bigint per record in this loop: the cursor, and the u64 read inline from the view's
  // word array (what the getter does, without the getter)
  cursorBigFloor(rb) {
    let n = 0;
    let k: unknown;
    const c = rb.cursor();
    const view = c.record as unknown as RecordViewState;
    const q = view["#q"];
    while (c.next()) {
      k = q[(view["#at"] >>> 3) + 1];
      n++;
    }
    kept = k;
    return n;
  },
  // the floor for a bigint per record in any JS consumer: no library at all, a loop written for this ring
  // (positions in locals, headers through one Int32Array) that reads the u64 as the getter does
  handBig() {
    let n = 0;
    let k: unknown;
    const span = handSpan(hand);
    const end = span.end;
    const lens = hand.lens;
    const q = hand.q;
    let p = span.start;
    while (p < end) {
      const len = lens[p >>> 2]!;
      if (len & 0xc0000000) break;
      k = q[(p + 16) >>> 3];
      n++;
      p += (len + 15) & ~7;
    }
    handRelease(hand, span, p);
    kept = k;
    return n;
  },
  // --split: the u64 row's cost taken apart, in the hand loop and in the cursor alike. "Low": the u64's
  // low word read as a number through an Int32Array (the ring read, no bigint); "alloc": a bigint per
  // record that is not from the ring (a load from a 4-word BigUint64Array elsewhere: the allocation alone)
  handNoField() {
    let n = 0;
    const span = handSpan(hand);
    const end = span.end;
    const lens = hand.lens;
    let p = span.start;
    while (p < end) {
      const len = lens[p >>> 2]!;
      if (len & 0xc0000000) break;
      n++;
      p += (len + 15) & ~7;
    }
    handRelease(hand, span, p);
    return n;
  },
  handLow() {
    let n = 0;
    let k = 0;
    const span = handSpan(hand);
    const end = span.end;
    const lens = hand.lens;
    let p = span.start;
    while (p < end) {
      const len = lens[p >>> 2]!;
      if (len & 0xc0000000) break;
      k = lens[(p + 16) >>> 2]!;
      n++;
      p += (len + 15) & ~7;
    }
    handRelease(hand, span, p);
    kept = k;
    return n;
  },
  handAlloc() {
    let n = 0;
    let k: unknown;
    const span = handSpan(hand);
    const end = span.end;
    const lens = hand.lens;
    let p = span.start;
    while (p < end) {
      const len = lens[p >>> 2]!;
      if (len & 0xc0000000) break;
      k = offRing[n & 3];
      n++;
      p += (len + 15) & ~7;
    }
    handRelease(hand, span, p);
    kept = k;
    return n;
  },
  cursorLow(rb) {
    let n = 0;
    let k = 0;
    const c = rb.cursor();
    const view = c.record as unknown as RecordViewState;
    const q = view["#q"];
    const words = new Int32Array(q.buffer, q.byteOffset, q.length * 2);
    while (c.next()) {
      k = words[(view["#at"] >>> 2) + 2]!;
      n++;
    }
    kept = k;
    return n;
  },
  cursorAlloc(rb) {
    let n = 0;
    let k: unknown;
    for (const c = rb.cursor(); c.next(); ) {
      k = offRing[n & 3];
      n++;
    }
    kept = k;
    return n;
  },
  cursorU32(rb) {
    let n = 0;
    let k: unknown;
    for (const c = rb.cursor(); c.next(); ) {
      k = c.record.value;
      n++;
    }
    kept = k;
    return n;
  },
  viewBig(rb) {
    let n = 0;
    let k: unknown;
    rb.consumeView((r) => {
      k = r.value;
      n++;
    });
    kept = k;
    return n;
  },
  viewU32(rb) {
    let n = 0;
    let k: unknown;
    rb.consumeView((r) => {
      k = r.value;
      n++;
    });
    kept = k;
    return n;
  },
};

/** The bigints of the "alloc" rows: loaded per record, from outside the ring. */
const offRing = new BigUint64Array([1n << 40n, 3n << 40n, 5n << 40n, 7n << 40n]);

/** The ring buffer of the 64-bit object mapped by hand, for the hand rows. */
const hand = mapRingByHand(obj1.maps.rb.ring.map);
process.on("exit", () => hand[Symbol.dispose]());

/** Typed records read in place (no object per record): the skeleton's cursor() and consumeView(). */
function inPlace(rounds: number, mode: InPlace, o: typeof obj1): number[] {
  const rates: number[] = [];
  const pkt = new Uint8Array(64);
  const drain = drains[mode];
  for (let i = 0; i < rounds; i++) {
    testRun(o.programs.produce, { dataIn: pkt, repeat: N });
    const t0 = process.hrtime.bigint();
    const count = drain(o.maps.rb);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (count !== N) throw new Error(`round ${i} (${mode}): consumed ${count} records, expected ${N}`);
    rates.push(count / s);
  }
  if (kept === Symbol.iterator) throw new Error("unreachable");
  return rates;
}

/**
 * The untyped baselines on the same ring: consumeRaw reading two bytes of the value (bench/ringbuf.ts's
 * callback), and with one BigUint64Array load per record (the floor for any decoding that makes a bigint).
 */
function rawBigints(rounds: number, bigint: boolean | "u32pair" = true): number[] {
  const rates: number[] = [];
  const pkt = new Uint8Array(64);
  let sum = 0n;
  let nsum = 0;
  let data: Uint8Array | undefined;
  let view: DataView | undefined;
  let q: BigUint64Array | undefined;
  for (let i = 0; i < rounds; i++) {
    testRun(obj1.programs.produce, { dataIn: pkt, repeat: N });
    let count = 0;
    const t0 = process.hrtime.bigint();
    obj1.maps.rb.ring.consumeRaw((d, o) => {
      if (d !== data) {
        data = d;
        view = new DataView(d.buffer, d.byteOffset, d.byteLength);
        q = new BigUint64Array(d.buffer, d.byteOffset, d.byteLength >>> 3);
      }
      // the u64 as the skeleton reads it, a BigUint64Array load (records are 8-aligned), kept as the cursor rows keep theirs
      if (bigint === true) sum = q![(o + 8) >>> 3]!;
      // the same u64 as a number from two u32 reads (exact below 2^53): what a bigint costs over that
      else if (bigint === "u32pair")
        nsum =
          (nsum + view!.getUint32(o + 8, true) + view!.getUint32(o + 12, true) * 0x1_0000_0000) % 0x4000_0000;
      else nsum = (nsum + (d[o + 8]! | (d[o + 9]! << 8))) & 0x3fffffff;
      count++;
    });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (count !== N) throw new Error(`round ${i}: consumed ${count} records, expected ${N}`);
    rates.push(count / s);
  }
  if (sum < 0n || nsum < 0) throw new Error("unreachable");
  return rates;
}

function libbpf(rounds: number, object = obj): number[] {
  const text = execFileSync(peer, [object, String(N), String(rounds)], { encoding: "utf8" });
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
typedRecords(2, obj32k);
rawBigints(2);
rawBigints(2, false);
rawBigints(2, "u32pair");
for (const m of ["cursorNoField", "cursorBig", "cursorBigFloor", "handBig", "viewBig"] as const)
  inPlace(2, m, obj1);
for (const m of ["cursorU32", "viewU32"] as const) inPlace(2, m, obj32k);
libbpf(2);
const raw: number[] = [];
const typed: number[] = [];
const recs: number[] = [];
const rawBig: number[] = [];
const recs32: number[] = [];
const rawPlain: number[] = [];
const rawPair: number[] = [];
const c: number[] = [];
const c32: number[] = [];
const cursorNone: number[] = [];
const cursorBig: number[] = [];
const cursorBigFloor: number[] = [];
const handBig: number[] = [];
const viewBig: number[] = [];
const cursor32: number[] = [];
const view32: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  raw.push(rawLookupNs());
  typed.push(typedLookupNs());
}
for (let i = 0; i < 3; i++) {
  recs.push(...typedRecords(Math.ceil(ROUNDS / 3)));
  c.push(...libbpf(Math.ceil(ROUNDS / 3)));
  rawBig.push(...rawBigints(Math.ceil(ROUNDS / 3)));
  recs32.push(...typedRecords(Math.ceil(ROUNDS / 3), obj32k));
  rawPlain.push(...rawBigints(Math.ceil(ROUNDS / 3), false));
  rawPair.push(...rawBigints(Math.ceil(ROUNDS / 3), "u32pair"));
  c32.push(...libbpf(Math.ceil(ROUNDS / 3), obj32));
  cursorNone.push(...inPlace(Math.ceil(ROUNDS / 3), "cursorNoField", obj1));
  cursorBig.push(...inPlace(Math.ceil(ROUNDS / 3), "cursorBig", obj1));
  cursorBigFloor.push(...inPlace(Math.ceil(ROUNDS / 3), "cursorBigFloor", obj1));
  handBig.push(...inPlace(Math.ceil(ROUNDS / 3), "handBig", obj1));
  c.push(...libbpf(Math.ceil(ROUNDS / 3)));
  viewBig.push(...inPlace(Math.ceil(ROUNDS / 3), "viewBig", obj1));
  cursor32.push(...inPlace(Math.ceil(ROUNDS / 3), "cursorU32", obj32k));
  c32.push(...libbpf(Math.ceil(ROUNDS / 3), obj32));
  view32.push(...inPlace(Math.ceil(ROUNDS / 3), "viewU32", obj32k));
}
const SPLIT = [
  "handNoField",
  "handLow",
  "handAlloc",
  "handBig",
  "cursorNoField",
  "cursorLow",
  "cursorAlloc",
  "cursorBig",
] as const;
type SplitRow = (typeof SPLIT)[number] | "libbpf";
/** --split: ns a record for each row of SPLIT and libbpf, alternated in one sequence (medians). */
function splitRows(): Record<SplitRow, number> | undefined {
  if (!process.argv.includes("--split")) return undefined;
  for (const m of SPLIT) inPlace(2, m, obj1); // warm-up: the new rows are not optimized yet
  const rows: SplitRow[] = ["libbpf", ...SPLIT];
  const rates = Object.fromEntries(rows.map((m) => [m, [] as number[]])) as Record<SplitRow, number[]>;
  for (let i = 0; i < 3; i++) {
    rates.libbpf.push(...libbpf(Math.ceil(ROUNDS / 3)));
    for (const m of SPLIT) rates[m].push(...inPlace(Math.ceil(ROUNDS / 3), m, obj1));
  }
  return Object.fromEntries(rows.map((m) => [m, 1e9 / median(rates[m])])) as Record<SplitRow, number>;
}
const split = splitRows();
obj1.close();
obj32k.close();
const res = {
  lookups: LOOKUPS,
  records: N,
  rounds: ROUNDS,
  lookupNs: { untypedOps: median(raw), typedGet: median(typed) },
  recordsPerSecond: {
    typedConsume: median(recs),
    rawOneBigint: median(rawBig),
    rawConsume: median(rawPlain),
    rawU32Pair: median(rawPair),
    libbpf: median(c),
    typedConsume32: median(recs32),
    libbpf32: median(c32),
    cursorNoField: median(cursorNone),
    cursorBigintField: median(cursorBig),
    cursorBigintFloor: median(cursorBigFloor),
    handBigint: median(handBig),
    viewBigintField: median(viewBig),
    cursorU32Field: median(cursor32),
    viewU32Field: median(view32),
  },
};
const ratio = {
  typedGetVsOps: res.lookupNs.typedGet / res.lookupNs.untypedOps,
  typedRecordsVsLibbpf: res.recordsPerSecond.typedConsume / res.recordsPerSecond.libbpf,
  rawOneBigintVsLibbpf: res.recordsPerSecond.rawOneBigint / res.recordsPerSecond.libbpf,
  rawConsumeVsLibbpf: res.recordsPerSecond.rawConsume / res.recordsPerSecond.libbpf,
  rawU32PairVsLibbpf: res.recordsPerSecond.rawU32Pair / res.recordsPerSecond.libbpf,
  typedRecords32VsLibbpf: res.recordsPerSecond.typedConsume32 / res.recordsPerSecond.libbpf32,
  cursorNoFieldVsLibbpf: res.recordsPerSecond.cursorNoField / res.recordsPerSecond.libbpf,
  cursorBigintFieldVsLibbpf: res.recordsPerSecond.cursorBigintField / res.recordsPerSecond.libbpf,
  cursorBigintFloorVsLibbpf: res.recordsPerSecond.cursorBigintFloor / res.recordsPerSecond.libbpf,
  handBigintVsLibbpf: res.recordsPerSecond.handBigint / res.recordsPerSecond.libbpf,
  viewBigintFieldVsLibbpf: res.recordsPerSecond.viewBigintField / res.recordsPerSecond.libbpf,
  cursorU32FieldVsLibbpf: res.recordsPerSecond.cursorU32Field / res.recordsPerSecond.libbpf32,
  viewU32FieldVsLibbpf: res.recordsPerSecond.viewU32Field / res.recordsPerSecond.libbpf32,
};
const line = (label: string, rate: number, r: number, note = "") =>
  `  ${label.padEnd(58)} ${(rate / 1e6).toFixed(1).padStart(6)} M records/s → ${r.toFixed(2)}× libbpf${note}\n`;
if (process.argv.includes("--json"))
  process.stdout.write(`${JSON.stringify({ ...res, ratio, splitNsPerRecord: split }, null, 2)}\n`);
else
  process.stdout.write(
    `skeleton, medians of ${ROUNDS} rounds\n` +
      `  array lookup: typed obj.maps.lookups.get(3) ${res.lookupNs.typedGet.toFixed(0)} ns, untyped map.ops.lookupRaw() ${res.lookupNs.untypedOps.toFixed(0)} ns → ${ratio.typedGetVsOps.toFixed(2)}× (target ≤ 1.1×)\n` +
      `  ring buffer: typed consume(cb(rec)) ${(res.recordsPerSecond.typedConsume / 1e6).toFixed(1)} M records/s, libbpf ${(res.recordsPerSecond.libbpf / 1e6).toFixed(1)} M records/s → ${ratio.typedRecordsVsLibbpf.toFixed(2)}× (target ≥ 0.5×)\n` +
      `  ring buffer: untyped consumeRaw + one BigUint64Array load per record ${(res.recordsPerSecond.rawOneBigint / 1e6).toFixed(1)} M records/s → ${ratio.rawOneBigintVsLibbpf.toFixed(2)}× (the floor for a bigint field)\n` +
      `  ring buffer: untyped consumeRaw + the u64 as a number from two getUint32 ${(res.recordsPerSecond.rawU32Pair / 1e6).toFixed(1)} M records/s → ${ratio.rawU32PairVsLibbpf.toFixed(2)}× (what the bigint costs over it)\n` +
      `  ring buffer: untyped consumeRaw reading two bytes ${(res.recordsPerSecond.rawConsume / 1e6).toFixed(1)} M records/s → ${ratio.rawConsumeVsLibbpf.toFixed(2)}× (no decoding at all)\n` +
      `  ring buffer, 32-bit fields: typed consume(cb(rec)) ${(res.recordsPerSecond.typedConsume32 / 1e6).toFixed(1)} M records/s, libbpf ${(res.recordsPerSecond.libbpf32 / 1e6).toFixed(1)} M records/s → ${ratio.typedRecords32VsLibbpf.toFixed(2)}×\n` +
      "  typed records in place (target ≥ 0.5× libbpf):\n" +
      line("cursor(), reading no field", res.recordsPerSecond.cursorNoField, ratio.cursorNoFieldVsLibbpf) +
      line(
        "cursor(), reading one u32 field",
        res.recordsPerSecond.cursorU32Field,
        ratio.cursorU32FieldVsLibbpf,
        " (32-bit object)",
      ) +
      line(
        "consumeView(cb), reading one u32 field",
        res.recordsPerSecond.viewU32Field,
        ratio.viewU32FieldVsLibbpf,
        " (32-bit object)",
      ) +
      line(
        "cursor(), reading one u64 field (bigint)",
        res.recordsPerSecond.cursorBigintField,
        ratio.cursorBigintFieldVsLibbpf,
      ) +
      line(
        "cursor(), the u64 read inline (a bigint's floor here)",
        res.recordsPerSecond.cursorBigintFloor,
        ratio.cursorBigintFloorVsLibbpf,
      ) +
      line(
        "no library: a hand loop for this ring, the u64 as a bigint",
        res.recordsPerSecond.handBigint,
        ratio.handBigintVsLibbpf,
      ) +
      line(
        "consumeView(cb), reading one u64 field (bigint)",
        res.recordsPerSecond.viewBigintField,
        ratio.viewBigintFieldVsLibbpf,
      ),
  );
if (split && !process.argv.includes("--json")) {
  const ns = (label: string, v: number) => `  ${label.padEnd(52)} ${v.toFixed(1).padStart(5)} ns\n`;
  const row = (label: string, hand: number, cursor: number) =>
    `  ${label.padEnd(40)} ${hand.toFixed(1).padStart(5)} ns ${cursor.toFixed(1).padStart(7)} ns\n`;
  const s = split;
  const rest = (big: number, low: number, alloc: number, none: number) => big - low - alloc + none;
  process.stdout.write(
    `the u64 row taken apart (--split), ns a record, medians of ${ROUNDS} rounds; libbpf ${s.libbpf.toFixed(1)} ns, so 0.5× is ≤ ${(2 * s.libbpf).toFixed(1)} ns\n` +
      `  ${"".padEnd(40)} ${"hand loop".padStart(8)} ${"cursor()".padStart(10)}\n` +
      row("no field", s.handNoField, s.cursorNoField) +
      row("the u64's low word as a number", s.handLow, s.cursorLow) +
      row("a bigint not from the ring", s.handAlloc, s.cursorAlloc) +
      row("the u64 as a bigint", s.handBig, s.cursorBig) +
      ns("the cursor's own cost (no field, cursor − hand)", s.cursorNoField - s.handNoField) +
      ns("reading the low word (hand)", s.handLow - s.handNoField) +
      ns("a bigint's allocation (hand)", s.handAlloc - s.handNoField) +
      ns("the two together beyond their sum (hand)", rest(s.handBig, s.handLow, s.handAlloc, s.handNoField)) +
      ns(
        "the same beyond their sum (cursor)",
        rest(s.cursorBig, s.cursorLow, s.cursorAlloc, s.cursorNoField),
      ),
  );
}
