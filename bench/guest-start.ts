/**
 * The `kfunc test` runner's start in a fresh (restored) guest, with and without its V8 code cache
 * (src/testing/code-cache.ts): alternated pairs of `runInVm` with an empty plan, so each pair sees the same
 * machine load. Per run the runner's own clock: node + runner loaded (main() begins), BTF + feature probes,
 * ready. Usage: node --import tsx bench/guest-start.ts [PAIRS] [KERNEL]   (default 6, debian:bookworm-backports)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultCacheDir } from "../src/host/cache.ts";
import { prepareKernel, runInVm } from "../src/qemu/index.ts";
import { parseResults } from "../src/qemu/result-channel.ts";
import { guestLoader } from "../src/testing/code-cache.ts";
import { bundleForGuest } from "../src/testing/run.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PAIRS = Number(process.argv[2] ?? 6);
const KERNEL = process.argv[3] ?? "debian:bookworm-backports";
const guest = join(REPO, "src", "testing", "guest.ts");
const esm = bundleForGuest(guest, "bench-guest-start");
const cjs = bundleForGuest(guest, "bench-guest-start", "cjs");
const kernel = await prepareKernel(KERNEL);
const cacheDir = defaultCacheDir();
type Ready = { type: string; startMs?: number; mainMs?: number; warmMs?: number };
const rows: Record<string, Record<string, number[]>> = { old: {}, new: {} };
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function once(how: "old" | "new"): Promise<void> {
  const runDir = mkdtempSync(join(tmpdir(), "kfunc-guest-start-"));
  try {
    const plan = join(runDir, "plan.json");
    writeFileSync(plan, JSON.stringify({ files: [] }));
    const cached = how === "new" ? guestLoader(cjs, runDir, cacheDir, []) : undefined;
    const r = await runInVm({
      kernel,
      command: [process.execPath, cached?.loader ?? esm, plan],
      cwd: runDir,
      shares: [runDir],
      cacheDir,
    });
    cached?.collect();
    const ready = parseResults<Ready>(r.stdout).find((x) => x.type === "ready");
    if (!ready) throw new Error(`no ready record (${how}): ${r.stderr}`);
    const add = (k: string, v: number | undefined) => {
      if (v !== undefined) rows[how]![k] = [...(rows[how]![k] ?? []), v];
    };
    add("node + runner loaded", ready.mainMs);
    add("BTF + feature probes", ready.mainMs !== undefined ? ready.warmMs! - ready.mainMs : undefined);
    add("ready (guest start)", ready.startMs);
    add("guest command (QEMU's clock)", r.timings.command);
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
}

await once("new"); // makes the cache (when there is none), not counted
rows["new"] = {};
for (let i = 0; i < PAIRS; i++)
  for (const how of i % 2 ? (["new", "old"] as const) : (["old", "new"] as const)) await once(how);
console.log(
  `${KERNEL}, ${PAIRS} pairs, load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}`,
);
console.log("| guest start (medians) | old (ESM bundle) | new (code cache) |\n|---|---|---|");
for (const k of Object.keys(rows["old"]!))
  console.log(
    `| ${k} | ${(median(rows["old"]![k]!) / 1000).toFixed(2)} s | ${(median(rows["new"]![k] ?? []) / 1000).toFixed(2)} s |`,
  );
const o = rows["old"]!["node + runner loaded"]!;
const n = rows["new"]!["node + runner loaded"]!;
console.log(
  `node + runner loaded, new faster in ${o.filter((x, i) => n[i]! < x).length} of ${o.length} pairs`,
);
const pair = (x: number, i: number) => `${(x / 1000).toFixed(2)}/${(n[i]! / 1000).toFixed(2)}`;
console.log(`pairs, node + runner loaded (old/new): ${o.map(pair).join(", ")}`);
