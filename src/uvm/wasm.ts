import * as asm from "../asm/index.ts";
import { OUT, toU64 } from "./alu.ts";
import { CODE_BASE, type Code, insnAt, isJump, jumpOffset } from "./code.ts";
import type { CallBack, Engine, Env, RunOptions } from "./engine.ts";
import { Unwind } from "./fault.ts";
import { callError, fault, wildAccess } from "./faults.ts";
import { functionEntries, reachFrom } from "./jit.ts";
import { type BasicBlock, type CountedLoop, countedLoop, writesReg } from "./loops.ts";
import { BASE, Memory, PERM_READ, PERM_RW, PERM_WRITE } from "./memory.ts";
import { STACK_SIZE } from "./raw.ts";
import { type Shape, shapeOf } from "./structure.ts";
import { WA } from "./wasm-api.ts";
import { windowPlan } from "./window-plan.ts";

/**
 * The WebAssembly JIT: one Wasm function per eBPF function, registers as i64 locals, so 64-bit arithmetic
 * is one Wasm instruction (V8 compiles it to one x86 instruction). Heap and permission bytes live in the
 * module's memory (see memory.ts), so every load/store is checked with two byte loads like the other
 * engines. Control flow: forward jumps are direct `br`s; backward jumps go through a `loop` + `br_table`
 * on the block number. Helpers and kfuncs are called through two imports with r1..r5 / r0 in a scratch
 * area of the memory (no BigInt at the boundary).
 */

const I32 = 0x7f;
const I64 = 0x7e;
// imported functions
const FN_H = 0;
const FN_K = 1;
const FN_F = 2;
const FN_W = 3;
const FN_G = 4;
const N_IMPORTED = 5;
// imported globals
const G_D = 0;
// locals: r1..r5 are params 0..4; r0 = 5; r6..r10 = 6..10; temporaries
const L_T = 11;
const L_U = 12;
const L_O = 13;
const L_BLK = 14;
const L_G = 15;
/** Heap offset of the bottom of this call's stack frame (i32), for the unchecked r10 accesses. */
const L_S = 16;
/** The budget left in a function that keeps it in a local (FnGen.localBudget), else the word's new value while a charge tests it (i32). */
const L_BUD = 17;
/** The most instructions a counted loop's dominator subtree may have to be emitted twice (FnGen.versionable). */
const VERSION_MAX = 256;
/** The same for a loop emitted twice for its WindowPlan (a loop body rather than a one-block loop). */
const PLAN_MAX = 2048;
/** The widest byte range one merged bounds check covers (two 8-byte loads of permission bytes). */
const MERGE_SPAN = 16;
/**
 * The budget left lives in a word of the scratch area (at this offset): one word for all the run's frames and
 * callbacks. A function without calls or counted loops keeps it in L_BUD from its entry to its returns.
 */
const BUDGET_AT = 96;
const NONE: ReadonlySet<number> = new Set();

/**
 * Loads off one base register within a straight-line run, checked once at the first of them: the run ends
 * at any jump, call, exit, store or atomic, at a load off another register (it could fault first), at a
 * block leader and where the base register is redefined. `mask` marks the bytes the loads touch, relative
 * to `min` (the lowest offset).
 */
interface LoadGroup {
  readonly base: number;
  readonly first: number;
  min: number;
  max: number;
  readonly members: { pc: number; off: number; n: number }[];
}
/**
 * The eBPF 64-bit ALU operations and conditional jumps (JSET aside) that are one Wasm i64 instruction, by
 * class | op. Wasm numbers each i32 form a fixed distance below its i64 form (binary operators 0x12, comparisons
 * 0x0b), which `wasmOp` applies for ALU and JMP32.
 */
const WASM_I64: Record<number, number> = {
  [asm.BPF_CLASS.ALU64 | asm.BPF_ALU_OP.ADD]: 0x7c,
  [asm.BPF_CLASS.ALU64 | asm.BPF_ALU_OP.SUB]: 0x7d,
  [asm.BPF_CLASS.ALU64 | asm.BPF_ALU_OP.MUL]: 0x7e,
  [asm.BPF_CLASS.ALU64 | asm.BPF_ALU_OP.OR]: 0x84,
  [asm.BPF_CLASS.ALU64 | asm.BPF_ALU_OP.AND]: 0x83,
  [asm.BPF_CLASS.ALU64 | asm.BPF_ALU_OP.LSH]: 0x86,
  [asm.BPF_CLASS.ALU64 | asm.BPF_ALU_OP.RSH]: 0x88,
  [asm.BPF_CLASS.ALU64 | asm.BPF_ALU_OP.XOR]: 0x85,
  [asm.BPF_CLASS.ALU64 | asm.BPF_ALU_OP.ARSH]: 0x87,
  [asm.BPF_CLASS.JMP | asm.BPF_JMP_OP.JEQ]: 0x51,
  [asm.BPF_CLASS.JMP | asm.BPF_JMP_OP.JGT]: 0x56,
  [asm.BPF_CLASS.JMP | asm.BPF_JMP_OP.JGE]: 0x5a,
  [asm.BPF_CLASS.JMP | asm.BPF_JMP_OP.JNE]: 0x52,
  [asm.BPF_CLASS.JMP | asm.BPF_JMP_OP.JSGT]: 0x55,
  [asm.BPF_CLASS.JMP | asm.BPF_JMP_OP.JSGE]: 0x59,
  [asm.BPF_CLASS.JMP | asm.BPF_JMP_OP.JLT]: 0x54,
  [asm.BPF_CLASS.JMP | asm.BPF_JMP_OP.JLE]: 0x58,
  [asm.BPF_CLASS.JMP | asm.BPF_JMP_OP.JSLT]: 0x53,
  [asm.BPF_CLASS.JMP | asm.BPF_JMP_OP.JSLE]: 0x57,
};

/** The Wasm opcode of ALU/ALU64 operation or JMP/JMP32 comparison `op` (class-less), if it is one instruction. */
function wasmOp(cls: number, op: number): number | undefined {
  switch (cls) {
    case asm.BPF_CLASS.ALU64:
    case asm.BPF_CLASS.JMP:
      return WASM_I64[cls | op];
    case asm.BPF_CLASS.ALU: {
      const w = WASM_I64[asm.BPF_CLASS.ALU64 | op];
      return w === undefined ? undefined : w - 0x12;
    }
    default: {
      const w = WASM_I64[asm.BPF_CLASS.JMP | op];
      return w === undefined ? undefined : w - 0x0b;
    }
  }
}
const FAULT_KINDS = ["budget", "stack-overflow", "bad-program", "unknown-helper", "kfunc"] as const;

function reg(r: number): number {
  return r === 0 ? 5 : r <= 5 ? r - 1 : r;
}

class Bytes {
  readonly b: number[] = [];
  u8(...x: number[]): this {
    for (const v of x) this.b.push(v & 0xff);
    return this;
  }
  uleb(v: number): this {
    let x = v >>> 0;
    do {
      let byte = x & 0x7f;
      x >>>= 7;
      if (x !== 0) byte |= 0x80;
      this.b.push(byte);
    } while (x !== 0);
    return this;
  }
  sleb(v: bigint | number): this {
    let x = BigInt(v);
    for (;;) {
      const byte = Number(x & 0x7fn);
      x >>= 7n;
      if ((x === 0n && (byte & 0x40) === 0) || (x === -1n && (byte & 0x40) !== 0)) {
        this.b.push(byte);
        return this;
      }
      this.b.push(byte | 0x80);
    }
  }
  str(s: string): this {
    this.uleb(s.length);
    for (let i = 0; i < s.length; i++) this.b.push(s.charCodeAt(i));
    return this;
  }
  bytes(x: number[]): this {
    for (const v of x) this.b.push(v);
    return this;
  }
  vec(items: number[][]): this {
    this.uleb(items.length);
    for (const it of items) this.bytes(it);
    return this;
  }
}

