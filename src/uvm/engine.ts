import type { Code } from "./code.ts";
import type { Memory, Region } from "./memory.ts";

/**
 * The calling convention inside the runtime (helpers, kfunc trampolines): `A` holds r1..r5 as (lo, hi)
 * int32 pairs in A[0..9]; the function leaves r0 in A[0] (lo) and A[1] (hi).
 */
export type NativeFn = (A: Int32Array, call: CallBack) => void;

/** Lets a helper run a subprogram of the calling program (bpf_loop's callback): r1..r5 in A, r0 back in A. */
export type CallBack = (pc: number, A: Int32Array) => void;

export interface Env {
  readonly mem: Memory;
  /** Helper implementations by helper id (`call N`, and `callx` with the id in a register). */
  readonly helpers: ReadonlyArray<NativeFn | undefined>;
  /** Kfunc trampolines by the index the loader put in the call's imm (`call` with src=2). */
  readonly kfuncs: ReadonlyArray<NativeFn>;
  /** r10 of each call depth: the top of that frame's 512-byte stack region. Its length is the depth limit. */
  readonly stackTops: readonly number[];
  /**
   * A region every byte of which stays readable and writable for the engine's life (a raw program's
   * memory): the Wasm JIT tests an access against its bounds first, one compare, and reads permission
   * bytes only when that test fails.
   */
  readonly window?: Region | undefined;
}

export interface RunOptions {
  /** Instructions a run may execute (all frames and callbacks together). */
  budget: number;
}

/** An engine runs one program; the result's high half is in `OUT[0]` of alu.ts. */
export interface Engine {
  readonly code: Code;
  run(r1l: number, r1h: number, r2l: number, r2h: number, opts: RunOptions): number;
}

export const DEFAULT_BUDGET = 1_000_000_000;
