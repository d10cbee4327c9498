/**
 * The userspace runtime against native code and uBPF (`node --import tsx bench/uvm.ts`, or
 * `npm run bench -- uvm`). The four programs of bench/uvm (raw bytecode, the same C built natively) are
 * driven through `kfunc uvm run --raw … --warmup W --repeat N --json` in each engine; the native side is
 * bench/uvm/runner_native.c built with `gcc -O2` here. Medians of SAMPLES (default 5) processes; uBPF's
 * recorded figures are those of ../shared/bench/uvm/README.md (taken on another machine of this kind: the CPU
 * behind a machine varies, so set UBPF_SRC, below, for a same-run comparison). Plus a TypeScript kfunc call with
 * 32-bit arguments (bench/uvm/kfunccall.bpf.c). `--json` prints the raw figures.
 *
 * `--against <git revision>`: old vs new in one run. The revision is checked out into a temporary git
 * worktree (node_modules linked, dist/ compiled there; this tree's dist/ is recompiled too), and every cell
 * is measured in both trees with their processes alternated (new, old, new, old, …); the table gets the old
 * tree's column next to each engine's. The worktree is removed at the end.
 *
 * `UBPF_SRC=<a uBPF checkout>` (github.com/iovisor/ubpf; its vm/ directory is all that is read): uBPF's JIT
 * is measured in the same run as well, its vm/*.c and bench/uvm/runner_ubpf.c built here with `gcc -O2`,
 * and the table gets a column of its same-run ratio next to the recorded one.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileBpf } from "../src/compile/index.ts";

const root = new URL("..", import.meta.url).pathname;
const dir = join(root, "bench", "uvm");
const work = mkdtempSync(join(tmpdir(), "kfunc-uvm-bench-"));
/** The old revision's worktree (--against), removed with the scratch directory it lies in. */
let oldTree: string | undefined;
process.on("exit", () => {
  if (oldTree) spawnSync("git", ["-C", root, "worktree", "remove", "--force", oldTree]);
  rmSync(work, { recursive: true, force: true });
});
const SAMPLES = Number(process.env["SAMPLES"] ?? 5);
const againstAt = process.argv.indexOf("--against");
const against = againstAt >= 0 ? process.argv[againstAt + 1] : undefined;
if (againstAt >= 0 && !against) throw new Error("--against needs a git revision (e.g. main)");

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// inputs and the native runner
run("python3", [join(dir, "gen_inputs.py"), work]);
const progs = ["intloop", "fnv1a", "pktparse", "helpercall"];
const objs = progs.map((p) => {
  const o = join(work, `${p}.o`);
  run("gcc", ["-O2", "-DNATIVE", "-c", join(dir, "progs", `${p}.c`), "-o", o]);
  return o;
});
run("gcc", ["-O2", "-c", join(dir, "native_helper.c"), "-o", join(work, "helper.o")]);
const native = join(work, "runner_native_gcc");
run("gcc", ["-O2", join(dir, "runner_native.c"), ...objs, join(work, "helper.o"), "-o", native]);

/** uBPF's runner, built from UBPF_SRC's vm/ when given. */
const ubpfSrc = process.env["UBPF_SRC"];
let ubpfRunner: string | undefined;
if (ubpfSrc) {
  const vm = join(ubpfSrc, "vm");
  if (!existsSync(join(vm, "ubpf_vm.c"))) throw new Error(`UBPF_SRC=${ubpfSrc}: no vm/ubpf_vm.c there`);
  const inc = join(work, "ubpf-inc");
  mkdirSync(inc);
  writeFileSync(join(inc, "ubpf_config.h"), "#define UBPF_HAS_ELF_H\n");
  const sources = readdirSync(vm)
    .filter((f) => f.startsWith("ubpf_") && f.endsWith(".c") && f !== "ubpf_jit_arm64.c")
    .map((f) => join(vm, f));
  ubpfRunner = join(work, "runner_ubpf");
  run(
    "gcc",
    ["-O2", `-I${inc}`, `-I${vm}`, `-I${join(vm, "inc")}`, `-I${dir}`, "-o", ubpfRunner].concat(
      join(dir, "runner_ubpf.c"),
      join(dir, "native_helper.c"),
      sources,
      "-lm",
    ),
  );
  const head = spawnSync("git", ["-C", ubpfSrc, "rev-parse", "--short", "HEAD"], { encoding: "utf8" });
  process.stderr.write(`uBPF: ${ubpfSrc}${head.status === 0 ? ` at ${head.stdout.trim()}` : ""}\n`);
}