function section(id: number, body: Bytes): number[] {
  return new Bytes().u8(id).uleb(body.b.length).bytes(body.b).b;
}

interface WasmCtx {
  h(id: number, pc: number): void;
  k(idx: number, pc: number): void;
  F(kind: number, pc: number): void;
  W(pc: number, reg: number, lo: number, hi: number, off: number, n: number, perm: number): void;
  /** A merged check failed: the exact checks of group `gid`'s loads in program order; throws the first fault. */
  G(gid: number, lo: number, hi: number): void;
}

export function compileWasm(code: Code, env: Env): Engine {
  const mem = env.mem;
  const entries = functionEntries(code);
  const groups: LoadGroup[] = [];
  const module = new WA.Module(
    new Uint8Array(encodeModule(code, env, entries, groups, { counted: [], planned: [] })),
  );
  const D = new WA.Global({ value: "i32", mutable: true }, 0);
  const A = new Int32Array(mem.wasm.buffer, mem.scratch, 10);
  const budgetWord = new Int32Array(mem.wasm.buffer, mem.scratch + BUDGET_AT, 1);
  let cpc = 0;
  let fns: ((...a: bigint[]) => bigint)[] = [];
  const byPc = new Map<number, number>();
  entries.forEach((e, i) => {
    byPc.set(e, i);
  });
  const maxd = env.stackTops.length;
  const cb: CallBack = (pc, a) => {
    const i = byPc.get(pc);
    if (i === undefined) throw fault(code, "bad-program", pc, "not a function entry");
    if (D.value + 1 >= maxd) throw fault(code, "stack-overflow", pc, `call depth exceeds ${maxd} frames`);
    D.value = D.value + 1;
    const r = fns[i]!(
      toU64(a[0]!, a[1]!),
      toU64(a[2]!, a[3]!),
      toU64(a[4]!, a[5]!),
      toU64(a[6]!, a[7]!),
      toU64(a[8]!, a[9]!),
    );
    D.value = D.value - 1;
    a[0] = Number(BigInt.asIntN(32, r));
    a[1] = Number(BigInt.asIntN(32, r >> 32n));
  };
  const ctx: WasmCtx = {
    h(id, pc) {
      const fn = env.helpers[id >>> 0];
      if (!fn) throw fault(code, "unknown-helper", pc, `no helper with id ${id >>> 0}`);
      cpc = pc;
      fn(A, cb);
    },
    k(idx, pc) {
      const fn = env.kfuncs[idx];
      if (!fn) throw fault(code, "kfunc", pc, `kfunc #${idx} has no binding`);
      cpc = pc;
      fn(A, cb);
    },
    F(kind, pc) {
      const k = FAULT_KINDS[kind]!;
      const what =
        k === "budget"
          ? "instruction budget exhausted (an unbounded loop?)"
          : k === "stack-overflow"
            ? `call depth exceeds ${maxd} frames`
            : "execution ran off the end of the program";
      throw fault(code, k, pc, what);
    },
    W(pc, r, lo, hi, off, n, perm) {
      throw wildAccess(code, mem, pc, r, lo, hi, off, n, perm);
    },
    G(gid, lo, hi) {
      const g = groups[gid]!;
      for (const m of g.members) {
        const o = BigInt.asUintN(64, toU64(lo, hi) + BigInt(m.off)) - BigInt(BASE);
        const ok =
          o >= 0n &&
          o + BigInt(m.n) <= BigInt(mem.capacity) &&
          (mem.perm[Number(o)]! & mem.perm[Number(o) + m.n - 1]! & PERM_READ) !== 0;
        if (!ok) throw wildAccess(code, mem, m.pc, g.base, lo, hi, m.off, m.n, PERM_READ);
      }
      throw fault(
        code,
        "bad-program",
        g.first,
        "internal error: a merged load check failed, no exact one did",
      );
    },
  };
  const inst = new WA.Instance(module, {
    env: { mem: mem.wasm, D, h: ctx.h, k: ctx.k, F: ctx.F, W: ctx.W, G: ctx.G },
  });
  fns = entries.map((e) => inst.exports[`f${e}`] as (...a: bigint[]) => bigint);
  const run0 = inst.exports["run"] as (
    r1l: number,
    r1h: number,
    r2l: number,
    r2h: number,
    b: number,
  ) => number;
  return {
    code,
    run(r1l: number, r1h: number, r2l: number, r2h: number, opts: RunOptions): number {
      // another engine on this memory may be mid-run (a helper running a program): its budget word stays
      const outer = budgetWord[0]!;
      try {
        const lo = run0(r1l, r1h, r2l, r2h, Math.min(opts.budget, 0x7fffffff));
        OUT[0] = A[1]!;
        return lo;
      } catch (e) {
        if (e instanceof Unwind) {
          OUT[0] = e.hi;
          return e.lo;
        }
        throw callError(code, cpc, e);
      } finally {
        budgetWord[0] = outer;
      }
    },
  };
}

/**
 * @internal The header pcs of the loops compiled in two copies, for tests: counted loops (FnGen.versionable)
 * and loops with a WindowPlan.
 */
export function loopCopies(code: Code, env: Env): { counted: number[]; planned: number[] } {
  const out = { counted: [], planned: [] };
  encodeModule(code, env, functionEntries(code), [], out);
  return out;
}

function encodeModule(
  code: Code,
  env: Env,
  entries: number[],
  groups: LoadGroup[],
  copies: { counted: number[]; planned: number[] },
): number[] {
  const types = new Bytes().vec([
    [0x60, 2, I32, I32, 0],
    [0x60, 7, I32, I32, I32, I32, I32, I32, I32, 0],
    [0x60, 5, I64, I64, I64, I64, I64, 1, I64],
    [0x60, 3, I32, I32, I32, 0],
    [0x60, 5, I32, I32, I32, I32, I32, 1, I32],
  ]);
  const pages = env.mem.wasm.buffer.byteLength / 65536;
  const imp = new Bytes().uleb(7);
  imp.str("env").str("h").u8(0x00).uleb(0);
  imp.str("env").str("k").u8(0x00).uleb(0);
  imp.str("env").str("F").u8(0x00).uleb(0);
  imp.str("env").str("W").u8(0x00).uleb(1);
  imp.str("env").str("G").u8(0x00).uleb(3);
  imp.str("env").str("mem").u8(0x02, 0x00).uleb(pages);
  imp.str("env").str("D").u8(0x03, I32, 0x01);
  const funcs = new Bytes().uleb(entries.length + 1);
  for (let i = 0; i < entries.length; i++) funcs.uleb(2);
  funcs.uleb(4);
  const exps = new Bytes().uleb(entries.length + 1);
  entries.forEach((e, i) => {
    exps
      .str(`f${e}`)
      .u8(0x00)
      .uleb(N_IMPORTED + i);
  });
  exps
    .str("run")
    .u8(0x00)
    .uleb(N_IMPORTED + entries.length);
  const codes = new Bytes().uleb(entries.length + 1);
  const fnIndex = new Map<number, number>();
  entries.forEach((e, i) => {
    fnIndex.set(e, N_IMPORTED + i);
  });
  for (const e of entries) {
    const body = new FnGen(code, env, e, fnIndex, groups, copies).body();
    codes.uleb(body.length).bytes(body);
  }
  const run = runBody(env.mem.scratch);
  codes.uleb(run.length).bytes(run);
  return [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, types),
    ...section(2, imp),
    ...section(3, funcs),
    ...section(7, exps),
    ...section(10, codes),
  ];
}

