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
import { addressNumber, offHeap } from "../src/sys/bpf-fast.ts";
import { mapCreate } from "../src/sys/bpf-map.ts";
import { BPF_MAP_TYPE } from "../src/sys/constants.ts";
import { libcBinding } from "../src/sys/libc.ts";
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

/** An empty koffi call (labs: no syscall) and the cheapest syscall through koffi, shaped like our bpf(2) call. */
const labs = libcBinding<(x: number) => number>("long labs(long x)");
const syscall4 = libcBinding<(nr: number, a: number, b: number, c: number) => number>(
  "long syscall(long nr, long a, intptr_t b, unsigned long c)",
);
const SYS_GETPID = 39;

function koffiCosts(): { emptyNs: number; getpidNs: number } {
  const f = labs();
  const s = syscall4();
  let sum = 0;
  const t0 = performance.now();
  for (let i = 0; i < LOOKUPS; i++) sum += f(-i);
  const emptyNs = ((performance.now() - t0) * 1e6) / LOOKUPS;
  const t1 = performance.now();
  for (let i = 0; i < LOOKUPS; i++) sum += s(SYS_GETPID, 0, 0, 0);
  const getpidNs = ((performance.now() - t1) * 1e6) / LOOKUPS;
  if (sum < 0) throw new Error("unreachable");
  return { emptyNs, getpidNs };
}

/**
 * The same BPF_MAP_LOOKUP_ELEM with nothing of ours around it: an attr of its own (map_fd, key, value
 * addresses) and the koffi function called directly in the loop. What koffi's call costs on this syscall,
 * which no JS-side change can go below.
 */
function bareKoffiLookupNs(mapFd: number): number {
  const key = offHeap(4);
  key[0] = 3;
  const value = offHeap(8);
  const attr = offHeap(32);
  const v = new DataView(attr.buffer);
  v.setUint32(0, mapFd, true);
  v.setBigUint64(8, BigInt(addressNumber(key)), true);
  v.setBigUint64(16, BigInt(addressNumber(value)), true);
  const at = addressNumber(attr);
  const s = syscall4();
  let bad = 0;
  const t0 = performance.now();
  for (let i = 0; i < LOOKUPS; i++) bad |= s(SYS_BPF, BPF_MAP_LOOKUP_ELEM, at, 32);
  const ns = ((performance.now() - t0) * 1e6) / LOOKUPS;
  if (bad !== 0) throw new Error("the bare lookup failed");
  return ns;
}
const SYS_BPF = 321;
const BPF_MAP_LOOKUP_ELEM = 1;

function ours(): { loadMs: number; lookupNs: number; getNs: number; bareNs: number } {
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
  const bareNs = bareKoffiLookupNs(fd.value);
  return { loadMs, lookupNs, getNs, bareNs };
}

function libbpf(): { loadMs: number; lookupNs: number; getpidNs: number } {
  const text = execFileSync(cBin, [obj, String(LOADS), String(LOOKUPS)], { encoding: "utf8" });
  const get = (k: string) => Number(new RegExp(`${k} ([\\d.]+)`).exec(text)![1]);
  return { loadMs: get("load_ms"), lookupNs: get("lookup_ns"), getpidNs: get("getpid_ns") };
}

// Warm up both (vmlinux BTF parse, JIT, page cache), then alternate rounds and take medians.
loadCollectionSync(parseObject(readFileSync(obj), obj)).close();
const rounds = Number(process.env["ROUNDS"] ?? 5);
const O: ReturnType<typeof ours>[] = [];
const L: ReturnType<typeof libbpf>[] = [];
const K: ReturnType<typeof koffiCosts>[] = [];
for (let r = 0; r < rounds; r++) {
  L.push(libbpf());
  O.push(ours());
  K.push(koffiCosts());
}
const res = {
  loads: LOADS,
  lookups: LOOKUPS,
  rounds,
  loadMs: { kfuncKit: median(O.map((x) => x.loadMs)), libbpf: median(L.map((x) => x.loadMs)) },
  lookupNs: {
    kfuncKitOps: median(O.map((x) => x.lookupNs)),
    kfuncKitGet: median(O.map((x) => x.getNs)),
    bareKoffi: median(O.map((x) => x.bareNs)),
    libbpf: median(L.map((x) => x.lookupNs)),
  },
  koffiNs: {
    emptyCall: median(K.map((x) => x.emptyNs)),
    getpid: median(K.map((x) => x.getpidNs)),
    cGetpid: median(L.map((x) => x.getpidNs)),
  },
};
/**
 * What no JS-side change can go below: libbpf's lookup plus what koffi adds to a syscall of the same shape
 * (its getpid minus C's getpid; an empty koffi call is a lower bound of that).
 */
const koffiOverheadNs = res.koffiNs.getpid - res.koffiNs.cGetpid;
const floorNs = res.lookupNs.libbpf + koffiOverheadNs;
const ratio = {
  load: res.loadMs.kfuncKit / res.loadMs.libbpf,
  lookupOps: res.lookupNs.kfuncKitOps / res.lookupNs.libbpf,
  lookupGet: res.lookupNs.kfuncKitGet / res.lookupNs.libbpf,
  koffiFloor: floorNs / res.lookupNs.libbpf,
  koffiEmptyFloor: (res.lookupNs.libbpf + res.koffiNs.emptyCall) / res.lookupNs.libbpf,
  bareKoffi: res.lookupNs.bareKoffi / res.lookupNs.libbpf,
  opsOverBare: res.lookupNs.kfuncKitOps / res.lookupNs.bareKoffi,
};
if (process.argv.includes("--json")) process.stdout.write(`${JSON.stringify({ ...res, ratio }, null, 2)}\n`);
else {
  const f = (n: number) => n.toFixed(3);
  process.stdout.write(
    [
      `open+load+close (median of ${rounds} rounds × ${LOADS}): kfunc-kit ${f(res.loadMs.kfuncKit)} ms, libbpf ${f(res.loadMs.libbpf)} ms → ${ratio.load.toFixed(2)}×`,
      `array lookup (median of ${rounds} rounds × ${LOOKUPS}): kfunc-kit ops ${res.lookupNs.kfuncKitOps.toFixed(0)} ns, map.get ${res.lookupNs.kfuncKitGet.toFixed(0)} ns, libbpf ${res.lookupNs.libbpf.toFixed(0)} ns → ${ratio.lookupOps.toFixed(2)}× / ${ratio.lookupGet.toFixed(2)}×`,
      `koffi per call (median of ${rounds} rounds × ${LOOKUPS}): empty call (labs) ${res.koffiNs.emptyCall.toFixed(0)} ns, syscall(getpid) ${res.koffiNs.getpid.toFixed(0)} ns vs C ${res.koffiNs.cGetpid.toFixed(0)} ns → koffi adds ${koffiOverheadNs.toFixed(0)} ns to a syscall: the floor for a lookup is ${floorNs.toFixed(0)} ns = ${ratio.koffiFloor.toFixed(2)}× libbpf (with only an empty call's cost: ${ratio.koffiEmptyFloor.toFixed(2)}×)`,
      `the same lookup as one bare koffi call (its own attr, no code of ours): ${res.lookupNs.bareKoffi.toFixed(0)} ns = ${ratio.bareKoffi.toFixed(2)}× libbpf; ops.lookupRaw() is ${ratio.opsOverBare.toFixed(2)}× of it`,
      "",
    ].join("\n"),
  );
}