/** The trees measured: this one, and with --against the old revision's worktree. */
const trees = [root];
if (against) {
  const old = join(work, "old");
  run("git", ["-C", root, "worktree", "add", "--detach", old, against]);
  oldTree = old;
  symlinkSync(join(root, "node_modules"), join(old, "node_modules"));
  for (const t of [root, old]) run(process.execPath, [join(t, "scripts", "setup.mjs"), "--build"]);
  if (!existsSync(join(old, "dist", "cli", "main.js")))
    throw new Error(`${against}: no dist/cli/main.js built`);
  trees.push(old);
}

interface Bench {
  name: string;
  unit: string;
  iters: number;
  insns: number;
  input: string | undefined;
  r0: string;
  ubpf: { interp: number; jit: number; gcc: number };
  /**
   * warmup, repeat per engine. The warm-up is sized to leave V8's first tiers before timing (100+ ms of runs,
   * or one whole run where a run is longer): Wasm has no on-stack replacement, so a short run stays in
   * Liftoff code until TurboFan's background compile is done, and the interpreter's one large function takes
   * TurboFan 80-200 ms to compile on this machine. Warm-ups of a few ms timed the tiering, not the engine.
   */
  plan: Record<"jit" | "js" | "interp", [number, number]>;
}
const benches: Bench[] = [
  {
    name: "intloop",
    unit: "iteration",
    iters: 1e7,
    insns: 16,
    input: undefined,
    r0: "0x5a215a12576c6897",
    ubpf: { interp: 80.21, jit: 1.908, gcc: 1.957 },
    plan: { jit: [3, 5], js: [2, 2], interp: [2, 2] },
  },
  {
    name: "fnv1a",
    unit: "byte",
    iters: 65536,
    insns: 7,
    input: "fnv.bin",
    r0: "0x58edfcea8bd23e5c",
    ubpf: { interp: 33.29, jit: 1.114, gcc: 1.101 },
    // jit: 2,000 warm-ups left 7 of 10 CLI processes at 1.14-1.16 ns a byte since uvm2's commits (4,000 or
    // more: 1.092-1.096 in every one, main's tree too); the steady state is the same in both
    plan: { jit: [6000, 300], js: [500, 100], interp: [100, 20] },
  },
  {
    name: "pktparse",
    unit: "packet",
    iters: 512,
    insns: 76.77,
    input: "pkts.bin",
    r0: "0xf162aeb7187a837f",
    ubpf: { interp: 457.21, jit: 5.54, gcc: 2.466 },
    plan: { jit: [50000, 5000], js: [5000, 1000], interp: [500, 100] },
  },
  {
    name: "helpercall",
    unit: "call",
    iters: 1e6,
    insns: 6,
    input: undefined,
    r0: "0x7c17b99474ce6700",
    ubpf: { interp: 28.99, jit: 8.082, gcc: 1.638 },
    plan: { jit: [2, 3], js: [2, 3], interp: [2, 2] },
  },
];

const kfunc = (args: string[], tree = root) =>
  run(process.execPath, [join(tree, "bin", "kfunc.js"), ...args]);

/**
 * ns per unit in each tree (trees[0] = this one), a sample per round with their processes alternated;
 * `beside` runs at the start of each round (the native figures taken next to the JIT's).
 */
function measure(b: Bench, engine: "jit" | "js" | "interp", beside?: () => void): number[][] {
  const [warmup, repeat] = b.plan[engine];
  const out: number[][] = trees.map(() => []);
  for (let s = 0; s < SAMPLES; s++) {
    beside?.();
    trees.forEach((tree, t) => {
      const args = ["uvm", "run", "--raw", join(dir, "bytecode", `${b.name}.bin`), "--json"];
      if (b.input) args.push("--mem", join(work, b.input));
      if (b.name === "helpercall") args.push("--helpers", join(dir, "helpers.mjs"));
      args.push("--warmup", String(warmup), "--repeat", String(repeat));
      if (engine !== "jit") args.push(engine === "js" ? "--js" : "--interp");
      const j = JSON.parse(kfunc(args, tree)) as { r0: string; nsPerRun: number };
      if (j.r0 !== b.r0) throw new Error(`${b.name} (${engine}, ${tree}): r0 ${j.r0}, expected ${b.r0}`);
      out[t]!.push(j.nsPerRun / b.iters);
    });
  }
  return out;
}