/**
 * `run(r1l, r1h, r2l, r2h, budget)`: the entry as JS calls it, with int32 halves rather than the i64 (BigInt)
 * parameters of f0, and the globals set inside (setting a Wasm global from JS is a runtime call). Returns r0's
 * low half and leaves all of r0 in the scratch area.
 */
function runBody(scratch: number): number[] {
  const o = new Bytes();
  o.uleb(1).uleb(1).u8(I64); // local 5: r0
  o.u8(0x41, 0x00, 0x20, 4, 0x36, 0x02).uleb(scratch + BUDGET_AT); // the budget word = budget
  o.u8(0x41, 0x00, 0x24).uleb(G_D); // D = 0
  for (const p of [0, 2]) o.u8(0x20, p, 0xad, 0x20, p + 1, 0xad, 0x42, 32, 0x86, 0x84); // lo | hi << 32
  o.u8(0x42, 0x00, 0x42, 0x00, 0x42, 0x00); // r3..r5 = 0
  o.u8(0x10).uleb(N_IMPORTED).u8(0x21, 5); // r0 = f0(…)
  o.u8(0x41).sleb(scratch).u8(0x20, 5, 0x37, 0x03, 0x00); // i64.store scratch
  o.u8(0x20, 5, 0xa7, 0x0b); // i32.wrap_i64 r0
  return o.b;
}

class FnGen {
  private readonly o = new Bytes();
  private readonly blockOf = new Map<number, number>();
  private readonly groupOf = new Map<number, LoadGroup>();
  private nBlocks = 0;
  /** A function without calls keeps the budget in L_BUD, between its entry and its returns. */
  private localBudget = false;
  /** Inside a counted loop's copies (see versionable): no copies within copies. */
  private versioned = false;
  /** The header whose charge the code being emitted leaves out (the uncharged copy of a counted loop). */
  private uncharged = -1;
  /** The accesses emitted without a check (the copy of a loop whose WindowPlan's test passed). */
  private elide: ReadonlySet<number> = NONE;
  private readonly loopLen = new Map<number, number>();
  private entryLen = 1;
  /** Whether no instruction of this function writes r10: then r10 is this frame's top throughout. */
  private fixedR10 = false;
  /** Which block's code is being emitted, and how many `if`s are open inside it (for br depths). */
  private cur = 0;
  private extra = 0;

  constructor(
    private readonly c: Code,
    private readonly env: Env,
    private readonly entry: number,
    private readonly fnIndex: Map<number, number>,
    /** Every merged load group of the module, by id (the G import's argument). */
    private readonly groups: LoadGroup[],
    /** The header pcs of the loops emitted in two copies (see loopCopies). */
    private readonly copies: { counted: number[]; planned: number[] },
  ) {}

  body(): number[] {
    const c = this.c;
    const { pcs, leaders } = reachFrom(c, this.entry);
    for (const pc of [...leaders].sort((a, b) => a - b)) this.blockOf.set(pc, this.blockOf.size);
    for (const pc of pcs) {
      const op = c.op[pc];
      if (pc >= c.count || op === undefined || !isJump(op)) continue;
      const t = pc + jumpOffset(c, pc) + 1;
      if (t <= pc) this.loopLen.set(t, Math.max(this.loopLen.get(t) ?? 0, pc - t + 1));
    }
    // the entry's charge: its straight-line run of instructions up to the first leader
    this.entryLen = 1;
    for (let j = 1; j < pcs.length && pcs[j] === pcs[j - 1]! + 1 && !leaders.has(pcs[j]!); j++)
      this.entryLen++;
    this.nBlocks = this.blockOf.size;
    this.fixedR10 = !pcs.some((pc) => pc < c.count && writesReg(c, pc, 10));
    this.groupLoads(pcs, leaders);
    const o = this.o;
    // locals: r0, r6..r10, t, u (i64); o, blk, g, s, budget (i32)
    o.uleb(2).uleb(8).u8(I64).uleb(5).u8(I32);
    // r10 = top of this depth's frame: stack frames are consecutive regions of equal footprint
    const top0 = this.env.stackTops[0]!;
    o.u8(0x42)
      .sleb(top0)
      .u8(0x23)
      .uleb(G_D)
      .u8(0xad)
      .u8(0x42)
      .sleb(Memory.footprint(STACK_SIZE))
      .u8(0x7e)
      .u8(0x7c);
    o.u8(0x22).uleb(10);
    o.u8(0xa7);
    this.i32(BASE + STACK_SIZE);
    o.u8(0x6b).u8(0x21).uleb(L_S);
    const blocks = this.basicBlocks(pcs, leaders);
    const shape =
      process.env["KFUNC_KIT_UVM_DISPATCH"] === "1" ? undefined : shapeOf(blocks.map((b) => b.succs));
    // the budget in a local where no call needs it in the word and no counted loop runs without charges
    // (measured: the local's charge is 2 instructions against the word's 5, but a register held through an
    // uncharged loop cost intloop 1.92 -> 1.97 ns)
    const calls = pcs.some(
      (pc) => pc < c.count && (c.op[pc] === asm.BPF_INSN.CALL || c.op[pc] === asm.BPF_INSN.CALLX),
    );
    const counted =
      shape !== undefined && blocks.some((_, x) => this.versionable(blocks, shape, x) !== undefined);
    this.localBudget = !calls && !counted && process.env["KFUNC_KIT_UVM_BUDGET_WORD"] !== "1";
    if (this.localBudget) this.budgetFromWord();
    if (shape) this.structured(blocks, shape);
    else this.dispatch(pcs, leaders);
    o.u8(0x00); // unreachable: every path returned or branched
    o.u8(0x0b); // function
    return o.b;
  }

  /** The charge of the budget at the start of the block at `pc` (see `charge`). */
  private chargeAt(pc: number): number {
    return pc === this.entry ? this.entryLen : (this.loopLen.get(pc) ?? 0);
  }

  /**
   * The budget is charged where loops close, not per block: at the function entry (its first block) and at
   * each backward-jump target, the length of the longest loop back to it, per iteration.
   */
  private charge(pc: number): void {
    const n = this.chargeAt(pc);
    if (n === 0) return;
    const o = this.o;
    // budget -= n; if (budget < 0) fault
    this.setBudget(() => {
      this.budget();
      o.u8(0x41).sleb(n).u8(0x6b);
    });
    o.u8(0x20).uleb(L_BUD).u8(0x41, 0x00).u8(0x48).u8(0x04, 0x40);
    this.extra++;
    this.trap(0, pc);
    this.extra--;
    o.u8(0x0b);
  }

  /**
   * Header `x` as a counted loop worth two copies (loops.ts): it charges the budget, and its dominator
   * subtree (what gets copied) is at most VERSION_MAX instructions.
   */
  private versionable(blocks: BasicBlock[], shape: Shape, x: number): CountedLoop | undefined {
    if (this.chargeAt(blocks[x]!.start) === 0) return undefined;
    const l = countedLoop(this.c, blocks, shape, x, (b) => this.chargeAt(blocks[b]!.start) !== 0);
    return l && subtreeSize(blocks, shape, x) <= VERSION_MAX ? l : undefined;
  }

