import { OUT, toU64 } from "./alu.ts";
import { type Code, decodeCode } from "./code.ts";
import type { Engine, Env, NativeFn } from "./engine.ts";
import { DEFAULT_BUDGET } from "./engine.ts";
import { Unwind } from "./fault.ts";
import { Interpreter } from "./interp.ts";
import { compile } from "./jit.ts";
import { Memory, PERM_RW, type Region } from "./memory.ts";
import { compileWasm } from "./wasm.ts";

export const STACK_SIZE = 512;
export const MAX_FRAMES = 8;

/** "jit": eBPF → WebAssembly (the fastest); "js": eBPF → JavaScript source; "interp": the reference interpreter. */
export type EngineKind = "jit" | "js" | "interp";

export function createEngine(kind: EngineKind, code: Code, env: Env): Engine {
  if (kind === "interp") return new Interpreter(code, env);
  if (kind === "js") return compile(code, env);
  return compileWasm(code, env);
}

/** A helper given from TypeScript: its argument registers arrive as bigint (u64); it returns r0. */
export type BigHelper = (...args: bigint[]) => bigint | number | undefined | undefined;

/**
 * Wraps a bigint helper into the runtime's native convention. The registers are read and r0 written through
 * a BigUint64Array over the engine's argument array (one bigint per argument, no splitting or joining);
 * only as many registers as the function declares are converted.
 */
export function wrapBigHelper(fn: BigHelper): NativeFn {
  const n = Math.min(fn.length, 5);
  let lastA: Int32Array | undefined;
  let B: BigUint64Array<ArrayBufferLike> = new BigUint64Array(5);
  const view = (A: Int32Array): BigUint64Array<ArrayBufferLike> => {
    if (A !== lastA) {
      lastA = A;
      B = new BigUint64Array(A.buffer, A.byteOffset, 5);
    }
    return B;
  };
  const put = (B: BigUint64Array<ArrayBufferLike>, r: bigint | number | undefined): void => {
    B[0] = typeof r === "bigint" ? r : BigInt(Math.trunc(Number(r ?? 0)));
  };
  switch (n) {
    case 0:
      return (A) => put(view(A), fn());
    case 1:
      return (A) => {
        const B = view(A);
        put(B, fn(B[0]!));
      };
    case 2:
      return (A) => {
        const B = view(A);
        put(B, fn(B[0]!, B[1]!));
      };
    default:
      return (A) => {
        const B = view(A);
        const args: bigint[] = [];
        for (let i = 0; i < n; i++) args.push(B[i]!);
        put(B, fn(...args));
      };
  }
}

/** uBPF's conformance helper 5 ("unwind"): returns r1, and ends the program with r0 = 0 when r1 is 0. */
export const unwindHelper: NativeFn = (A) => {
  if (A[0] === 0 && A[1] === 0) throw new Unwind(0, 0);
};

/** Allocates the stack frames of a runtime; returns r10 per depth. */
export function allocStacks(mem: Memory): number[] {
  const tops: number[] = [];
  for (let i = 0; i < MAX_FRAMES; i++) {
    const r = mem.alloc(`stack frame ${i}`, STACK_SIZE, PERM_RW);
    tops.push(r.addr + STACK_SIZE);
  }
  return tops;
}

export interface RawVmOptions {
  /** Copied into runtime memory; r1 = its address, r2 = its length (r1 = r2 = 0 without it). */
  mem?: Uint8Array | undefined;
  /** Helper ids to implementations (bigint convention, see {@link BigHelper}) or native functions. */
  helpers?: Record<number, BigHelper> | undefined;
  nativeHelpers?: Record<number, NativeFn> | undefined;
  engine?: EngineKind | undefined;
  /** Instructions one run may execute (default 10^9). */
  budget?: number | undefined;
  name?: string | undefined;
}

/**
 * Raw bytecode in the runtime (the conformance suite's and the benchmarks' contract): entry at insn 0,
 * r1 = the memory, r2 = its length, r10 = a 512-byte stack per frame.
 */
export class RawVm {
  readonly engine: Engine;
  readonly memory: Memory;
  private readonly r1: number;
  private readonly r2: number;
  private readonly budget: number;
  readonly memRegion: Uint8Array | undefined;
  private readonly window: Region | undefined;

  constructor(program: Uint8Array, options: RawVmOptions = {}) {
    const code = decodeCode(program, options.name ?? "raw");
    const memBytes = options.mem;
    const size = Memory.footprint(memBytes?.byteLength ?? 0) + MAX_FRAMES * Memory.footprint(STACK_SIZE) + 64;
    this.memory = new Memory(size);
    const tops = allocStacks(this.memory);
    if (memBytes && memBytes.byteLength > 0) {
      const r = this.memory.alloc("mem", memBytes.byteLength, PERM_RW);
      r.bytes.set(memBytes);
      this.memRegion = r.bytes;
      this.window = r;
      this.r1 = r.addr;
      this.r2 = memBytes.byteLength;
    } else {
      this.r1 = 0;
      this.r2 = 0;
      this.window = undefined;
    }
    const helpers: (NativeFn | undefined)[] = [];
    for (const [id, fn] of Object.entries(options.helpers ?? {})) helpers[Number(id)] = wrapBigHelper(fn);
    for (const [id, fn] of Object.entries(options.nativeHelpers ?? {})) helpers[Number(id)] = fn;
    const env: Env = { mem: this.memory, helpers, kfuncs: [], stackTops: tops, window: this.window };
    this.engine = createEngine(options.engine ?? "jit", code, env);
    this.budget = options.budget ?? DEFAULT_BUDGET;
  }

  /** Runs once; r0 as an unsigned 64-bit bigint. */
  run(): bigint {
    const lo = this.engine.run(this.r1, 0, this.r2, 0, { budget: this.budget });
    return toU64(lo, OUT[0]!);
  }
}
