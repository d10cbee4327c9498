/**
 * The floor under bench/uvm's helpercall (issue 12: ≤ 70 ns per helper call with bigint registers): what a
 * call of `bench_mix(a, b) = (a ^ b) * 0x9E3779B97F4A7C15 + 1` costs when its two 64-bit arguments cross
 * into JavaScript as BigInt, measured next to the runtime's own helpercall in one process, rounds
 * alternated, medians of ns per call.
 *
 *   node --import tsx bench/uvm-call-floor.ts [rounds=7]
 *
 *   js loop                      the helper called from a JS loop through a BigUint64Array (no Wasm at all)
 *   wasm→js, empty (i32)         a Wasm loop calling an empty JS import: the boundary alone
 *   wasm→js, i64 params          a Wasm loop calling the helper as an import with i64 parameters (V8 makes
 *                                the BigInts; signed, where eBPF registers are unsigned)
 *   wasm→js, i64 in memory       the runtime's way: the loop stores r1, r2 in memory, calls an import with no
 *                                arguments, which reads them through a BigUint64Array and writes r0 back
 *   uvm jit helpercall           `RawVm` (engine "jit") running bench/uvm/bytecode/helpercall.bin
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RawVm } from "../src/uvm/raw.ts";
import { WA } from "../src/uvm/wasm-api.ts";

const ROUNDS = Math.max(3, Number(process.argv[2] ?? 7));
const root = join(fileURLToPath(import.meta.url), "..", "..");
const N = 1_000_000;
const mix = (a: bigint, b: bigint): bigint => (a ^ b) * 0x9e3779b97f4a7c15n + 1n;

const uleb = (v: number): number[] => {
  const o: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    o.push(b);
  } while (v);
  return o;
};
const str = (s: string) => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
const sec = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const fn = (body: number[]) => [...uleb(body.length), ...body];

// imports: 0 e() (empty), 1 h() (through memory), 2 d(i64, i64) -> i64; exports: loops of n iterations
const I32 = 0x7f;
const I64 = 0x7e;
const types = vec([
  [0x60, 0, 0],
  [0x60, 2, I64, I64, 1, I64],
  [0x60, 1, I32, 1, I64],
]);
const imports = vec([
  [...str("env"), ...str("e"), 0, 0],
  [...str("env"), ...str("h"), 0, 0],
  [...str("env"), ...str("d"), 0, 1],
  [...str("env"), ...str("mem"), 2, 0, 1],
]);
// locals: 0 = n (i32 param), 1 = acc (i64), 2 = i (i64)
const loop = (call: number[]) => [
  ...[1, 2, I64, 0x42, 0, 0x21, 1],
  ...[0x03, 0x40, ...call, 0x20, 2, 0x42, 1, 0x7c, 0x21, 2],
  ...[0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b, 0x20, 1, 0x0b],
];
const empty = loop([0x10, 0]);
const inMemory = loop([
  ...[0x41, 0, 0x20, 1, 0x37, 3, 0, 0x41, 0, 0x20, 2, 0x37, 3, 8, 0x10, 1],
  ...[0x41, 0, 0x29, 3, 0, 0x21, 1],
]);
const params = loop([0x20, 1, 0x20, 2, 0x10, 2, 0x21, 1]);
const module = new WA.Module(
  new Uint8Array([
    ...[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...sec(1, types),
    ...sec(2, imports),
    ...sec(3, vec([[2], [2], [2]])),
    ...sec(
      7,
      vec([
        [...str("empty"), 0, 3],
        [...str("memory"), 0, 4],
        [...str("params"), 0, 5],
      ]),
    ),
    ...sec(10, vec([fn(empty), fn(inMemory), fn(params)])),
  ]),
);
const mem = new WA.Memory({ initial: 1 });
const S = new BigUint64Array(mem.buffer, 0, 2);
const inst = new WA.Instance(module, {
  env: {
    mem,
    e: () => {},
    h: () => {
      S[0] = mix(S[0]!, S[1]!);
    },
    d: (a: bigint, b: bigint) => mix(a, b),
  },
});
const wasm = (name: string) => inst.exports[name] as (n: number) => bigint;

const B = new BigUint64Array(2);
const vm = new RawVm(new Uint8Array(readFileSync(join(root, "bench", "uvm", "bytecode", "helpercall.bin"))), {
  helpers: { 1: mix },
  engine: "jit",
});
const cells: [string, () => unknown][] = [
  [
    "js loop",
    () => {
      B[0] = 0n;
      for (let i = 0; i < N; i++) {
        B[1] = BigInt(i);
        B[0] = mix(B[0]!, B[1]!);
      }
    },
  ],
  ["wasm→js, empty (i32)", () => wasm("empty")(N)],
  ["wasm→js, i64 params", () => wasm("params")(N)],
  ["wasm→js, i64 in memory", () => wasm("memory")(N)],
  ["uvm jit helpercall", () => vm.run()],
];
if (vm.run() !== 0x7c17b99474ce6700n) throw new Error("helpercall: wrong r0");
const samples = cells.map(() => [] as number[]);
for (let w = 0; w < 10; w++) for (const [, f] of cells) f();
for (let r = 0; r < ROUNDS; r++)
  cells.forEach(([, f], i) => {
    const t0 = process.hrtime.bigint();
    f();
    samples[i]!.push(Number(process.hrtime.bigint() - t0) / N);
  });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")}; ${ROUNDS} rounds, ns per call`,
);
console.log("| path | ns per call |\n|---|---:|");
cells.forEach(([name], i) => {
  console.log(`| ${name} | ${median(samples[i]!).toFixed(1)} |`);
});
