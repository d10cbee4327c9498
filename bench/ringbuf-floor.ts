/**
 * What is left per record between `RingBuffer.consumeRaw` and a hand-written loop, in one process on the
 * same fresh data (the producer of bench/ringbuf.ts fills the 16 MiB ring before every round; the
 * variants take turns, medians after three warm-up rounds):
 *   hand       — a loop written for this ring: positions in locals, headers through one Int32Array, the
 *                checksum in a local; no callback (what libbpf's C loop is, in JS)
 *   rawCount   — consumeRaw with a callback that only counts (a captured `let`)
 *   raw        — consumeRaw with bench/ringbuf.ts's callback (a checksum and a count in captured `let`s,
 *                as libbpf's C callback keeps them in two static variables)
 *   cursor     — RingBuffer.cursor(), the checksum in a local
 * and libbpf 1.1's ring_buffer__consume (bench/c/ringbuf.c) on the same object, run between the rounds.
 * Each consumer has a ring buffer (and so a compiled consume loop) of its own, as in bench/ringbuf.ts.
 *
 *   node --import tsx bench/ringbuf-floor.ts [records-per-round=500000] [rounds=20]
 */
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { compileBpf } from "../src/compile/clang.ts";
import { loadObjectFile } from "../src/kernel/index.ts";
import { RingBuffer } from "../src/kernel/ringbuf.ts";
import { testRun } from "../src/kernel/test-run.ts";
import { handRelease, handSpan, mapRingByHand } from "./ring-by-hand.ts";

const here = import.meta.dirname ?? new URL(".", import.meta.url).pathname;
const N = Number(process.argv[2] ?? 500_000);
const ROUNDS = Number(process.argv[3] ?? 20);
const obj = compileBpf(join(here, "c", "ringbuf-producer.bpf.c"), {
  output: join(here, "out", "ringbuf-producer.bpf.o"),
});

const peer = join(here, "out", "ringbuf-libbpf");
execFileSync("gcc", ["-O2", "-o", peer, join(here, "c", "ringbuf.c"), "-lbpf"], { stdio: "inherit" });
function libbpf(rounds: number): number[] {
  return execFileSync(peer, [obj, String(N), String(rounds)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  })
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { records: number; seconds: number })
    .map((r) => r.records / r.seconds);
}

using coll = await loadObjectFile(obj);
const map = coll.map("rb");
using ring = mapRingByHand(map);
const { lens, data } = ring;

/** The hand-written loop (committed records only: it stops at a BUSY or DISCARD header, fine here). */
function hand(sum0: number): { sum: number; count: number } {
  let sum = sum0;
  let count = 0;
  const span = handSpan(ring);
  const end = span.end;
  let p = span.start;
  while (p < end) {
    const len = lens[p >>> 2]!;
    if (len & 0xc0000000) break;
    const o = p + 8;
    sum = (sum + (data[o + 8]! | (data[o + 9]! << 8))) & 0x3fffffff;
    count++;
    p += (len + 15) & ~7;
  }
  handRelease(ring, span, p);
  return { sum, count };
}

type Variant = "hand" | "rawCount" | "raw" | "cursor";
const variants: Variant[] = ["hand", "rawCount", "raw", "cursor"];
const rings = Object.fromEntries(variants.map((v) => [v, new RingBuffer(map)])) as Record<
  Variant,
  RingBuffer
>;
let sum = 0;
const drain: Record<Variant, () => number> = {
  hand() {
    const r = hand(sum);
    sum = r.sum;
    return r.count;
  },
  rawCount() {
    let count = 0;
    rings.rawCount.consumeRaw(() => {
      count++;
    });
    return count;
  },
  raw() {
    let count = 0;
    rings.raw.consumeRaw((d, o) => {
      sum = (sum + (d[o + 8]! | (d[o + 9]! << 8))) & 0x3fffffff;
      count++;
    });
    return count;
  },
  cursor() {
    let s = sum;
    let count = 0;
    for (const c = rings.cursor.cursor(); c.next(); ) {
      const d = c.data;
      const o = c.offset;
      s = (s + (d[o + 8]! | (d[o + 9]! << 8))) & 0x3fffffff;
      count++;
    }
    sum = s;
    return count;
  },
};

const prog = coll.program("produce");
const pkt = new Uint8Array(64);
const rates = Object.fromEntries(variants.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
const peerRates: number[] = [];
for (let i = 0; i < ROUNDS + 3; i++) {
  if (i >= 3 && i % 5 === 0) peerRates.push(...libbpf(5));
  for (const v of variants) {
    testRun(prog, { dataIn: pkt, repeat: N });
    const t0 = process.hrtime.bigint();
    const n = drain[v]();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (n !== N) throw new Error(`${v}: consumed ${n} records, expected ${N}`);
    if (i >= 3) rates[v].push(n / s);
  }
}
// a short run (fewer than 3 rounds) never reaches the interleaved peer rounds above
if (peerRates.length === 0) peerRates.push(...libbpf(5));
for (const rb of Object.values(rings)) rb.close();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const h = median(rates.hand);
const lb = median(peerRates);
process.stdout.write(
  `ring buffer, ${N} records per round, medians of ${ROUNDS} rounds, load average ${loadavg()[0]!.toFixed(2)}\n` +
    variants
      .map((v) => {
        const r = median(rates[v]);
        return `  ${v.padEnd(9)} ${(r / 1e6).toFixed(1).padStart(6)} M records/s  ${(1e9 / r).toFixed(2)} ns/record  ${(r / h).toFixed(2)}× hand  ${(r / lb).toFixed(2)}× libbpf\n`;
      })
      .join("") +
    `  libbpf    ${(lb / 1e6).toFixed(1).padStart(6)} M records/s  ${(1e9 / lb).toFixed(2)} ns/record (${peerRates.length} rounds)\n` +
    (sum < 0 ? "unreachable\n" : ""),
);
