/**
 * The usdt tests' target program (test/fixtures/usdt-target*.c): built with gcc -O2 (plus one -O0
 * translation unit and a shared library) into the fixture cache, keyed by a hash of its sources and the
 * compiler; a driver that starts it and fires its probes on command; the argument values each probe must
 * report for given inputs.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { FIXTURE_CACHE, FIXTURES_DIR } from "../helpers/index.ts";

export interface TargetBuild {
  dir: string;
  exe: string;
  lib: string;
}

const SOURCES = [
  "usdt-target.c",
  "usdt-target.h",
  "usdt-target-sema.c",
  "usdt-target-o0.c",
  "usdt-target-lib.c",
];

/** Builds (or reuses) the target: `usdt-target` linked against `libusdt-target.so` (rpath $ORIGIN). */
export function buildTarget(): TargetBuild {
  const h = createHash("sha256");
  for (const f of SOURCES) h.update(f).update(readFileSync(join(FIXTURES_DIR, f)));
  h.update(execFileSync("gcc", ["--version"], { encoding: "utf8" }));
  const dir = join(FIXTURE_CACHE, `usdt-target-${h.digest("hex").slice(0, 16)}`);
  const exe = join(dir, "usdt-target");
  const lib = join(dir, "libusdt-target.so");
  if (existsSync(exe)) return { dir, exe, lib };
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const src = (f: string) => join(FIXTURES_DIR, f);
  const gcc = (args: string[]) => execFileSync("gcc", args, { cwd: tmp, stdio: ["ignore", "pipe", "pipe"] });
  gcc(["-O2", "-g", "-shared", "-fPIC", "-o", "libusdt-target.so", src("usdt-target-lib.c")]);
  gcc(["-O0", "-g", "-c", "-o", "o0.o", src("usdt-target-o0.c")]);
  gcc([
    ...["-O2", "-g", "-o", "usdt-target", src("usdt-target.c"), src("usdt-target-sema.c"), "o0.o"],
    ...["-L.", "-lusdt-target", "-Wl,-rpath,$ORIGIN"],
  ]);
  mkdirSync(FIXTURE_CACHE, { recursive: true });
  try {
    renameSync(tmp, dir); // atomic: a concurrent build that won leaves its identical copy
  } catch {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { dir, exe, lib };
}

/** The eight inputs of `fire` (s8 u8 s16 u16 s32 u32 s64 u64). */
export type Inputs = [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint];

export const INPUTS_NEGATIVE: Inputs = [
  -5n,
  250n,
  -30000n,
  60000n,
  -2000000000n,
  4000000000n,
  -9000000000000000000n,
  0xfedcba9876543210n,
];
export const INPUTS_EXTREME: Inputs = [
  -128n,
  255n,
  -32768n,
  65535n,
  -2147483648n,
  4294967295n,
  -(2n ** 63n),
  2n ** 64n - 1n,
];
export const INPUTS_POSITIVE: Inputs = [127n, 1n, 32767n, 2n, 2147483647n, 3n, 2n ** 63n - 1n, 42n];

const s = (bits: number, v: bigint) => BigInt.asIntN(bits, v);
const u = (bits: number, v: bigint) => BigInt.asUintN(bits, v);

/** Every probe call site in firing order, with the values bpf_usdt_arg() must return (as signed 64-bit). */
export function expectedArgs(i: Inputs): Array<{ probe: string; args: bigint[] }> {
  const [s8, u8, s16, u16, s32, u32, s64, u64] = i;
  const all = [s8, u8, s16, u16, s32, u32, s64, u64];
  const arr1 = s(64, u64); // arr[1] = (long)u64
  return [
    { probe: "regs", args: all },
    { probe: "mem", args: all },
    {
      probe: "consts",
      args: [
        -5n,
        250n,
        -30000n,
        60000n,
        -2000000000n,
        4000000000n,
        -9000000000000000000n,
        0xfedcba9876543210n,
      ],
    },
    { probe: "dtrace", args: [s(32, s32 + 1n), u64 - 1n, 7n] },
    { probe: "twice", args: [u(32, u32 * 3n), 1n] },
    { probe: "twice", args: [s64, 2n] },
    { probe: "none", args: [] },
    { probe: "sib", args: [arr1, s(32, arr1)] },
    { probe: "stack", args: [s(64, s64 + 1n), u32] },
    { probe: "frame", args: [s32, s64, s16, u8] },
    { probe: "glob", args: [s32, u16] },
    { probe: "sema", args: [s32, u16] },
    { probe: "sema_dtrace", args: [s8] },
    { probe: "lib", args: [u32, s64] },
  ].map((e) => ({ ...e, args: e.args.map((a) => s(64, a)) }));
}

/** A running target: `fire()` fires every probe once and resolves when it has; `sema()` reads semaphores. */
export class Target {
  readonly child: ChildProcessWithoutNullStreams;
  readonly #lines: Interface;
  readonly #waiting: Array<(line: string) => void> = [];
  #exited: Promise<number | null>;

  constructor(exe: string) {
    this.child = spawn(exe, [], { stdio: ["pipe", "pipe", "pipe"] });
    this.#lines = createInterface({ input: this.child.stdout });
    this.#lines.on("line", (l) => this.#waiting.shift()?.(l));
    this.#exited = new Promise((r) => this.child.once("exit", (code) => r(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  #ask(cmd: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#waiting.push(resolve);
      this.child.stdin.write(`${cmd}\n`, (e) => e && reject(e));
    });
  }

  async fire(i: Inputs): Promise<void> {
    const r = await this.#ask(`fire ${i.join(" ")}`);
    if (r !== "fired") throw new Error(`target: ${r}`);
  }

  /** Fires the HotSpot GC probes (hotspot:gc__begin, mem__pool__gc__begin/end, gc__end). */
  async gc(): Promise<void> {
    const r = await this.#ask("gc");
    if (r !== "gc") throw new Error(`target: ${r}`);
  }

  async sema(): Promise<[number, number]> {
    const r = await this.#ask("sema");
    const m = /^sema (\d+) (\d+)$/.exec(r);
    if (!m) throw new Error(`target: ${r}`);
    return [Number(m[1]), Number(m[2])];
  }

  async quit(): Promise<void> {
    if (this.child.exitCode === null) this.child.stdin.end("quit\n");
    await this.#exited;
  }
}
