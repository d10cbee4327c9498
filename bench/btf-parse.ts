/**
 * BTF parse benchmark: kfunc-kit's parseBtf on the running kernel's vmlinux BTF, in-process, against
 * libbpf 1.1 (btf__parse_raw, the same work in C) on the same file.
 *
 *   node --import tsx bench/btf-parse.ts [runs=25] [btf=/sys/kernel/btf/vmlinux]
 *
 * Figures (medians after warm-up):
 *   parse                     header + one pass recording every record's offset and kind
 *   parse + name index        parse, then findByName("task_struct") (builds the name index once)
 *   full decode               parse, then decode every type to objects (ownTypes)
 *   encode                    encodeBtf of all decoded types (the writer)
 *   libbpf parse + find       btf__parse_raw + btf__find_by_name_kind("task_struct") in C
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { type BtfType, encodeBtf, parseBtf } from "../src/btf/index.ts";

const RUNS = Number(process.argv[2] ?? 25);
const FILE = process.argv[3] ?? "/sys/kernel/btf/vmlinux";
const bytes = new Uint8Array(readFileSync(FILE));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

interface Sample {
  wall: number;
  cpu: number;
}

/** Wall and CPU (user + system of this process) time per run: on a loaded machine CPU time is steadier. */
function time(runs: number, warmup: number, fn: () => unknown): Sample[] {
  for (let i = 0; i < warmup; i++) fn();
  const out: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    out.push({ wall, cpu: (c.user + c.system) / 1000 });
  }
  return out;
}

const probe = parseBtf(bytes, { source: FILE });
console.log(`${FILE}: ${bytes.length} bytes, ${probe.nextId - 1} types; ${RUNS} runs after warm-up`);

const rows: Array<[string, Sample[]]> = [];
rows.push(["parse", time(RUNS, 5, () => parseBtf(bytes, { source: FILE }))]);
rows.push([
  "parse + name index",
  time(RUNS, 5, () => {
    const btf = parseBtf(bytes, { source: FILE });
    if (!btf.findByName("task_struct", "STRUCT")) throw new Error("task_struct not found");
  }),
]);
const decodeRuns = Math.max(5, Math.floor(RUNS / 2));
rows.push([
  "full decode (all types)",
  time(decodeRuns, 2, () => {
    let n = 0;
    for (const _ of parseBtf(bytes, { source: FILE }).ownTypes()) n++;
    return n;
  }),
]);
const all: BtfType[] = [...probe.ownTypes()];
rows.push(["encode (all types)", time(decodeRuns, 2, () => encodeBtf(all))]);

const C = `
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double clk(clockid_t id) { struct timespec t; clock_gettime(id, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
  int runs = atoi(argv[2]);
  double *t = calloc(runs, sizeof(double)), *c = calloc(runs, sizeof(double));
  for (int i = -5; i < runs; i++) {
    double t0 = clk(CLOCK_MONOTONIC), c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
    struct btf *btf = btf__parse_raw(argv[1]);
    if (!btf || btf__find_by_name_kind(btf, "task_struct", BTF_KIND_STRUCT) < 0) return 1;
    double t1 = clk(CLOCK_MONOTONIC), c1 = clk(CLOCK_PROCESS_CPUTIME_ID);
    btf__free(btf);
    if (i >= 0) { t[i] = t1 - t0; c[i] = c1 - c0; }
  }
  qsort(t, runs, sizeof(double), cmp);
  qsort(c, runs, sizeof(double), cmp);
  printf("%f %f\\n", t[runs / 2], c[runs / 2]);
  return 0;
}
`;
let libbpf: string;
const dir = mkdtempSync(join(tmpdir(), "kfunc-kit-bench-"));
writeFileSync(join(dir, "btf.c"), C);
const cc = spawnSync("gcc", ["-O2", "-o", join(dir, "btf"), join(dir, "btf.c"), "-lbpf"], {
  encoding: "utf8",
});
if (cc.status === 0) {
  const [wall, cpu] = execFileSync(join(dir, "btf"), [FILE, String(RUNS)], { encoding: "utf8" })
    .trim()
    .split(" ")
    .map(Number) as [number, number];
  libbpf = `${fmt(wall).padStart(10)} wall, ${fmt(cpu).padStart(10)} cpu`;
} else libbpf = `not measured (gcc/libbpf-dev missing: ${cc.stderr.split("\n")[0]})`;

console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")} on ${cpus().length} CPUs`,
);
for (const [name, xs] of rows) {
  const wall = xs.map((x) => x.wall);
  const cpu = xs.map((x) => x.cpu);
  console.log(
    `${name.padEnd(26)} median ${fmt(median(wall)).padStart(10)} wall, ${fmt(median(cpu)).padStart(10)} cpu   min ${fmt(Math.min(...wall))} wall`,
  );
}
console.log(
  `${"libbpf parse + find (C)".padEnd(26)} median ${libbpf}   (btf__parse_raw + btf__find_by_name_kind)`,
);
