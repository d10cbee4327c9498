/**
 * Ring buffer consumer throughput: kfunc-kit's RingBuffer.consume() vs libbpf's ring_buffer__consume() on
 * the same producer. Each round fills a 16 MiB ring with N 16-byte records (an XDP program run N times
 * through BPF_PROG_TEST_RUN), then times draining it; the callback reads one field of every record.
 * Ours and libbpf's (bench/c/ringbuf.c, built with gcc -lbpf here) alternate; medians are compared.
 *
 *   node --import tsx bench/ringbuf.ts [records-per-round=500000] [rounds=9]
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileBpf } from "../src/build/clang.ts";
import { loadObjectFile } from "../src/kernel/index.ts";
import { RingBuffer } from "../src/kernel/ringbuf.ts";
import { testRun } from "../src/kernel/test-run.ts";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "out");
mkdirSync(out, { recursive: true });
const N = Number(process.argv[2] ?? 500_000);
const ROUNDS = Number(process.argv[3] ?? 9);

const obj = compileBpf(join(here, "c", "ringbuf-producer.bpf.c"), {
  output: join(out, "ringbuf-producer.bpf.o"),
});
const peer = join(out, "ringbuf-libbpf");
execFileSync("gcc", ["-O2", "-o", peer, join(here, "c", "ringbuf.c"), "-lbpf"], { stdio: "inherit" });

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function ours(rounds: number, raw: boolean): Promise<number[]> {
  using coll = await loadObjectFile(obj);
  using rb = new RingBuffer(coll.map("rb"));
  const prog = coll.program("produce");
  const pkt = new Uint8Array(64);
  const rates: number[] = [];
  let sum = 0;
  for (let i = 0; i < rounds; i++) {
    testRun(prog, { dataIn: pkt, repeat: N });
    let count = 0;
    const t0 = process.hrtime.bigint();
    // the callback reads the record's value field (u64 at offset 8; two bytes are enough for a checksum,
    // kept below 2^30 so it stays a small integer instead of allocating a heap number per record)
    if (raw)
      rb.consumeRaw((d, o) => {
        sum = (sum + (d[o + 8]! | (d[o + 9]! << 8))) & 0x3fffffff;
        count++;
      });
    else
      rb.consume((d) => {
        sum = (sum + (d[8]! | (d[9]! << 8))) & 0x3fffffff;
        count++;
      });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (count !== N) throw new Error(`round ${i}: consumed ${count} records, expected ${N}`);
    rates.push(count / s);
  }
  if (sum < 0) throw new Error("unreachable");
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

// warm-up (JIT, page faults of a fresh mapping), then alternate
await ours(2, true);
await ours(2, false);
libbpf(2);
const raw: number[] = [];
const views: number[] = [];
const c: number[] = [];
for (let i = 0; i < 3; i++) {
  raw.push(...(await ours(Math.ceil(ROUNDS / 3), true)));
  c.push(...libbpf(Math.ceil(ROUNDS / 3)));
  views.push(...(await ours(Math.ceil(ROUNDS / 3), false)));
}
const mr = median(raw);
const mv = median(views);
const ml = median(c);
const fmt = (x: number) => `${(x / 1e6).toFixed(1).padStart(5)} M records/s`;
process.stdout.write(
  `ring buffer consume, ${N} × 16-byte records per round, ${raw.length} rounds each (medians)\n` +
    `  kfunc-kit RingBuffer.consumeRaw : ${fmt(mr)}  ${(mr / ml).toFixed(2)}× libbpf (target ≥ 0.8×)\n` +
    `  kfunc-kit RingBuffer.consume    : ${fmt(mv)}  ${(mv / ml).toFixed(2)}× libbpf (a Uint8Array view per record)\n` +
    `  libbpf ring_buffer__consume     : ${fmt(ml)}\n`,
);
