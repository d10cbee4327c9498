/**
 * The first loadCollection in a fresh process against one libbpf load in a fresh process, alternated,
 * medians. Each side is timed inside its own process around the load alone (ours: parse + load + close of
 * the object, after the imports; libbpf: open + load + close, bench/c/loader.c with 1 load). Ours runs
 * twice per round: with the per-boot cache (feature probes, vmlinux kfunc ids; src/kernel/boot-cache.ts)
 * and with KFUNC_KIT_NO_BOOT_CACHE=1. Run bench/loader.ts once first (it builds the object and the peer).
 *
 * The child (bench/loader-cold-child.mjs, plain JavaScript run by plain node) imports the compiled package
 * (dist/, what a user's script runs: `npm run build` first). Through tsx, its loader hooks (a thread of
 * their own) and its on-the-fly compiling would land inside the load: 5–8 ms of it on this machine.
 *
 * Two more children show where the difference to libbpf goes: one that loads koffi (dlopen of its native
 * module, what the dynamic linker does for libbpf.so before main) before the timed load, and one that also
 * starts node with `--initial-heap-size=32`, so that V8's first mark-compact (due when the heap outgrows
 * its initial size, which the imports bring near) does not fall inside the load. Neither is a setting a
 * library can make for its user: they measure what is left.
 *
 *   npm run build && node --import tsx bench/loader-cold.ts [rounds=11]
 *   node bench/loader-cold-child.mjs   (one fresh-process load, prints JSON)
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const dir = "/tmp/kfunc-kit-bench-loader";
const obj = `${dir}/loader-prog.bpf.o`;

const ROUNDS = Number(process.argv[2] ?? 11);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const child = (env: Record<string, string>, flags: string[] = []) =>
  JSON.parse(
    execFileSync(process.execPath, [...flags, join(import.meta.dirname, "loader-cold-child.mjs")], {
      encoding: "utf8",
      env: { ...process.env, ...env },
    }),
  ) as { imports: number; first: number; second: number };
const cached: number[] = [];
const imports: number[] = [];
const uncached: number[] = [];
const second: number[] = [];
const libbpf: number[] = [];
const preloaded: number[] = [];
const preloadedNoGc: number[] = [];
child({}); // fills the boot cache
for (let r = 0; r < ROUNDS; r++) {
  const c = child({});
  cached.push(c.first);
  imports.push(c.imports);
  second.push(c.second);
  uncached.push(child({ KFUNC_KIT_NO_BOOT_CACHE: "1" }).first);
  preloaded.push(child({ KFUNC_KIT_BENCH_PRELOAD_KOFFI: "1" }).first);
  preloadedNoGc.push(child({ KFUNC_KIT_BENCH_PRELOAD_KOFFI: "1" }, ["--initial-heap-size=32"]).first);
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
    row("  the first, koffi loaded before it", preloaded) +
    row("  the first, koffi loaded, a 32 MB initial heap", preloadedNoGc) +
    row("libbpf 1.1, open+load+close in a fresh process", libbpf) +
    `  (kfunc-kit's imports before the load, not timed above: ${median(imports).toFixed(1)} ms)\n`,
);