  /**
   * At a counted loop's entry: `if` its header's executions N are known and N·len fit in the budget left,
   * takes them from it (the budget a charged loop would have left after its last iteration) and opens the
   * `if` of the uncharged copy. Charged loops fault on the budget only when it does not cover them all, and
   * then the charged copy runs.
   */
  private countedEntry(l: CountedLoop, len: number): void {
    const o = this.o;
    const bound = () => ("reg" in l.bound ? this.get(l.bound.reg) : this.i64(l.bound.imm));
    const down = l.cont === "gt" || (l.cont === "ne" && l.step === -1);
    // N = counter - bound (down) or bound - counter
    if (down) {
      this.get(l.counter);
      bound();
    } else {
      bound();
      this.get(l.counter);
    }
    o.u8(0x7d).u8(0x22).uleb(L_T);
    const quota = () => {
      this.budget();
      o.u8(0xad); // i64.extend_i32_u
      this.i64(len);
      o.u8(0x80); // i64.div_u
    };
    if (l.cont === "ne") {
      // 1 <= N <= quota, as N - 1 < quota (N = 0 is 2^64 executions)
      this.i64(1);
      o.u8(0x7d);
      quota();
      o.u8(0x54); // i64.lt_u
    } else {
      quota();
      o.u8(0x58); // i64.le_u
      this.get(l.counter);
      bound();
      o.u8(l.cont === "lt" ? 0x54 : 0x56, 0x71); // i64.lt_u / i64.gt_u, i32.and
    }
    o.u8(0x04, 0x40);
    this.setBudget(() => {
      this.budget();
      o.u8(0x20).uleb(L_T).u8(0xa7);
      this.i32(len);
      o.u8(0x6c, 0x6b); // budget - N * len
    });
  }

  /** The function's basic blocks in pc order (block 0 = the entry's), with their successors. */
  private basicBlocks(pcs: number[], leaders: Set<number>): BasicBlock[] {
    const c = this.c;
    const starts = new Set(leaders);
    for (const pc of pcs) {
      const op = c.op[pc];
      if (
        pc < c.count &&
        op !== undefined &&
        isJump(op) &&
        op !== asm.BPF_INSN.JA &&
        op !== asm.BPF_INSN.JA32
      )
        starts.add(pc + 1);
    }
    const reachable = new Set(pcs);
    const sorted = [...starts].filter((pc) => reachable.has(pc) && pc < c.count).sort((a, b) => a - b);
    const idOf = new Map<number, number>();
    // the entry first: it is not always the lowest pc of a function (a callee may jump backwards)
    idOf.set(this.entry, 0);
    for (const pc of sorted) if (!idOf.has(pc)) idOf.set(pc, idOf.size);
    const blocks: BasicBlock[] = new Array(idOf.size);
    for (const [start, id] of idOf) {
      const b: BasicBlock = { start, pcs: [], end: "off", succs: [] };
      blocks[id] = b;
      for (let pc = start; ; ) {
        if (pc >= c.count) break; // ran off the end of the program
        if (pc !== start && starts.has(pc)) {
          b.end = "fall";
          b.succs.push(idOf.get(pc)!);
          break;
        }
        const op = c.op[pc]!;
        if (op === asm.BPF_INSN.EXIT) {
          b.end = "exit";
          break;
        }
        if (op === asm.BPF_INSN.JA || op === asm.BPF_INSN.JA32) {
          b.end = "goto";
          b.succs.push(idOf.get(pc + jumpOffset(c, pc) + 1)!);
          break;
        }
        b.pcs.push(pc);
        if (isJump(op)) {
          b.end = "cond";
          b.succs.push(idOf.get(pc + jumpOffset(c, pc) + 1)!, idOf.get(pc + 1)!);
          break;
        }
        pc += op === asm.BPF_INSN.LD_IMM64 ? 2 : 1;
      }
    }
    return blocks;
  }

  /** Structured control flow (Ramsey's translation; see structure.ts) for a reducible graph. */
  private structured(blocks: BasicBlock[], shape: Shape): void {
    const o = this.o;
    /** How many edges enter each block (selectOf: a move block entered only from its diamond's jump). */
    const preds = new Uint32Array(blocks.length);
    for (const y of blocks) for (const t of y.succs) preds[t]!++;
    const labels: ({ loop: number } | { follow: number } | { if: true })[] = [];
    const depthOf = (pred: (l: (typeof labels)[number]) => boolean): number => {
      for (let i = labels.length - 1; i >= 0; i--) if (pred(labels[i]!)) return labels.length - 1 - i;
      throw new Error("uvm wasm: no enclosing label for a branch");
    };
    /** The depth of a `br` for the edge x -> t, or -1 when t's code goes right here. */
    const brDepth = (x: number, t: number): number => {
      if (shape.rpo[t]! <= shape.rpo[x]!) return depthOf((l) => "loop" in l && l.loop === t);
      if (shape.merge[t]) return depthOf((l) => "follow" in l && l.follow === t);
      return -1;
    };
    const branch = (x: number, t: number): void => {
      const d = brDepth(x, t);
      if (d >= 0) o.u8(0x0c).uleb(d);
      else tree(t);
    };
    const code = (x: number): void => {
      const b = blocks[x]!;
      if (x !== this.uncharged) this.charge(b.start);
      const last = b.pcs.length - 1;
      const sel = b.end === "cond" ? this.selectOf(blocks, preds, x) : undefined;
      for (let i = 0; i <= last; i++) {
        const pc = b.pcs[i]!;
        if (i === last && sel !== undefined) this.select(pc, pc + 1);
        else if (i === last && b.end === "cond") this.condition(pc);
        else this.insn(pc);
      }
      if (sel !== undefined) {
        branch(x, sel);
        return;
      }
      switch (b.end) {
        case "exit":
          this.ret();
          return;
        case "off":
          this.trap(2, this.c.count);
          return;
        case "goto":
        case "fall":
          branch(x, b.succs[0]!);
          return;
        default: {
          const [t, f] = b.succs as [number, number];
          const dt = brDepth(x, t);
          if (dt >= 0) {
            o.u8(0x0d).uleb(dt);
            branch(x, f);
            return;
          }
          const df = brDepth(x, f);
          if (df >= 0) {
            o.u8(0x45, 0x0d).uleb(df); // i32.eqz, br_if
            tree(t);
            return;
          }
          o.u8(0x04, 0x40);
          labels.push({ if: true });
          tree(t);
          o.u8(0x05);
          tree(f);
          labels.pop();
          o.u8(0x0b);
        }
      }
    };
    const within = (x: number, ys: number[]): void => {
      if (ys.length === 0) {
        code(x);
        return;
      }
      const [y, ...rest] = ys as [number, ...number[]];
      o.u8(0x02, 0x40);
      labels.push({ follow: y });
      within(x, rest);
      labels.pop();
      o.u8(0x0b);
      tree(y);
    };
    const tree = (x: number): void => {
      const ys = shape.children[x]!.filter((y) => shape.merge[y]).sort(
        (a, b) => shape.rpo[b]! - shape.rpo[a]!,
      );
      if (!shape.loopHeader[x]) {
        within(x, ys);
        return;
      }
      const loop = () => {
        o.u8(0x03, 0x40);
        labels.push({ loop: x });
        within(x, ys);
        labels.pop();
        o.u8(0x0b);
      };
      const counted = this.versioned ? undefined : this.versionable(blocks, shape, x);
      const w = this.env.window;
      const plan =
        counted || this.versioned || !w || subtreeSize(blocks, shape, x) > PLAN_MAX
          ? undefined
          : windowPlan(this.c, blocks, shape, x, w.size);
      if (plan && w) {
        // each iteration tests the plan's range against the window once, then runs the copy without the
        // checks it covers, or the checked one
        this.versioned = true;
        this.copies.planned.push(blocks[x]!.start);
        o.u8(0x03, 0x40);
        labels.push({ loop: x });
        this.get(plan.base);
        this.i64(plan.lo - w.addr);
        o.u8(0x7c);
        this.i64(w.size - (plan.hi - plan.lo));
        o.u8(0x58, 0x04, 0x40); // i64.le_u, if
        labels.push({ if: true });
        this.elide = plan.pcs;
        within(x, ys);
        this.elide = NONE;
        o.u8(0x05);
        within(x, ys);
        labels.pop();
        o.u8(0x0b);
        labels.pop();
        o.u8(0x0b);
        this.versioned = false;
        return;
      }
      if (!counted) {
        loop();
        return;
      }
      // two copies of x's subtree: one that charged the whole trip count at the entry, and the charged one
      this.versioned = true;
      this.copies.counted.push(blocks[x]!.start);
      this.countedEntry(counted, this.chargeAt(blocks[x]!.start));
      labels.push({ if: true });
      this.uncharged = x;
      loop();
      this.uncharged = -1;
      o.u8(0x05);
      loop();
      labels.pop();
      o.u8(0x0b);
      this.versioned = false;
    };
    tree(0);
  }

