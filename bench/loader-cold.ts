/**
 * The first loadCollection in a fresh process against one libbpf load in a fresh process, alternated,
 * medians. Each side is timed inside its own process around the load alone (ours: parse + load + close of
 * the object, after the imports; libbpf: open + load + close, bench/c/loader.c with 1 load). Ours runs
 * twice per round: with the per-boot cache (feature probes, vmlinux kfunc ids; src/kernel/boot-cache.ts)
 * and with KFUNC_KIT_NO_BOOT_CACHE=1. Run bench/loader.ts once first (it builds the object and the peer).
 *
 * The child imports the compiled package (dist/, what a user's script runs: `npm run build` first), not the
 * sources through tsx, whose on-the-fly compiling of lazily imported modules would land inside the load.
 *
 *   npm run build && node --import tsx bench/loader-cold.ts [rounds=11]
 *   node --import tsx bench/loader-cold.ts --child   (one fresh-process load, prints JSON)
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

const dir = "/tmp/kfunc-kit-bench-loader";
const obj = `${dir}/loader-prog.bpf.o`;

if (process.argv[2] === "--child") {
  const t0 = performance.now();
  const dist = new URL("../dist/", import.meta.url);
  if (!existsSync(new URL("kernel/index.js", dist))) throw new Error("build first: npm run build");
  const { parseObject } = (await import(
    new URL("object/index.js", dist).href
  )) as typeof import("../src/object/index.ts");
  const { loadCollectionSync } = (await import(
    new URL("kernel/index.js", dist).href
  )) as typeof import("../src/kernel/index.ts");
  const t1 = performance.now();
  loadCollectionSync(parseObject(readFileSync(obj), obj)).close();
  const t2 = performance.now();
  loadCollectionSync(parseObject(readFileSync(obj), obj)).close();
  const t3 = performance.now();
  process.stdout.write(JSON.stringify({ imports: t1 - t0, first: t2 - t1, second: t3 - t2 }));
} else {
  const ROUNDS = Number(process.argv[2] ?? 11);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const child = (env: Record<string, string>) =>
    JSON.parse(
      execFileSync(process.execPath, ["--import", "tsx", import.meta.filename, "--child"], {
        encoding: "utf8",
        env: { ...process.env, ...env },
      }),
    ) as { imports: number; first: number; second: number };
  const cached: number[] = [];
  const uncached: number[] = [];
  const second: number[] = [];
  const libbpf: number[] = [];
  child({}); // fills the boot cache
  for (let r = 0; r < ROUNDS; r++) {
    const c = child({});
    cached.push(c.first);
    second.push(c.second);
    uncached.push(child({ KFUNC_KIT_NO_BOOT_CACHE: "1" }).first);
    const text = execFileSync(`${dir}/loader-bench`, [obj, "1", "1"], { encoding: "utf8" });
    libbpf.push(Number(/load_ms ([\d.]+)/.exec(text)![1]));
  }
  const l = median(libbpf);
  const row = (name: string, xs: number[]) =>
    `  ${name.padEnd(52)} ${median(xs).toFixed(1).padStart(7)} ms  ${(median(xs) / l).toFixed(2)}× libbpf\n`;
  process.stdout.write(
    `first load in a fresh process, medians of ${ROUNDS} alternated rounds (target ≤ 1.5× libbpf)\n` +
      row("kfunc-kit, first loadCollection (boot cache warm)", cached) +
      row("kfunc-kit, first loadCollection (KFUNC_KIT_NO_BOOT_CACHE=1)", uncached) +
      row("kfunc-kit, second loadCollection in the same process", second) +
      row("libbpf 1.1, open+load+close in a fresh process", libbpf),
  );
}
