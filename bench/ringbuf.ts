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
import { compileBpf } from "../src/compile/clang.ts";
import { loadObjectFile } from "../src/kernel/index.ts";
import { RingBuffer } from "../src/kernel/ringbuf.ts";
import { testRun } from "../src/kernel/test-run.ts";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "out");
mkdirSync(out, { recursive: true });
const N = Number(process.argv[2] ?? 500_000);
const ROUNDS = Number(process.argv[3] ?? 15);

const obj = compileBpf(join(here, "c", "ringbuf-producer.bpf.c"), {
  output: join(out, "ringbuf-producer.bpf.o"),
});
const peer = join(out, "ringbuf-libbpf");
execFileSync("gcc", ["-O2", "-o", peer, join(here, "c", "ringbuf.c"), "-lbpf"], { stdio: "inherit" });

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** The cursor loop as a consumer would write it: its own function, locals only. */
function drainCursor(rb: RingBuffer, sum0: number): { sum: number; count: number } {
  let sum = sum0;
  let count = 0;
  for (const c = rb.cursor(); c.next(); ) {
    const d = c.data;
    const o = c.offset;
    sum = (sum + (d[o + 8]! | (d[o + 9]! << 8))) & 0x3fffffff;
    count++;
  }
  return { sum, count };
}

type Mode = "raw" | "raw2" | "batch" | "cursor" | "view" | "consume";

/**
 * One loaded object and ring buffer per consumer for the whole run, as an application keeps its ring
 * buffer open (each RingBuffer compiles its consume loops once, on first use).
 */
const rings = new Map<Mode, { coll: Awaited<ReturnType<typeof loadObjectFile>>; rb: RingBuffer }>();
async function ringFor(mode: Mode) {
  let r = rings.get(mode);
  if (!r) {
    const coll = await loadObjectFile(obj);
    r = { coll, rb: new RingBuffer(coll.map("rb")) };
    rings.set(mode, r);
  }
  return r;
}

async function ours(rounds: number, mode: Mode): Promise<number[]> {
  const { coll, rb } = await ringFor(mode);
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
    if (mode === "raw")
      rb.consumeRaw((d, o) => {
        sum = (sum + (d[o + 8]! | (d[o + 9]! << 8))) & 0x3fffffff;
        count++;
      });
    else if (mode === "raw2")
      // a second consumer with another callback in the same process (an application with two ring
      // buffers): reads the seq field's low bytes instead
      rb.consumeRaw((d, o) => {
        sum = (sum + (d[o]! | (d[o + 1]! << 8))) & 0x3fffffff;
        count++;
      });
    else if (mode === "batch")
      rb.consumeBatch((b) => {
        const d = b.data;
        const offs = b.offsets;
        for (let j = 0; j < b.count; j++) {
          const o = offs[j]!;
          sum = (sum + (d[o + 8]! | (d[o + 9]! << 8))) & 0x3fffffff;
        }
        count += b.count;
      });
    else if (mode === "cursor") {
      const r = drainCursor(rb, sum);
      sum = r.sum;
      count = r.count;
    } else if (mode === "view")
      rb.consumeView((r) => {
        sum = (sum + r.u16(8)) & 0x3fffffff;
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
const modes: Mode[] = ["raw", "raw2", "batch", "cursor", "view", "consume"];
for (const m of modes) await ours(2, m);
libbpf(2);
const rates = new Map<Mode | "libbpf", number[]>([...modes, "libbpf" as const].map((m) => [m, []]));
const per = Math.ceil(ROUNDS / 3);
for (let i = 0; i < 3; i++) {
  for (const m of modes) {
    rates.get(m)!.push(...(await ours(per, m)));
    if (m === "batch") rates.get("libbpf")!.push(...libbpf(per));
  }
}
for (const { rb, coll } of rings.values()) {
  rb.close();
  coll.close();
}
const ml = median(rates.get("libbpf")!);
const fmt = (x: number) => `${(x / 1e6).toFixed(1).padStart(5)} M records/s`;
const row = (label: string, m: Mode, note: string) => {
  const r = median(rates.get(m)!);
  return `  ${label.padEnd(36)}: ${fmt(r)}  ${(r / ml).toFixed(2)}× libbpf ${note}\n`;
};
process.stdout.write(
  `ring buffer consume, ${N} × 16-byte records per round, ${rates.get("raw")!.length} rounds each (medians)\n` +
    row("kfunc-kit RingBuffer.cursor", "cursor", "(target ≥ 1.0×; no callback, no object)") +
    row("kfunc-kit RingBuffer.consumeBatch", "batch", "(one callback per batch of ≤ 4096)") +
    row("kfunc-kit RingBuffer.consumeRaw", "raw", "(target ≥ 1.0×; one callback per record)") +
    row("  the same, a second callback", "raw2", "(another ring buffer, another callback, same process)") +
    row("kfunc-kit RingBuffer.consumeView", "view", "(target ≥ 0.5×; one reused RecordView)") +
    row("kfunc-kit RingBuffer.consume", "consume", "(a Uint8Array view per record)") +
    `  ${"libbpf ring_buffer__consume".padEnd(36)}: ${fmt(ml)}\n`,
);