  /**
   * The fallback for an irreducible graph: every block is a label of one `loop` + `br_table` on the block
   * number; forward jumps are direct `br`s, backward ones go through the dispatch.
   */
  private dispatch(pcs: number[], leaders: Set<number>): void {
    const c = this.c;
    const o = this.o;
    o.u8(0x41).sleb(this.blockOf.get(this.entry)!).u8(0x21).uleb(L_BLK);
    o.u8(0x03, 0x40); // loop
    for (let i = 0; i < this.nBlocks; i++) o.u8(0x02, 0x40);
    o.u8(0x20).uleb(L_BLK).u8(0x0e).uleb(this.nBlocks);
    for (let i = 0; i < this.nBlocks; i++) o.uleb(i);
    o.uleb(0);
    let prevFalls = false;
    for (let i = 0; i < pcs.length; i++) {
      const pc = pcs[i]!;
      if (pc === c.count) {
        if (prevFalls) this.trap(2, pc);
        break;
      }
      if (leaders.has(pc)) {
        o.u8(0x0b); // end of the block whose label leads here
        this.cur = this.blockOf.get(pc)!;
        this.charge(pc);
      } else if (!prevFalls) continue;
      prevFalls = this.insn(pc);
      if (c.op[pc] === asm.BPF_INSN.LD_IMM64) i++;
    }
    o.u8(0x0b); // loop
  }

  /** Finds the load groups (see LoadGroup) of this function; only groups of two or more loads are kept. */
  private groupLoads(pcs: number[], leaders: Set<number>): void {
    const c = this.c;
    let g: LoadGroup | undefined;
    const close = () => {
      if (g && g.members.length > 1) for (const m of g.members) this.groupOf.set(m.pc, g);
      g = undefined;
    };
    let prev = -1;
    for (const pc of pcs) {
      if (pc >= c.count) break;
      if (leaders.has(pc) || pc !== prev + 1) close();
      prev = pc;
      const op = c.op[pc]!;
      const cls = asm.opClass(op);
      const d = c.dst[pc]!;
      if (this.frameAccess(pc)) {
        // never faults, so it cannot fault before the group's loads: only a load redefining the base ends it
        if (g && cls === asm.BPF_CLASS.LDX && d === g.base) close();
      } else if (cls === asm.BPF_CLASS.LDX) {
        const s = c.src[pc]!;
        const off = c.off[pc]!;
        const n = asm.opBytes(op);
        if (g && g.base === s && Math.max(g.max, off + n) - Math.min(g.min, off) <= MERGE_SPAN) {
          g.min = Math.min(g.min, off);
          g.max = Math.max(g.max, off + n);
          g.members.push({ pc, off, n });
        } else {
          close();
          g = { base: s, first: pc, min: off, max: off + n, members: [{ pc, off, n }] };
        }
        if (d === s) close();
      } else if (asm.isAluClass(cls) || op === asm.BPF_INSN.LD_IMM64) {
        if (g && d === g.base) close();
      } else close();
    }
    close();
  }

  /**
   * A load or store off r10 inside the 512-byte frame, in a function that never writes r10: it is always
   * valid (the frame is this call depth's stack region), so it is emitted without a check.
   */
  private frameAccess(pc: number): boolean {
    const c = this.c;
    const op = c.op[pc]!;
    const cls = asm.opClass(op);
    if (!this.fixedR10 || asm.opMode(op) === asm.BPF_MODE.ATOMIC) return false;
    if (cls === asm.BPF_CLASS.LDX) {
      if (c.src[pc] !== 10) return false;
    } else if (cls === asm.BPF_CLASS.ST || cls === asm.BPF_CLASS.STX) {
      if (c.dst[pc] !== 10) return false;
    } else return false;
    const off = c.off[pc]!;
    return off >= -STACK_SIZE && off + asm.opBytes(op) <= 0;
  }

  /** The merged check of a load group, at its first load: leaves the heap offset of `min` in L_G. */
  private groupCheck(g: LoadGroup): void {
    const o = this.o;
    const mem = this.env.mem;
    const mask = new Uint8Array(MERGE_SPAN);
    for (const m of g.members) mask.fill(1, m.off - g.min, m.off - g.min + m.n);
    const half = (i: number) => {
      let v = 0n;
      for (let j = 7; j >= 0; j--) v = (v << 8n) | BigInt(mask[i + j]!);
      return BigInt.asIntN(64, v);
    };
    const lo = half(0);
    const hi = half(8);
    // the exact per-load checks, in program order, out of line (G): the first load out of bounds faults
    // with its own pc
    const gid = this.groups.push(g) - 1;
    const exact = () => {
      this.i32(gid);
      this.get(g.base);
      o.u8(0xa7);
      this.get(g.base);
      this.i64(32);
      o.u8(0x88, 0xa7);
      o.u8(0x10).uleb(FN_G).u8(0x00);
    };
    this.get(g.base);
    this.i64(g.min - BASE);
    o.u8(0x7c).u8(0x22).uleb(L_T);
    const span = Math.max(...g.members.map((m) => m.off + m.n)) - g.min;
    const windowed = this.windowTest(span);
    this.i64(mem.capacity);
    o.u8(0x5a); // i64.ge_u
    o.u8(0x04, 0x40);
    exact();
    o.u8(0x0b);
    o.u8(0x20).uleb(L_T).u8(0xa7).u8(0x21).uleb(L_G);
    // every byte the loads touch has PERM_READ: (perm64 & mask) == mask, for each half
    o.u8(0x20).uleb(L_G).u8(0x29, 0x00).uleb(mem.permBase); // i64.load
    this.i64(lo);
    o.u8(0x83);
    this.i64(lo);
    o.u8(0x52); // i64.ne
    if (hi !== 0n) {
      o.u8(0x20)
        .uleb(L_G)
        .u8(0x29, 0x00)
        .uleb(mem.permBase + 8);
      this.i64(hi);
      o.u8(0x83);
      this.i64(hi);
      o.u8(0x52, 0x72); // i64.ne, i32.or
    }
    o.u8(0x04, 0x40);
    exact();
    o.u8(0x0b);
    if (windowed) o.u8(0x0b).u8(0x20).uleb(L_T).u8(0xa7).u8(0x21).uleb(L_G);
  }

