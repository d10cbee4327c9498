/**
 * `npm run demo` wall time from a warm cache, per step: runs `kfunc demo --json` RUNS times (default 5)
 * and prints the median of each step. Usage: node --import tsx bench/demo.ts [runs]
 */
import { spawnSync } from "node:child_process";

const ROOT = new URL("..", import.meta.url).pathname;
const runs = Number(process.argv[2] ?? 5);

interface DemoJson {
  ok: boolean;
  steps: Record<string, number>;
  totalMs: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

// warm-up: the kernel cache, the module build dir and the guest bundle
spawnSync(process.execPath, ["bin/kfunc.js", "demo", "--json"], { cwd: ROOT, encoding: "utf8" });

const samples: Record<string, number[]> = {};
const wall: number[] = [];
for (let i = 0; i < runs; i++) {
  const t = performance.now();
  const r = spawnSync(process.execPath, ["bin/kfunc.js", "demo", "--json"], { cwd: ROOT, encoding: "utf8" });
  const elapsed = performance.now() - t;
  if (r.status !== 0) throw new Error(`kfunc demo failed (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
  const j = JSON.parse(r.stdout) as DemoJson;
  wall.push(elapsed);
  for (const [k, v] of Object.entries(j.steps)) {
    samples[k] ??= [];
    samples[k].push(v);
  }
  process.stderr.write(`run ${i + 1}/${runs}: ${(elapsed / 1000).toFixed(1)} s\n`);
}
console.log(
  `kfunc demo, warm cache, median of ${runs} runs (whole process): ${(median(wall) / 1000).toFixed(1)} s`,
);
console.log(
  `  min ${(Math.min(...wall) / 1000).toFixed(1)} s, max ${(Math.max(...wall) / 1000).toFixed(1)} s`,
);
for (const [k, v] of Object.entries(samples))
  console.log(`  ${k.padEnd(18)} ${(median(v) / 1000).toFixed(2)} s`);
