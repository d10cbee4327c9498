/**
 * `kfunc uvm run|plugin`: the userspace eBPF runtime (src/uvm). `run` executes an object's program with
 * kfuncs written in TypeScript, or raw bytecode; `plugin` is the BPF conformance suite's plugin contract.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { Command } from "commander";

interface RunCliOptions {
  program?: string;
  kfuncs?: string;
  ctxIn?: string;
  dataIn?: string;
  raw?: boolean;
  mem?: string;
  helpers?: string;
  repeat?: string;
  warmup?: string;
  interp?: boolean;
  js?: boolean;
  json?: boolean;
  btf?: string;
  budget?: string;
}

export function register(program: Command): void {
  const uvm = program
    .command("uvm")
    .description("the userspace eBPF runtime: kfuncs as TypeScript functions");
  uvm
    .command("run")
    .description("run an object's program (or raw bytecode with --raw) in the userspace runtime")
    .argument("<file>", "eBPF object (clang -target bpf -g), or with --raw a file of 8-byte instructions")
    .option("-p, --program <name>", "the program to run (objects)")
    .option("--kfuncs <file>", "a module whose named exports implement the object's __ksym kfuncs")
    .option("--ctx-in <file>", "context bytes: r1 points to a copy (default: zeroed, the program's ctx size)")
    .option("--data-in <file>", "packet data (xdp/tc/socket programs: the ctx's data..data_end)")
    .option("--btf <file>", "BTF for CO-RE relocations (default /sys/kernel/btf/vmlinux)")
    .option("--raw", "the file is raw bytecode: r1 = --mem, r2 = its length")
    .option("--mem <file>", "memory for --raw programs")
    .option("--helpers <file>", "a module whose default export maps helper ids to functions (--raw)")
    .option("-r, --repeat <n>", "run n times and report the time per run")
    .option("--warmup <n>", "untimed runs before the timed ones (default 1; V8 tiers code up while it runs)")
    .option("--budget <n>", "instructions one run may execute (default 10^9)")
    .option("--interp", "use the interpreter instead of the JIT")
    .option("--js", "use the JavaScript-source JIT instead of the WebAssembly one")
    .option("--json", "print the result as JSON")
    .action(async (file: string, opts: RunCliOptions) => {
      await runCommand(file, opts);
    });
  uvm
    .command("plugin")
    .description(
      "the BPF conformance suite's plugin: program as hex on stdin, memory as hex in argv, prints r0",
    )
    .argument("[mem...]", "input memory as hex bytes")
    .option("--interp", "use the interpreter instead of the JIT")
    .option("--js", "use the JavaScript-source JIT instead of the WebAssembly one")
    .action(async (mem: string[], opts: { interp?: boolean; js?: boolean }) => {
      await pluginCommand(mem, opts);
    });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseHex(text: string, what: string): Uint8Array {
  const h = text.replace(/0x/gi, "").replace(/[\s,]+/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(h)) throw new Error(`${what}: not hex bytes`);
  return Uint8Array.from(Buffer.from(h, "hex"));
}

async function pluginCommand(mem: string[], opts: { interp?: boolean; js?: boolean }): Promise<void> {
  const { RawVm, unwindHelper } = await import("../../uvm/raw.ts");
  const program = parseHex(await readStdin(), "program on stdin");
  const memory = parseHex(mem.join(" "), "memory argument");
  const vm = new RawVm(program, {
    mem: memory,
    nativeHelpers: { 5: unwindHelper },
    engine: opts.interp ? "interp" : opts.js ? "js" : "jit",
    name: "plugin",
  });
  process.stdout.write(`${vm.run().toString(16)}\n`);
}

async function readInput(file: string, what: string): Promise<Uint8Array> {
  const { UsageError } = await import("../../errors.ts");
  if (!existsSync(file)) throw new UsageError(`${what} '${file}' does not exist`);
  return new Uint8Array(readFileSync(file));
}

function positive(v: string | undefined, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} '${v}' is not a positive integer`);
  return n;
}

async function runCommand(file: string, opts: RunCliOptions): Promise<void> {
  const { UsageError } = await import("../../errors.ts");
  let repeat: number;
  let budget: number | undefined;
  let warmup = 1;
  try {
    repeat = positive(opts.repeat, "--repeat", 1);
    if (opts.warmup !== undefined) warmup = opts.warmup === "0" ? 0 : positive(opts.warmup, "--warmup", 1);
    budget = opts.budget === undefined ? undefined : positive(opts.budget, "--budget", 1);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const engine = opts.interp ? "interp" : opts.js ? "js" : "jit";
  if (opts.raw) {
    if (opts.program || opts.kfuncs || opts.ctxIn || opts.dataIn)
      throw new UsageError("--raw takes --mem and --helpers, not --program/--kfuncs/--ctx-in/--data-in");
    const { RawVm } = await import("../../uvm/raw.ts");
    const { loadModule } = await import("../../uvm/host.ts");
    const program = await readInput(file, "bytecode file");
    const mem = opts.mem ? await readInput(opts.mem, "--mem file") : undefined;
    const helpers = opts.helpers ? await loadHelpers(opts.helpers, loadModule) : undefined;
    const vm = new RawVm(program, { mem, helpers, engine, budget, name: file });
    const { r0, nsPerRun } = timeRuns(() => vm.run(), repeat, warmup);
    report(opts.json, r0, repeat, nsPerRun);
    return;
  }
  await runObject(file, opts, { repeat, budget, engine, warmup });
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

async function runObject(
  file: string,
  opts: RunCliOptions,
  run: { repeat: number; budget: number | undefined; engine: "jit" | "js" | "interp"; warmup: number },
): Promise<void> {
  const { UsageError, NotSupportedError } = await import("../../errors.ts");
  const { parseObject } = await import("../../object/index.ts");
  const { UvmObject } = await import("../../uvm/object.ts");
  const { RingBufMap, PerfEventMap, ArrayMap, HashMap } = await import("../../uvm/maps.ts");
  const { loadModule, hostVmlinuxBtf, sourceParamNames } = await import("../../uvm/host.ts");
  let bytes: Uint8Array;
  if (file.endsWith(".c")) {
    // compiled into a directory of its own, read, and the directory removed: nothing is left in /tmp
    const { compileBpf } = await import("../../compile/index.ts");
    const dir = mkdtempSync(join(tmpdir(), "kfunc-uvm-"));
    try {
      bytes = readFileSync(compileBpf(file, { output: join(dir, `${basename(file, ".c")}.o`) }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else bytes = await readInput(file, "object");
  const spec = parseObject(bytes, file);
  const name = opts.program ?? (spec.programs.length === 1 ? spec.programs[0]!.name : undefined);
  if (!name)
    throw new UsageError(`${file}: which program? pass --program`, {
      hint: `programs: ${spec.programs.map((p) => `${p.name} (${p.section})`).join(", ") || "(none)"}`,
    });
  const ps = spec.programs.find((p) => p.name === name);
  if (!ps)
    throw new UsageError(`${file}: no program named '${name}'`, {
      hint: `programs: ${spec.programs.map((p) => `${p.name} (${p.section})`).join(", ") || "(none)"}`,
    });
  let btf: import("../../btf/index.ts").Btf | undefined;
  if (spec.programs.some((p) => p.coreRelos.length > 0)) {
    if (opts.btf) {
      const { parseBtf } = await import("../../btf/index.ts");
      btf = parseBtf(await readInput(opts.btf, "--btf file"), { source: opts.btf });
    } else {
      const host = await hostVmlinuxBtf();
      if ("reason" in host)
        throw new NotSupportedError(
          "the userspace runtime",
          undefined,
          `${file}: CO-RE relocations need a target BTF: ${host.reason}`,
          {
            hint: "pass --btf <vmlinux BTF of the kernel the program is written for>",
          },
        );
      btf = host.btf;
    }
  }
  const lines: string[] = [];
  const obj = new UvmObject(spec, {
    engine: run.engine,
    btf,
    budget: run.budget,
    paramNames: sourceParamNames(spec),
    host: { printk: (l) => lines.push(l), comm: "kfunc" },
  });
  if (opts.kfuncs) {
    const mod = await loadModule(opts.kfuncs);
    const externs = new Set(obj.kfuncExterns.map((e) => e.name));
    for (const [k, v] of Object.entries(mod)) {
      if (k === "default" || typeof v !== "function") continue;
      if (!externs.has(k)) {
        process.stderr.write(
          `kfunc: --kfuncs '${opts.kfuncs}': export '${k}' matches no kfunc extern of ${file} (ignored)\n`,
        );
        continue;
      }
      obj.kfunc(k, v as import("../../uvm/kfuncs.ts").KfuncFn);
    }
  }
  obj.load();
  const prog = obj.program(name);
  const ctx = opts.ctxIn ? await readInput(opts.ctxIn, "--ctx-in file") : undefined;
  const data = opts.dataIn ? await readInput(opts.dataIn, "--data-in file") : undefined;
  let result = prog.run({ ctx, data });
  let nsPerRun = 0;
  if (run.repeat > 1) {
    for (let i = 1; i < run.warmup; i++) prog.run({ ctx, data });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < run.repeat; i++) result = prog.run({ ctx, data });
    nsPerRun = Number(process.hrtime.bigint() - t0) / run.repeat;
  }
  const rings: Record<string, string[]> = {};
  const maps: Record<string, { key: string; value: string }[]> = {};
  for (const [mname, m] of obj.maps) {
    if (m instanceof RingBufMap) {
      const recs: string[] = [];
      m.consume((d) => {
        recs.push(hex(d));
      });
      rings[mname] = recs;
    } else if (m instanceof PerfEventMap) rings[mname] = m.read().map(hex);
    else if ((m instanceof ArrayMap || m instanceof HashMap) && m.spec.dataSection === undefined) {
      const entries: { key: string; value: string }[] = [];
      for (const k of m.keys()) {
        const v = m.lookup(k);
        if (v && (m instanceof HashMap || v.some((b) => b !== 0)))
          entries.push({ key: hex(k), value: hex(v) });
      }
      maps[mname] = entries;
    }
  }
  if (opts.json) {
    const { printJson } = await import("../json.ts");
    printJson({
      program: name,
      section: ps.section,
      engine: run.engine,
      r0: `0x${result.r0.toString(16)}`,
      runs: run.repeat,
      nsPerRun,
      printk: lines,
      ringbuf: rings,
      maps,
    });
    return;
  }
  for (const l of lines) process.stdout.write(`${l}\n`);
  for (const [n, recs] of Object.entries(rings)) for (const r of recs) process.stdout.write(`${n}: ${r}\n`);
  for (const [n, es] of Object.entries(maps))
    for (const e of es) process.stdout.write(`map ${n}: ${e.key} = ${e.value}\n`);
  process.stdout.write(`${name} (${ps.section}): r0 = ${result.r0} (0x${result.r0.toString(16)})\n`);
  if (run.repeat > 1)
    process.stdout.write(`${run.repeat} runs, ${nsPerRun.toFixed(0)} ns per run (${run.engine})\n`);
}

async function loadHelpers(
  file: string,
  loadModule: (f: string) => Promise<Record<string, unknown>>,
): Promise<Record<number, (...a: bigint[]) => bigint>> {
  const { UsageError } = await import("../../errors.ts");
  const mod = await loadModule(file);
  const table = mod["default"];
  if (typeof table !== "object" || table === null)
    throw new UsageError(`--helpers '${file}': the default export must map helper ids to functions`);
  const out: Record<number, (...a: bigint[]) => bigint> = {};
  for (const [k, v] of Object.entries(table)) {
    if (!/^\d+$/.test(k) || typeof v !== "function")
      throw new UsageError(`--helpers '${file}': entry '${k}' is not <helper id>: <function>`);
    out[Number(k)] = v as (...a: bigint[]) => bigint;
  }
  return out;
}

/** `warmup` untimed runs (the first gives the result when there are any), then `repeat` timed ones. */
export function timeRuns(fn: () => bigint, repeat: number, warmup = 1): { r0: bigint; nsPerRun: number } {
  let r0 = 0n;
  for (let i = 0; i < warmup; i++) r0 = fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < repeat; i++) r0 = fn();
  return { r0, nsPerRun: Number(process.hrtime.bigint() - t0) / repeat };
}

function report(json: boolean | undefined, r0: bigint, runs: number, nsPerRun: number): void {
  if (json) process.stdout.write(`${JSON.stringify({ r0: `0x${r0.toString(16)}`, runs, nsPerRun })}\n`);
  else
    process.stdout.write(
      `r0 = 0x${r0.toString(16)} (${r0})\n${runs} run(s), ${nsPerRun.toFixed(0)} ns per run\n`,
    );
}