  /**
   * With the access's heap offset in L_T and on the stack: opens the `if` of "outside the raw program's memory" (Env.window,
   * readable and writable for the engine's life) around the exact checks, so an access inside it is tested
   * by one compare; returns false (nothing opened) when there is no window or it is smaller than `n` bytes.
   */
  private windowTest(n: number): boolean {
    const w = this.env.window;
    if (!w || w.size < n) return false;
    // the offset the caller left on the stack goes back on it inside the `if`
    this.o.u8(0x1a).u8(0x20).uleb(L_T);
    this.i64(w.addr - BASE);
    this.o.u8(0x7d);
    this.i64(w.size - n);
    this.o.u8(0x56, 0x04, 0x40).u8(0x20).uleb(L_T); // i64.gt_u, if
    return true;
  }

  private trap(kind: number, pc: number): void {
    this.o.u8(0x41).sleb(kind).u8(0x41).sleb(pc).u8(0x10).uleb(FN_F).u8(0x00);
  }

  private get(r: number): void {
    this.o.u8(0x20).uleb(reg(r));
  }
  private set(r: number): void {
    this.o.u8(0x21).uleb(reg(r));
  }
  private i64(v: bigint | number): void {
    this.o.u8(0x42).sleb(v);
  }
  private i32(v: number): void {
    this.o.u8(0x41).sleb(v | 0);
  }

  /** Branch to the code of block `target` (forward: direct; backward: through the dispatch loop). */
  private jump(target: number): void {
    const t = this.blockOf.get(target)!;
    const o = this.o;
    if (t > this.cur) o.u8(0x0c).uleb(t - this.cur - 1 + this.extra);
    else {
      this.i32(t);
      o.u8(0x21).uleb(L_BLK);
      o.u8(0x0c).uleb(this.nBlocks - 1 - this.cur + this.extra);
    }
  }

  /** With a condition (i32) on the stack: branch when it is non-zero. */
  private jumpIf(target: number): void {
    const t = this.blockOf.get(target)!;
    const o = this.o;
    if (t > this.cur) o.u8(0x0d).uleb(t - this.cur - 1 + this.extra);
    else {
      o.u8(0x04, 0x40);
      this.extra++;
      this.jump(target);
      this.extra--;
      o.u8(0x0b);
    }
  }

  /** Leaves the checked heap offset in L_O (i32), or faults. */
  private check(pc: number, r: number, off: number, n: number, perm: number): void {
    const o = this.o;
    const mem = this.env.mem;
    this.get(r);
    this.i64(off - BASE);
    o.u8(0x7c).u8(0x22).uleb(L_T);
    const windowed = this.windowTest(n);
    this.i64(mem.capacity);
    o.u8(0x5a); // i64.ge_u
    o.u8(0x04, 0x40);
    this.wild(pc, r, off, n, perm);
    o.u8(0x0b);
    o.u8(0x20).uleb(L_T).u8(0xa7).u8(0x22).uleb(L_O);
    o.u8(0x2d, 0x00).uleb(mem.permBase); // i32.load8_u
    if (n > 1) {
      o.u8(0x20).uleb(L_O);
      o.u8(0x2d, 0x00).uleb(mem.permBase + n - 1);
      o.u8(0x71);
    }
    this.i32(perm);
    o.u8(0x71).u8(0x45).u8(0x04, 0x40);
    this.wild(pc, r, off, n, perm);
    o.u8(0x0b);
    if (windowed) o.u8(0x0b).u8(0x20).uleb(L_T).u8(0xa7).u8(0x21).uleb(L_O);
  }

  private wild(pc: number, r: number, off: number, n: number, perm: number): void {
    const o = this.o;
    this.i32(pc);
    this.i32(r);
    this.get(r);
    o.u8(0xa7);
    this.get(r);
    this.i64(32);
    o.u8(0x88, 0xa7);
    this.i32(off);
    this.i32(n);
    this.i32(perm);
    o.u8(0x10).uleb(FN_W).u8(0x00);
  }

  private src64(op: number, s: number, imm: number): void {
    if (asm.opSrc(op) === asm.BPF_SRC.X) this.get(s);
    else this.i64(imm);
  }
  private src32(op: number, s: number, imm: number): void {
    if (asm.opSrc(op) === asm.BPF_SRC.X) {
      this.get(s);
      this.o.u8(0xa7);
    } else this.i32(imm);
  }

  /** bswap of the low `bits` of the i64 in L_T, result on the stack (i64). */
  private bswap(bits: number): void {
    const o = this.o;
    const lt = () => o.u8(0x20).uleb(L_T);
    if (bits === 16) {
      lt();
      this.i64(0xff);
      o.u8(0x83);
      this.i64(8);
      o.u8(0x86);
      lt();
      this.i64(8);
      o.u8(0x88);
      this.i64(0xff);
      o.u8(0x83, 0x84);
      return;
    }
    const bytes = bits / 8;
    // sum over i of ((x >> 8i) & 0xff) << 8(bytes-1-i)
    for (let i = 0; i < bytes; i++) {
      lt();
      if (i) {
        this.i64(8 * i);
        o.u8(0x88);
      }
      this.i64(0xff);
      o.u8(0x83);
      const sh = 8 * (bytes - 1 - i);
      if (sh) {
        this.i64(sh);
        o.u8(0x86);
      }
      if (i) o.u8(0x84);
    }
  }

