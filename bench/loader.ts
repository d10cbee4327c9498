/**
 * Loader benchmarks, side by side in one run: open+load+close of the same object (bench/c/loader-prog.bpf.c)
 * in-process vs libbpf 1.1 (bench/c/loader.c, built with gcc -lbpf here), and array map lookups through our
 * API vs a C loop of bpf_map_lookup_elem. Run: `node --import tsx bench/loader.ts [--json]`.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileBpf } from "../src/compile/clang.ts";
import { BpfMap, loadCollectionSync } from "../src/kernel/index.ts";
import { parseObject } from "../src/object/index.ts";
import { mapCreate } from "../src/sys/bpf-map.ts";
import { BPF_MAP_TYPE } from "../src/sys/constants.ts";
import { vmlinuxHeaderDir } from "../test/kernel/load-helpers.ts";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(tmpdir(), "kfunc-kit-bench-loader");
mkdirSync(out, { recursive: true });
const LOADS = Number(process.env["LOADS"] ?? 200);
const LOOKUPS = Number(process.env["LOOKUPS"] ?? 1_000_000);

const obj = compileBpf(join(here, "c", "loader-prog.bpf.c"), {
  output: join(out, "loader-prog.bpf.o"),
  includeDirs: [vmlinuxHeaderDir()],
});
const cBin = join(out, "loader-bench");
execFileSync("gcc", ["-O2", "-o", cBin, join(here, "c", "loader.c"), "-lbpf"]);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function ours(): { loadMs: number; lookupNs: number; getNs: number } {
  const t0 = performance.now();
  for (let i = 0; i < LOADS; i++) {
    const spec = parseObject(readFileSync(obj), obj);
    loadCollectionSync(spec).close();
  }
  const loadMs = (performance.now() - t0) / LOADS;
  const fd = mapCreate({ type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: 8, maxEntries: 16, name: "bench" });
  using map = new BpfMap(fd, {
    name: "bench",
    type: BPF_MAP_TYPE.ARRAY,
    keySize: 4,
    valueSize: 8,
    maxEntries: 16,
    flags: 0,
  });
  const ops = map.ops;
  new DataView(ops.key.buffer).setUint32(0, 3, true);
  const t1 = performance.now();
  for (let i = 0; i < LOOKUPS; i++) ops.lookupRaw();
  const lookupNs = ((performance.now() - t1) * 1e6) / LOOKUPS;
  const t2 = performance.now();
  for (let i = 0; i < LOOKUPS; i++) map.get(3);
  const getNs = ((performance.now() - t2) * 1e6) / LOOKUPS;
  return { loadMs, lookupNs, getNs };
}

function libbpf(): { loadMs: number; lookupNs: number } {
  const text = execFileSync(cBin, [obj, String(LOADS), String(LOOKUPS)], { encoding: "utf8" });
  const get = (k: string) => Number(new RegExp(`${k} ([\\d.]+)`).exec(text)![1]);
  return { loadMs: get("load_ms"), lookupNs: get("lookup_ns") };
}

// Warm up both (vmlinux BTF parse, JIT, page cache), then alternate rounds and take medians.
loadCollectionSync(parseObject(readFileSync(obj), obj)).close();
const rounds = Number(process.env["ROUNDS"] ?? 5);
const O: ReturnType<typeof ours>[] = [];
const L: ReturnType<typeof libbpf>[] = [];
for (let r = 0; r < rounds; r++) {
  L.push(libbpf());
  O.push(ours());
}
const res = {
  loads: LOADS,
  lookups: LOOKUPS,
  rounds,
  loadMs: { kfuncKit: median(O.map((x) => x.loadMs)), libbpf: median(L.map((x) => x.loadMs)) },
  lookupNs: {
    kfuncKitOps: median(O.map((x) => x.lookupNs)),
    kfuncKitGet: median(O.map((x) => x.getNs)),
    libbpf: median(L.map((x) => x.lookupNs)),
  },
};
const ratio = {
  load: res.loadMs.kfuncKit / res.loadMs.libbpf,
  lookupOps: res.lookupNs.kfuncKitOps / res.lookupNs.libbpf,
  lookupGet: res.lookupNs.kfuncKitGet / res.lookupNs.libbpf,
};
if (process.argv.includes("--json")) process.stdout.write(`${JSON.stringify({ ...res, ratio }, null, 2)}\n`);
else {
  const f = (n: number) => n.toFixed(3);
  process.stdout.write(
    [
      `open+load+close (median of ${rounds} rounds × ${LOADS}): kfunc-kit ${f(res.loadMs.kfuncKit)} ms, libbpf ${f(res.loadMs.libbpf)} ms → ${ratio.load.toFixed(2)}×`,
      `array lookup (median of ${rounds} rounds × ${LOOKUPS}): kfunc-kit ops ${res.lookupNs.kfuncKitOps.toFixed(0)} ns, map.get ${res.lookupNs.kfuncKitGet.toFixed(0)} ns, libbpf ${res.lookupNs.libbpf.toFixed(0)} ns → ${ratio.lookupOps.toFixed(2)}× / ${ratio.lookupGet.toFixed(2)}×`,
      "",
    ].join("\n"),
  );
}
