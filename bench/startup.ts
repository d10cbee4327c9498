/**
 * CLI start-up, whole processes alternated in one run, medians: `node -e 0`, `kfunc --version` from the
 * bundle (dist/cli/kfunc.bundle.js) and from the unbundled modules (the default; the bundle with KFUNC_KIT_BUNDLE=1), and a quick verb
 * (`kfunc btf dump <small object>`). Run `npm run build` first.
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
  ["node <empty .mjs file>", [join(root, "bench", "empty.mjs")], {}],
  ["kfunc --version (bundle)", [kfunc, "--version"], { KFUNC_KIT_BUNDLE: "1" }],
  ["kfunc --version (modules)", [kfunc, "--version"], {}],
];
if (small) {
  cases.push(["kfunc btf dump <small.o> (bundle)", [kfunc, "btf", "dump", small], { KFUNC_KIT_BUNDLE: "1" }]);
  cases.push(["kfunc btf dump <small.o> (modules)", [kfunc, "btf", "dump", small], {}]);
}
const times = new Map<string, number[]>(cases.map(([n]) => [n, []]));
for (let r = 0; r < ROUNDS + 1; r++) {
  for (const [name, args, env] of cases) {
    const t0 = process.hrtime.bigint();
    const p = spawnSync(process.execPath, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (p.status !== 0) throw new Error(`${name}: exit ${p.status}: ${p.stderr}`);
    if (r > 0) times.get(name)!.push(ms);
  }
}
const base = median(times.get("node -e 0")!);
process.stdout.write(`whole processes, medians of ${ROUNDS} alternated rounds\n`);
for (const [name, t] of times) {
  const ms = median(t);
  process.stdout.write(
    `  ${name.padEnd(36)} ${ms.toFixed(1).padStart(7)} ms  (node -e 0 + ${(ms - base).toFixed(1)} ms)\n`,
  );
}