  /** Emits one instruction; returns whether control can fall through to the next. */
  private insn(pc: number): boolean {
    const c = this.c;
    const o = this.o;
    const { code: op, dst: d, src: s, imm, off } = insnAt(c, pc);
    const cls = asm.opClass(op);
    const sub = asm.opOp(op);
    if (cls === asm.BPF_CLASS.ALU64) {
      const simple = wasmOp(cls, sub);
      if (simple !== undefined) {
        this.get(d);
        this.src64(op, s, imm);
        o.u8(simple);
        this.set(d);
        return true;
      }
      switch (sub) {
        case asm.BPF_ALU_OP.DIV:
        case asm.BPF_ALU_OP.MOD: {
          this.src64(op, s, imm);
          o.u8(0x22).uleb(L_U).u8(0x50); // eqz
          o.u8(0x04, I64);
          if (sub === asm.BPF_ALU_OP.DIV) this.i64(0);
          else this.get(d);
          o.u8(0x05);
          if (sub === asm.BPF_ALU_OP.DIV && off === asm.BPF_OFF_SIGNED) {
            // INT64_MIN / -1 traps in Wasm: x / -1 = -x
            o.u8(0x20).uleb(L_U);
            this.i64(-1);
            o.u8(0x51, 0x04, I64);
            this.i64(0);
            this.get(d);
            o.u8(0x7d, 0x05);
            this.get(d);
            o.u8(0x20).uleb(L_U).u8(0x7f, 0x0b);
          } else {
            this.get(d);
            o.u8(0x20).uleb(L_U);
            o.u8(sub === asm.BPF_ALU_OP.DIV ? 0x80 : off === asm.BPF_OFF_SIGNED ? 0x81 : 0x82);
          }
          o.u8(0x0b);
          this.set(d);
          return true;
        }
        case asm.BPF_ALU_OP.NEG:
          this.i64(0);
          this.get(d);
          o.u8(0x7d);
          this.set(d);
          return true;
        case asm.BPF_ALU_OP.MOV:
          this.src64(op, s, imm);
          if (off === 8) o.u8(0xc2);
          else if (off === 16) o.u8(0xc3);
          else if (off === 32) o.u8(0xc4);
          this.set(d);
          return true;
        default: // asm.BPF_ALU_OP.END: bswap
          this.get(d);
          o.u8(0x21).uleb(L_T);
          this.bswap(imm);
          this.set(d);
          return true;
      }
    }
    if (cls === asm.BPF_CLASS.ALU) {
      if (sub === asm.BPF_ALU_OP.END) {
        this.get(d);
        o.u8(0x21).uleb(L_T);
        if (asm.opSrc(op) === asm.BPF_END.TO_BE) this.bswap(imm);
        else {
          o.u8(0x20).uleb(L_T);
          if (imm === 16) this.i64(0xffff);
          else if (imm === 32) this.i64(0xffffffff);
          if (imm !== 64) o.u8(0x83);
        }
        this.set(d);
        return true;
      }
      const simple = wasmOp(cls, sub);
      if (simple !== undefined) {
        this.get(d);
        o.u8(0xa7);
        this.src32(op, s, imm);
        o.u8(simple);
      } else if (sub === asm.BPF_ALU_OP.DIV || sub === asm.BPF_ALU_OP.MOD) {
        this.src32(op, s, imm);
        o.u8(0x22).uleb(L_O).u8(0x45); // eqz
        o.u8(0x04, I32);
        if (sub === asm.BPF_ALU_OP.DIV) this.i32(0);
        else {
          this.get(d);
          o.u8(0xa7);
        }
        o.u8(0x05);
        if (sub === asm.BPF_ALU_OP.DIV && off === asm.BPF_OFF_SIGNED) {
          o.u8(0x20).uleb(L_O);
          this.i32(-1);
          o.u8(0x46, 0x04, I32);
          this.i32(0);
          this.get(d);
          o.u8(0xa7, 0x6b, 0x05);
          this.get(d);
          o.u8(0xa7).u8(0x20).uleb(L_O).u8(0x6d, 0x0b);
        } else {
          this.get(d);
          o.u8(0xa7).u8(0x20).uleb(L_O);
          o.u8(sub === asm.BPF_ALU_OP.DIV ? 0x6e : off === asm.BPF_OFF_SIGNED ? 0x6f : 0x70);
        }
        o.u8(0x0b);
      } else if (sub === asm.BPF_ALU_OP.NEG) {
        this.i32(0);
        this.get(d);
        o.u8(0xa7, 0x6b);
      } else {
        // mov / movsx
        this.src32(op, s, imm);
        if (off === 8) o.u8(0xc0);
        else if (off === 16) o.u8(0xc1);
      }
      o.u8(0xad);
      this.set(d);
      return true;
    }
    if (cls === asm.BPF_CLASS.JMP || cls === asm.BPF_CLASS.JMP32) {
      if (op === asm.BPF_INSN.EXIT) {
        this.ret();
        return false;
      }
      if (op === asm.BPF_INSN.JA || op === asm.BPF_INSN.JA32) {
        this.jump(pc + jumpOffset(c, pc) + 1);
        return false;
      }
      if (op === asm.BPF_INSN.CALL || op === asm.BPF_INSN.CALLX) {
        this.call(pc, op, s, d, imm);
        return true;
      }
      this.condition(pc);
      this.jumpIf(pc + off + 1);
      return true;
    }
    return this.memOp(pc, op, d, s, off, imm);
  }

  /** A conditional jump's condition (i32) on the stack. */
  private condition(pc: number): void {
    const o = this.o;
    const { code: op, dst: d, src: s, imm } = insnAt(this.c, pc);
    const cls = asm.opClass(op);
    const sub = asm.opOp(op);
    {
      const wide = cls === asm.BPF_CLASS.JMP;
      this.get(d);
      if (!wide) o.u8(0xa7);
      if (wide) this.src64(op, s, imm);
      else this.src32(op, s, imm);
      if (sub === asm.BPF_JMP_OP.JSET) {
        if (wide) {
          o.u8(0x83);
          this.i64(0);
          o.u8(0x52);
        } else o.u8(0x71);
      } else o.u8(wasmOp(cls, sub)!);
    }
  }

  /**
   * If-conversion of the diamond clang emits for a boolean (BPF has no setcc): `if cond goto +1` whose
   * fall-through block is one move into a register (`w2 = 0`, one edge in: the jump's) and whose target is
   * the instruction after it. Emitted as a Wasm `select` (V8: cmov), so a data-dependent condition costs no
   * misprediction. Returns the block both sides join at. No charge, fault or pc is lost: moves cannot fault,
   * and charges sit only at loop headers.
   */
  private selectOf(blocks: BasicBlock[], preds: Uint32Array, x: number): number | undefined {
    const c = this.c;
    const b = blocks[x]!;
    const j = b.pcs[b.pcs.length - 1]!;
    if (jumpOffset(c, j) !== 1) return undefined;
    const [t, f] = b.succs as [number, number];
    const fb = blocks[f]!;
    if (blocks[t]!.start !== j + 2 || fb.start !== j + 1 || fb.pcs.length !== 1 || fb.end !== "fall")
      return undefined;
    if (fb.succs[0] !== t || this.chargeAt(fb.start) !== 0) return undefined;
    if (preds[f] !== 1) return undefined;
    const op = c.op[j + 1]!;
    const cls = asm.opClass(op);
    if (!asm.isAluClass(cls) || asm.opOp(op) !== asm.BPF_ALU_OP.MOV || c.off[j + 1] !== 0) return undefined;
    return t;
  }

  /** The move at `mov` made conditional on the jump at `jmp` being not taken (see selectOf). */
  private select(jmp: number, mov: number): void {
    const c = this.c;
    const o = this.o;
    const op = c.op[mov]!;
    const d = c.dst[mov]!;
    const wide = asm.opClass(op) === asm.BPF_CLASS.ALU64;
    this.get(d);
    if (wide) this.src64(op, c.src[mov]!, c.imm[mov]!);
    else {
      this.src32(op, c.src[mov]!, c.imm[mov]!);
      o.u8(0xad); // i64.extend_i32_u
    }
    this.condition(jmp);
    o.u8(0x1b); // select: the register as it was when the jump is taken, the move's value when not
    this.set(d);
  }

  /** Return r0, handing the budget left back to the caller. */
  private ret(): void {
    if (this.localBudget) {
      this.o.u8(0x41, 0x00, 0x20).uleb(L_BUD);
      this.o.u8(0x36, 0x02).uleb(this.env.mem.scratch + BUDGET_AT);
    }
    this.get(0);
    this.o.u8(0x0f);
  }

  private budgetFromWord(): void {
    this.o
      .u8(0x41, 0x00, 0x28, 0x02)
      .uleb(this.env.mem.scratch + BUDGET_AT)
      .u8(0x21)
      .uleb(L_BUD);
  }

  /** Pushes the budget left (i32): the local of a function without calls, else the word. */
  private budget(): void {
    if (this.localBudget) this.o.u8(0x20).uleb(L_BUD);
    else this.o.u8(0x41, 0x00, 0x28, 0x02).uleb(this.env.mem.scratch + BUDGET_AT);
  }
  /** Sets the budget left to what `value` pushes, leaving it in L_BUD too. */
  private setBudget(value: () => void): void {
    const o = this.o;
    if (this.localBudget) {
      value();
      o.u8(0x21).uleb(L_BUD);
      return;
    }
    o.u8(0x41, 0x00);
    value();
    o.u8(0x22)
      .uleb(L_BUD)
      .u8(0x36, 0x02)
      .uleb(this.env.mem.scratch + BUDGET_AT);
  }