/** The median of the rounds' ratios xs[s] / ys[s]: a ratio taken within a round is immune to the machine's drift. */
const ratio = (xs: number[], ys: number[]) => median(xs.map((x, s) => x / ys[s]!));

/**
 * gcc's figure, or with `ubpf` uBPF's JIT's (the same invocation count: ~2·10^8 instructions a sample) or
 * interpreter's (~2·10^7).
 */
function nativeNs(b: Bench, ubpf?: string, mode: "jit" | "interp" = "jit"): number {
  const insns = mode === "jit" ? 2e8 : 2e7;
  const invocations = Math.max(1, Math.round(insns / (b.iters * b.insns)));
  const input = b.input ? join(work, b.input) : "-";
  const tail = [String(b.iters), String(invocations), "3"];
  const out = ubpf
    ? run(ubpf, [join(dir, "bytecode", `${b.name}.bin`), mode, input, ...tail])
    : run(native, [b.name, input, ...tail]);
  const m = /result=(0x[0-9a-f]+) median_ns_per_iter=([\d.]+)/.exec(out);
  if (!m || m[1] !== b.r0) throw new Error(`${ubpf ? "uBPF" : "native"} ${b.name}: ${out}`);
  return Number(m[2]);
}

const rows: Record<string, number | string>[] = [];
for (const b of benches) {
  const gccs: number[] = [];
  const ubpfs: number[] = [];
  const jits = measure(b, "jit", () => {
    gccs.push(nativeNs(b));
    if (ubpfRunner) ubpfs.push(nativeNs(b, ubpfRunner));
  });
  const gcc = median(gccs);
  const ubpfJitHere = ubpfRunner ? median(ubpfs) : undefined;
  const [jit, oldJit] = jits.map(median) as [number, number | undefined];
  const [js, oldJs] = measure(b, "js").map(median) as [number, number | undefined];
  const ubpfInterps: number[] = [];
  const [interp, oldInterp] = measure(b, "interp", () => {
    if (ubpfRunner) ubpfInterps.push(nativeNs(b, ubpfRunner, "interp"));
  }).map(median) as [number, number | undefined];
  rows.push({
    bench: b.name,
    unit: `${b.unit} (${b.iters})`,
    gcc,
    jit,
    jitRatio: ratio(jits[0]!, gccs),
    js,
    interp,
    ...(against
      ? { oldJit: oldJit!, oldJitRatio: ratio(jits[1]!, gccs), oldJs: oldJs!, oldInterp: oldInterp! }
      : {}),
    insns: b.insns,
    ubpfInterp: b.ubpf.interp,
    ubpfJit: b.ubpf.jit,
    ubpfGcc: b.ubpf.gcc,
    ...(ubpfJitHere !== undefined
      ? { ubpfJitHere, ubpfRatio: ratio(ubpfs, gccs), ubpfInterpHere: median(ubpfInterps) }
      : {}),
  });
  const was = (x: number | undefined, d: number) => (x === undefined ? "" : ` (old ${x.toFixed(d)})`);
  process.stderr.write(
    `${b.name}: gcc ${gcc.toFixed(3)}${ubpfJitHere === undefined ? "" : `  uBPF jit ${ubpfJitHere.toFixed(3)}`}  jit ${jit.toFixed(3)}${was(oldJit, 3)}  js ${js.toFixed(3)}${was(oldJs, 3)}  interp ${interp.toFixed(2)}${was(oldInterp, 2)}${ubpfInterps.length ? `  uBPF interp ${median(ubpfInterps).toFixed(2)}` : ""}\n`,
  );
}

