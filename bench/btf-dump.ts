/**
 * `kfunc btf dump <vmlinux> --format c > /dev/null` against `bpftool btf dump file <vmlinux> format c`,
 * whole processes, alternated in one run (the machine is noisy: compare within a run), plus our peak RSS
 * and the in-process split (parse / print, warm).
 *
 *   npm run build && node --import tsx bench/btf-dump.ts [runs=7] [btf=/sys/kernel/btf/vmlinux] [small.o]
 *
 * With a small object as third argument, also shows where a whole run's time goes (node startup, the CLI
 * shell, our modules on a tiny input). `OLD=<checkout>` (built) adds that checkout's CLI, alternated with
 * ours and bpftool. Where NODE_EXTRA_CA_CERTS is set (node then reads those certificates at every start,
 * before any script runs), our CLI and `node -e 0` are also run without it.
 */
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { dumpCBytes } from "../src/btf/c-printer.ts";
import { parseBtf } from "../src/btf/index.ts";

const RUNS = Math.max(5, Number(process.argv[2] ?? 7));
const FILE = process.argv[3] ?? "/sys/kernel/btf/vmlinux";
const root = join(fileURLToPath(import.meta.url), "..", "..");
const cli = join(root, "bin", "kfunc.js");
if (!existsSync(join(root, "dist", "cli", "main.js"))) {
  console.error("build first: npm run build");
  process.exit(1);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const devnull = openSync("/dev/null", "w");

// CPU time (perf's task-clock, all threads) next to wall time, where perf works: the shared machine's load
// moves the wall-time ratio (node's GC and compiler threads wait for a core; bpftool has one thread)
const perf =
  spawnSync("perf", ["stat", "-x,", "-e", "task-clock", "true"], { encoding: "utf8" }).status === 0;

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { ms: number; cpu: number; stderr: string } {
  const t0 = performance.now();
  const [c, a] = perf ? ["perf", ["stat", "-x,", "-e", "task-clock", cmd, ...args]] : [cmd, args];
  const r = spawnSync(c, a as string[], { stdio: ["ignore", devnull, "pipe"], env, encoding: "utf8" });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  const cpu = perf ? Number(/([\d.]+),msec,task-clock/.exec(r.stderr)?.[1] ?? Number.NaN) : Number.NaN;
  return { ms, cpu, stderr: r.stderr };
}

const old = process.env["OLD"] ? join(process.env["OLD"], "bin", "kfunc.js") : undefined;
const noCa = process.env["NODE_EXTRA_CA_CERTS"] ? { ...process.env, NODE_EXTRA_CA_CERTS: "" } : undefined;
const olds: number[] = [];
const oursNoCa: number[] = [];
const ours: number[] = [];
const bpftool: number[] = [];
const oursCpu: number[] = [];
const bpftoolCpu: number[] = [];
const rss: number[] = [];
const haveBpftool = spawnSync("bpftool", ["version"]).status === 0;
run(process.execPath, [cli, "btf", "dump", FILE, "--format", "c"]); // warm the page cache
for (let i = 0; i < RUNS; i++) {
  const r = run(process.execPath, [cli, "btf", "dump", FILE, "--format", "c"], {
    ...process.env,
    KFUNC_KIT_REPORT_MAXRSS: "1",
  });
  ours.push(r.ms);
  oursCpu.push(r.cpu);
  const m = /maxrss_kb=(\d+)/.exec(r.stderr);
  if (m) rss.push(Number(m[1]) / 1024);
  if (haveBpftool) {
    const b = run("bpftool", ["btf", "dump", "file", FILE, "format", "c"]);
    bpftool.push(b.ms);
    bpftoolCpu.push(b.cpu);
  }
  if (old) olds.push(run(process.execPath, [old, "btf", "dump", FILE, "--format", "c"]).ms);
  if (noCa) oursNoCa.push(run(process.execPath, [cli, "btf", "dump", FILE, "--format", "c"], noCa).ms);
}
// where the time goes: node itself, the CLI shell, our modules on a tiny input
const small = process.argv[4];
const startup: Record<string, number[]> = { node: [], nodeNoCa: [], version: [], small: [] };
for (let i = 0; i < RUNS; i++) {
  startup["node"]!.push(run(process.execPath, ["-e", "0"]).ms);
  if (noCa) startup["nodeNoCa"]!.push(run(process.execPath, ["-e", "0"], noCa).ms);
  startup["version"]!.push(run(process.execPath, [cli, "--version"]).ms);
  if (small) startup["small"]!.push(run(process.execPath, [cli, "btf", "dump", small]).ms);
}
closeSync(devnull);

const bytes = new Uint8Array(readFileSync(FILE));
const parse: number[] = [];
const print: number[] = [];
for (let i = 0; i < RUNS + 3; i++) {
  const t0 = performance.now();
  const btf = parseBtf(bytes, { source: FILE });
  const t1 = performance.now();
  dumpCBytes(btf);
  const t2 = performance.now();
  if (i >= 3) {
    parse.push(t1 - t0);
    print.push(t2 - t1);
  }
}

const f = (ms: number) => `${ms.toFixed(0)} ms`;
console.log(`${FILE}, ${RUNS} alternated runs each (medians)`);
console.log("| what | median |\n|---|---|");
console.log(`| \`node bin/kfunc.js btf dump ${FILE} --format c > /dev/null\` | ${f(median(ours))} |`);
if (haveBpftool) {
  console.log(`| \`bpftool btf dump file ${FILE} format c > /dev/null\` | ${f(median(bpftool))} |`);
  console.log(`| ratio ours / bpftool | ${(median(ours) / median(bpftool)).toFixed(2)}× |`);
  if (perf)
    console.log(
      `| CPU time (perf task-clock): ours / bpftool | ${f(median(oursCpu))} / ${f(median(bpftoolCpu))} = ${(median(oursCpu) / median(bpftoolCpu)).toFixed(2)}× |`,
    );
}
if (old)
  console.log(
    `| \`node ${old} btf dump …\` (OLD) | ${f(median(olds))} (${(median(olds) / median(bpftool)).toFixed(2)}× bpftool) |`,
  );
if (noCa) {
  const r = haveBpftool ? ` (${(median(oursNoCa) / median(bpftool)).toFixed(2)}× bpftool)` : "";
  console.log(`| ours with NODE_EXTRA_CA_CERTS unset | ${f(median(oursNoCa))}${r} |`);
}
if (rss.length)
  console.log(
    `| our peak RSS (maxRSS) | ${median(rss).toFixed(0)} MB (max ${Math.max(...rss).toFixed(0)} MB) |`,
  );
console.log(`| \`node -e 0\` | ${f(median(startup["node"]!))} |`);
if (noCa) console.log(`| \`node -e 0\`, NODE_EXTRA_CA_CERTS unset | ${f(median(startup["nodeNoCa"]!))} |`);
console.log(`| \`node bin/kfunc.js --version\` (CLI shell) | ${f(median(startup["version"]!))} |`);
if (small) console.log(`| \`node bin/kfunc.js btf dump ${small}\` | ${f(median(startup["small"]!))} |`);
console.log(`| in-process parseBtf, warm | ${median(parse).toFixed(1)} ms |`);
console.log(`| in-process dumpCBytes, warm | ${median(print).toFixed(1)} ms |`);