  private call(pc: number, op: number, s: number, d: number, imm: number): void {
    const o = this.o;
    const scr = this.env.mem.scratch;
    const passArgs = () => {
      for (let i = 1; i <= 5; i++) {
        this.i32(0);
        this.get(i);
        o.u8(0x37, 0x03).uleb(scr + 8 * (i - 1));
      }
    };
    const back = () => {
      this.i32(0);
      o.u8(0x29, 0x03).uleb(scr);
      this.set(0);
    };
    if (op === asm.BPF_INSN.CALLX) {
      passArgs();
      this.get(d);
      o.u8(0xa7);
      this.i32(pc);
      o.u8(0x10).uleb(FN_H);
      back();
      return;
    }
    if (s === asm.BPF_PSEUDO.CALL) {
      const t = pc + imm + 1;
      // D += 1; if (D >= MAXD) fault
      o.u8(0x23).uleb(G_D);
      this.i32(1);
      o.u8(0x6a).u8(0x22).uleb(L_O).u8(0x24).uleb(G_D);
      o.u8(0x20).uleb(L_O);
      this.i32(this.env.stackTops.length);
      o.u8(0x4e).u8(0x04, 0x40);
      this.extra++;
      this.trap(1, pc);
      this.extra--;
      o.u8(0x0b);
      for (let i = 1; i <= 5; i++) this.get(i);
      o.u8(0x10).uleb(this.fnIndex.get(t)!);
      this.set(0);
      o.u8(0x23).uleb(G_D);
      this.i32(1);
      o.u8(0x6b).u8(0x24).uleb(G_D);
      return;
    }
    passArgs();
    this.i32(imm);
    this.i32(pc);
    o.u8(0x10).uleb(s === asm.BPF_PSEUDO.KFUNC_CALL ? FN_K : FN_H);
    back();
  }

  /** Whether access `pc` goes unchecked here: planned (WindowPlan), with every load of its group. */
  private elided(pc: number): boolean {
    if (!this.elide.has(pc)) return false;
    const g = this.groupOf.get(pc);
    return !g || g.members.every((m) => this.elide.has(m.pc));
  }

  private memOp(pc: number, op: number, d: number, s: number, off: number, imm: number): boolean {
    const o = this.o;
    const HA = this.env.mem.heapAt;
    const c = this.c;
    const lo = () => o.u8(0x20).uleb(L_O);
    if (op === asm.BPF_INSN.LD_IMM64) {
      if (c.src[pc] === asm.BPF_PSEUDO.FUNC) this.i64(CODE_BASE + (pc + imm + 1) * 8);
      else this.i64(BigInt.asIntN(64, (BigInt(c.imm[pc + 1]!) << 32n) | BigInt(imm >>> 0)));
      this.set(d);
      return true;
    }
    const size = asm.opBytes(op);
    const cls = asm.opClass(op);
    const sx = asm.opMode(op) === asm.BPF_MODE.MEMSX;
    const ldOp = wasmLoadOp(size, sx);
    const stOp = wasmStoreOp(size);
    const inFrame = (r: number) => r === 10 && this.fixedR10 && off >= -STACK_SIZE && off + size <= 0;
    // r10 never changes in this function and the access lies inside the 512-byte frame: always valid
    if (cls === asm.BPF_CLASS.LDX && inFrame(s)) {
      o.u8(0x20)
        .uleb(L_S)
        .u8(ldOp, 0x00)
        .uleb(HA + off + STACK_SIZE);
      this.set(d);
      return true;
    }
    if (this.elided(pc)) {
      // inside the window (WindowPlan): the address's low half is the byte's offset in the Wasm memory
      this.get(cls === asm.BPF_CLASS.LDX ? s : d);
      o.u8(0xa7);
      if (off < 0) {
        this.i32(off);
        o.u8(0x6a);
      }
      const at = HA - BASE + Math.max(off, 0);
      if (cls === asm.BPF_CLASS.LDX) {
        o.u8(ldOp, 0x00).uleb(at);
        this.set(d);
        return true;
      }
      if (cls === asm.BPF_CLASS.ST) this.i64(imm);
      else this.get(s);
      o.u8(stOp, 0x00).uleb(at);
      return true;
    }
    if (asm.opMode(op) === asm.BPF_MODE.MEM && cls !== asm.BPF_CLASS.LDX && inFrame(d)) {
      o.u8(0x20).uleb(L_S);
      if (cls === asm.BPF_CLASS.ST) this.i64(imm);
      else this.get(s);
      o.u8(stOp, 0x00).uleb(HA + off + STACK_SIZE);
      return true;
    }
    if (cls === asm.BPF_CLASS.LDX) {
      const g = this.groupOf.get(pc);
      if (g) {
        if (g.first === pc) this.groupCheck(g);
        o.u8(0x20).uleb(L_G);
      } else {
        this.check(pc, s, off, size, PERM_READ);
        lo();
      }
      const sx = asm.opMode(op) === asm.BPF_MODE.MEMSX;
      const ld = wasmLoadOp(size, sx);
      o.u8(ld, 0x00).uleb(HA + (g ? off - g.min : 0));
      this.set(d);
      return true;
    }
    const st = wasmStoreOp(size);
    if (asm.opMode(op) === asm.BPF_MODE.MEM) {
      this.check(pc, d, off, size, PERM_WRITE);
      lo();
      if (cls === asm.BPF_CLASS.ST) this.i64(imm);
      else this.get(s);
      o.u8(st, 0x00).uleb(HA);
      return true;
    }
    // atomics: single-threaded load, modify, store
    this.check(pc, d, off, size, PERM_RW);
    const ld = size === 4 ? 0x35 : 0x29;
    lo();
    o.u8(ld, 0x00).uleb(HA).u8(0x21).uleb(L_T); // t = old
    const t = () => o.u8(0x20).uleb(L_T);
    if (imm === asm.BPF_ATOMIC.CMPXCHG) {
      t();
      this.get(0);
      if (size === 4) {
        this.i64(0xffffffff);
        o.u8(0x83);
      }
      o.u8(0x51, 0x04, 0x40);
      lo();
      this.get(s);
      o.u8(st, 0x00).uleb(HA).u8(0x0b);
      t();
      this.set(0);
      return true;
    }
    lo();
    const base = asm.opOp(imm);
    if (base === asm.opOp(asm.BPF_ATOMIC.XCHG)) this.get(s);
    else {
      t();
      this.get(s);
      o.u8(wasmOp(asm.BPF_CLASS.ALU64, base)!); // ADD, OR, AND, XOR
    }
    o.u8(st, 0x00).uleb(HA);
    if (imm & asm.BPF_ATOMIC.FETCH) {
      t();
      this.set(s);
    }
    return true;
  }
}

/** The instructions (and block ends) of block x's dominator subtree: what emitting x twice copies. */
function subtreeSize(blocks: readonly BasicBlock[], shape: Shape, x: number): number {
  let size = blocks[x]!.pcs.length + 1;
  for (const y of shape.children[x]!) size += subtreeSize(blocks, shape, y);
  return size;
}

/** The Wasm i64 load of `size` bytes (i64.load8/16/32 signed for BPF_MEMSX, unsigned for BPF_MEM; i64.load). */
function wasmLoadOp(size: number, sx: boolean): number {
  if (size === 1) return sx ? 0x30 : 0x31;
  if (size === 2) return sx ? 0x32 : 0x33;
  if (size === 4) return sx ? 0x34 : 0x35;
  return 0x29;
}

/** The Wasm i64 store of `size` bytes (i64.store8/16/32, i64.store). */
function wasmStoreOp(size: number): number {
  return size === 1 ? 0x3c : size === 2 ? 0x3d : size === 4 ? 0x3e : 0x37;
}
