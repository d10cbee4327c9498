/**
 * Restored vs cold VM start: `node bin/kfunc.js vm run --json -- true` end to end (compiled CLI in dist/),
 * interleaved in one run (restored, cold, restored, cold, …), medians of N rounds, and where the restored
 * run's time goes (from its --json timings). The first run saves the state if it is missing.
 * Usage: npm run build && node --import tsx bench/vm-snapshot.ts [N]
 */
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(REPO, "bin", "kfunc.js");
const N = Number(process.argv[2] ?? 7);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (ms: number | undefined) => (ms === undefined ? "–" : `${(ms / 1000).toFixed(2)} s`);

interface Run {
  ms: number;
  start: string;
  timings: Record<string, number | undefined>;
}

function run(cold: boolean): Run {
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [CLI, "vm", "run", "--json", ...(cold ? ["--cold"] : []), "--", "true"],
    {
      cwd: REPO,
      encoding: "utf8",
    },
  );
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`vm run exited ${r.status}: ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { start: string; timings: Record<string, number | undefined> };
  return { ms, start: j.start, timings: j.timings };
}

run(false); // saves the state when missing; warms the page cache
const restored: Run[] = [];
const cold: Run[] = [];
const load0 = loadavg()[0]!;
for (let i = 0; i < N; i++) {
  restored.push(run(false));
  cold.push(run(true));
}
if (restored.some((r) => r.start !== "restored")) throw new Error("a default run did not restore");
const col = (rs: Run[], k: string) => {
  const xs = rs.map((r) => r.timings[k]).filter((x): x is number => x !== undefined);
  return xs.length ? median(xs) : undefined;
};
const rows: [string, number | undefined, number | undefined][] = [
  ["**`kfunc vm run -- true` end to end**", median(restored.map((r) => r.ms)), median(cold.map((r) => r.ms))],
  ["QEMU start → guest has its run (restore / —)", col(restored, "restore"), undefined],
  ["QEMU start → /init (kernel boot)", undefined, col(cold, "qemuToInit")],
  ["host root + shares mounted (9p)", col(restored, "initramfs"), col(cold, "initramfs")],
  ["setup (switch_root, tracefs/bpffs, cwd)", col(restored, "setup"), col(cold, "setup")],
  ["command (`true`)", col(restored, "command"), col(cold, "command")],
  ["poweroff (exit → QEMU gone)", col(restored, "poweroff"), col(cold, "poweroff")],
  ["QEMU total", col(restored, "total"), col(cold, "total")],
  ["CLI + library prepare", col(restored, "prepare"), col(cold, "prepare")],
];
console.log(`${N} rounds interleaved, load average ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`);
console.log("| phase | restored | cold |\n|---|---|---|");
for (const [k, a, b] of rows) console.log(`| ${k} | ${fmt(a)} | ${fmt(b)} |`);
