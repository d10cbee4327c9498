/**
 * CLI start-up, whole processes alternated in one run, medians: `node -e 0`, empty CommonJS and ES-module
 * entries, `kfunc --version` (bin/kfunc.js answers it alone; the KFUNC_KIT_BUNDLE=0 row must be the same),
 * and a quick verb (`kfunc btf dump <small object>`) from the bundle through its code cache (the default,
 * dist/cli/bundle/), the bundle without the cache (KFUNC_KIT_CLI_CODE_CACHE=0) and the ES modules
 * (KFUNC_KIT_BUNDLE=0). Run `npm run build` first.
 *
 *   node --import tsx bench/startup.ts [rounds=15] [small.bpf.o]
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ROUNDS = Number(process.argv[2] ?? 15);
const small = process.argv[3];
const kfunc = join(root, "bin", "kfunc.js");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const cases: Array<[string, string[], Record<string, string>]> = [
  ["node -e 0", ["-e", "0"], {}],
  ["node <empty .cjs file>", [join(root, "bench", "empty.cjs")], {}],
  ["node <empty .mjs file>", [join(root, "bench", "empty.mjs")], {}],
  ["kfunc --version", [kfunc, "--version"], {}],
  ["kfunc --version (KFUNC_KIT_BUNDLE=0)", [kfunc, "--version"], { KFUNC_KIT_BUNDLE: "0" }],
];
if (small) {
  cases.push(["kfunc btf dump <small.o> (bundle, code cache)", [kfunc, "btf", "dump", small], {}]);
  cases.push([
    "kfunc btf dump <small.o> (bundle, no code cache)",
    [kfunc, "btf", "dump", small],
    { KFUNC_KIT_CLI_CODE_CACHE: "0" },
  ]);
  cases.push([
    "kfunc btf dump <small.o> (modules)",
    [kfunc, "btf", "dump", small],
    { KFUNC_KIT_BUNDLE: "0" },
  ]);
}
// CPU time (perf's task-clock, all threads) next to wall time: on this shared machine the wall time of a
// 100 ms process moves by ±20 ms with the other sessions' load, its CPU time much less
const perf =
  spawnSync("perf", ["stat", "-x,", "-e", "task-clock", "true"], { encoding: "utf8" }).status === 0;
const times = new Map<string, number[]>(cases.map(([n]) => [n, []]));
const cpu = new Map<string, number[]>(cases.map(([n]) => [n, []]));
for (let r = 0; r < ROUNDS + 1; r++) {
  for (const [name, args, env] of cases) {
    const t0 = process.hrtime.bigint();
    const [cmd, argv] = perf
      ? ["perf", ["stat", "-x,", "-e", "task-clock", process.execPath, ...args]]
      : [process.execPath, args];
    const p = spawnSync(cmd, argv as string[], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
      encoding: "utf8",
    });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (p.status !== 0) throw new Error(`${name}: exit ${p.status}: ${p.stderr}`);
    if (r === 0) continue;
    times.get(name)!.push(ms);
    if (perf) cpu.get(name)!.push(Number(p.stderr.trim().split("\n").pop()!.split(",")[0]));
  }
}
const base = median(times.get("node -e 0")!);
const cpuBase = perf ? median(cpu.get("node -e 0")!) : 0;
process.stdout.write(
  `whole processes, medians of ${ROUNDS} alternated rounds${perf ? " (wall | CPU: perf task-clock)" : ""}\n`,
);
for (const [name, t] of times) {
  const ms = median(t);
  const c = perf ? median(cpu.get(name)!) : 0;
  process.stdout.write(
    `  ${name.padEnd(36)} ${ms.toFixed(1).padStart(7)} ms  (node -e 0 + ${(ms - base).toFixed(1)} ms)` +
      (perf ? ` | CPU ${c.toFixed(1).padStart(6)} ms (+ ${(c - cpuBase).toFixed(1)} ms)` : "") +
      "\n",
  );
}