// a TypeScript kfunc with 32-bit arguments, 10^6 calls per run
const kobj = compileBpf(join(dir, "kfunccall.bpf.c"), { output: join(work, "kfunccall.o") });
const kcall: Record<string, number> = {};
for (const engine of ["jit", "js", "interp"] as const) {
  const out: number[][] = trees.map(() => []);
  for (let s = 0; s < SAMPLES; s++) {
    trees.forEach((tree, t) => {
      const args = ["uvm", "run", kobj, "--program", "kcall", "--kfuncs", join(dir, "kfuncs.mjs"), "--json"];
      args.push("--warmup", "2", "--repeat", engine === "interp" ? "2" : "5");
      if (engine !== "jit") args.push(engine === "js" ? "--js" : "--interp");
      out[t]!.push((JSON.parse(kfunc(args, tree)) as { nsPerRun: number }).nsPerRun / 1e6);
    });
  }
  kcall[engine] = median(out[0]!);
  if (against) kcall[`old ${engine}`] = median(out[1]!);
}

if (process.argv.includes("--json")) {
  console.log(JSON.stringify({ rows, kfuncCall: kcall }, null, 2));
} else {
  const f = (x: number, d = 3) => x.toFixed(d);
  if (against) console.log(`old = ${against}, new = this tree; ${SAMPLES} alternated processes per cell\n`);
  const oldCols = against ? " old JIT ns | old JIT/gcc |" : "";
  const here = ubpfRunner
    ? " uBPF JIT ns (this run) | uBPF JIT/gcc (this run) | uBPF interp ns/insn (this run) |"
    : "";
  console.log(
    `| bench | unit | gcc -O2 ns | JIT (Wasm) ns | JIT/gcc |${oldCols} JIT (JS) ns | interp ns | interp ns/insn |${against ? " old interp ns/insn |" : ""}${here} uBPF JIT/gcc (recorded) | uBPF interp ns/insn (recorded) |`,
  );
  console.log(
    `|---|---|---:|---:|---:|${against ? "---:|---:|" : ""}---:|---:|---:|${against ? "---:|" : ""}${ubpfRunner ? "---:|---:|---:|" : ""}---:|---:|`,
  );
  const ratios: number[] = [];
  const oldRatios: number[] = [];
  for (const r of rows) {
    const b = benches.find((x) => x.name === r["bench"])!;
    const gcc = r["gcc"] as number;
    const jit = r["jit"] as number;
    const interp = r["interp"] as number;
    const oldJit = r["oldJit"] as number | undefined;
    const jitRatio = r["jitRatio"] as number;
    const oldJitRatio = r["oldJitRatio"] as number | undefined;
    if (b.name !== "helpercall") {
      ratios.push(jitRatio);
      if (oldJitRatio !== undefined) oldRatios.push(oldJitRatio);
    }
    const cells = [b.name, r["unit"], f(gcc), f(jit), `${f(jitRatio, 2)}×`];
    if (oldJit !== undefined) cells.push(f(oldJit), `${f(oldJitRatio!, 2)}×`);
    cells.push(f(r["js"] as number), f(interp, 1), f(interp / b.insns, 2));
    if (against) cells.push(f((r["oldInterp"] as number) / b.insns, 2));
    const uh = r["ubpfJitHere"] as number | undefined;
    if (uh !== undefined)
      cells.push(
        f(uh),
        `${f(r["ubpfRatio"] as number, 2)}×`,
        f((r["ubpfInterpHere"] as number) / b.insns, 2),
      );
    cells.push(`${f(b.ubpf.jit / b.ubpf.gcc, 2)}×`, f(b.ubpf.interp / b.insns, 2));
    console.log(`| ${cells.join(" | ")} |`);
  }
  const geo = (xs: number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
  console.log(
    `\nJIT/gcc geometric mean (intloop, fnv1a, pktparse): ${geo(ratios).toFixed(2)}×${against ? ` (old ${geo(oldRatios).toFixed(2)}×)` : ""}`,
  );
  const kc = (e: string) => `${f(kcall[e]!, 1)}${against ? ` (old ${f(kcall[`old ${e}`]!, 1)})` : ""}`;
  console.log(
    `TypeScript kfunc call, two u32 arguments (ns per call incl. the loop): JIT ${kc("jit")}, JS JIT ${kc("js")}, interp ${kc("interp")}`,
  );
}
