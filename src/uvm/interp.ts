import {
  BPF_ALU_OP,
  BPF_ATOMIC,
  BPF_CLASS,
  BPF_END,
  BPF_INSN,
  BPF_JMP_OP,
  BPF_MODE,
  BPF_OFF_SIGNED,
  BPF_PSEUDO,
  BPF_SIZE,
  BPF_SRC,
  opClass,
  opOp,
  opSrc,
} from "../asm/index.ts";
import {
  arsh64,
  bswap16,
  bswap32,
  lsh64,
  mul64,
  OUT,
  rsh64,
  sdiv32,
  sdiv64,
  slt64,
  smod32,
  smod64,
  udiv32,
  udiv64,
  ult64,
  umod32,
  umod64,
} from "./alu.ts";
import { CODE_BASE, type Code, isJump } from "./code.ts";
import type { CallBack, Engine, Env, RunOptions } from "./engine.ts";
import { Unwind } from "./fault.ts";
import { callError, fault, wildAccess } from "./faults.ts";
import { BASE, PERM_READ, PERM_RW, PERM_WRITE } from "./memory.ts";

const { ALU, ALU64, JMP, JMP32, LDX, ST, STX } = BPF_CLASS;
const { MEM, MEMSX, ATOMIC } = BPF_MODE;
const { B, H, W, DW } = BPF_SIZE;

/*
 * The hot loop is one `switch` over dense case numbers written as literals: V8 compiles a switch over
 * literal cases to one jump table, while src/asm's constants (bound at module level) as its cases measured
 * 40% slower on bench/uvm's fnv1a (a chain of compares). The operations that call out (helpers, calls,
 * BigInt division, atomics) leave it for a second switch in an outer loop, so that the hot loop makes no
 * calls. `caseOf` gives every instruction its case once, at load time, from src/asm's constants; the
 * numbering is:
 *
 *   ALU64    0 + 2·i + x   i = position in ALU_OPS, x = 1 for the register (BPF_SRC.X) form
 *            26..35        sdiv k/x, smod k/x, movsx8/16/32 (x), bswap16/32/64
 *   ALU     36 + 2·i + x
 *            62..73        sdiv k/x, smod k/x, movsx8/16 (x), le16/32/64, be16/32/64
 *   JMP     74 + 2·j + x   j = position in JMP_OPS (call = 90, callx = 91, exit = 92)
 *           102, 103       kfunc call, local call
 *   JMP32  104 + 2·j + x   (gotol = 104)
 *   memory 132..150        lddw, lddw of a code address, then MEM_OPS from ldxw
 *          151             the end of the program (a sentinel after the last instruction)
 *          152             a budget trap (see `arm`)
 *   153..158               ALU64 shifts by a constant: lsh, rsh, arsh, each by 1..31 then by 32..63 (its imm
 *                          less 32); a shift by 0 stays in the general case
 *
 * A movsx with an immediate, and the immediate of a K-form movsx, are sign-extended at load time (a mov).
 * test/uvm/interp-cases.test.ts checks that every valid instruction lands on a case of the switch, and
 * that no case serves two opcodes.
 */
const ALU_OPS: readonly number[] = [
  ...[BPF_ALU_OP.ADD, BPF_ALU_OP.SUB, BPF_ALU_OP.MUL, BPF_ALU_OP.DIV, BPF_ALU_OP.OR, BPF_ALU_OP.AND],
  ...[BPF_ALU_OP.LSH, BPF_ALU_OP.RSH, BPF_ALU_OP.NEG, BPF_ALU_OP.MOD, BPF_ALU_OP.XOR, BPF_ALU_OP.MOV],
  BPF_ALU_OP.ARSH,
];
const JMP_OPS: readonly number[] = [
  ...[BPF_JMP_OP.JA, BPF_JMP_OP.JEQ, BPF_JMP_OP.JGT, BPF_JMP_OP.JGE, BPF_JMP_OP.JSET, BPF_JMP_OP.JNE],
  ...[BPF_JMP_OP.JSGT, BPF_JMP_OP.JSGE, BPF_JMP_OP.CALL, BPF_JMP_OP.EXIT, BPF_JMP_OP.JLT, BPF_JMP_OP.JLE],
  ...[BPF_JMP_OP.JSLT, BPF_JMP_OP.JSLE],
];
const ldst = (cls: number, mode: number, sizes: number[]) => sizes.map((z) => cls | mode | z);
/** Whole opcodes of the load/store cases, from case 134. */
const MEM_OPS: readonly number[] = [
  ...ldst(LDX, MEM, [W, H, B, DW]),
  ...ldst(LDX, MEMSX, [W, H, B]),
  ...ldst(ST, MEM, [W, H, B, DW]),
  ...ldst(STX, MEM, [W, H, B, DW]),
  ...ldst(STX, ATOMIC, [W, DW]),
];
const C_ALU64 = 0;
const C_ALU = 36;
const C_JMP = 74;
const C_JMP32 = 104;
const C_LDDW = 132;
const C_MEM = 134;
const C_END = 151;
const C_TRAP = 152;
const C_SHIFT_K = 153;
/** The ALU64 shifts with a case of their own by a constant, in the order of their cases from C_SHIFT_K. */
const SHIFTS_K: readonly number[] = [BPF_ALU_OP.LSH, BPF_ALU_OP.RSH, BPF_ALU_OP.ARSH];
/** Per class: sdiv k, smod k, movsx8, movsx16 (and movsx32 in ALU64), then the byte swaps. */
const EXTRA = { [ALU64]: 26, [ALU]: 62 } as Record<number, number>;

/** The dense case of instruction `pc`, and its immediate as the case reads it. */
export function caseOf(code: Code, pc: number): { c: number; imm: number } {
  const op = code.op[pc]!;
  const off = code.off[pc]!;
  let imm = code.imm[pc]!;
  const cls = opClass(op);
  const aop = opOp(op);
  const x = opSrc(op) === BPF_SRC.X ? 1 : 0;
  if (cls === ALU64 || cls === ALU) {
    const extra = EXTRA[cls]!;
    if (aop === BPF_ALU_OP.END) {
      const width = [16, 32, 64].indexOf(imm);
      if (cls === ALU64) return { c: extra + 7 + width, imm };
      return { c: extra + 6 + (opSrc(op) === BPF_END.TO_BE ? 3 : 0) + width, imm };
    }
    if ((aop === BPF_ALU_OP.DIV || aop === BPF_ALU_OP.MOD) && off === BPF_OFF_SIGNED)
      return { c: extra + (aop === BPF_ALU_OP.MOD ? 2 : 0) + x, imm };
    if (aop === BPF_ALU_OP.MOV && off !== 0) {
      if (x === 0) {
        imm = off === 8 ? (imm << 24) >> 24 : off === 16 ? (imm << 16) >> 16 : imm;
      } else if (cls === ALU64 || off !== 32) return { c: extra + 4 + [8, 16, 32].indexOf(off), imm };
    }
    const shift = SHIFTS_K.indexOf(aop);
    if (cls === ALU64 && x === 0 && shift >= 0 && (imm & 63) !== 0) {
      const n = imm & 63;
      return { c: C_SHIFT_K + 2 * shift + (n < 32 ? 0 : 1), imm: n < 32 ? n : n - 32 };
    }
    return { c: (cls === ALU64 ? C_ALU64 : C_ALU) + 2 * ALU_OPS.indexOf(aop) + x, imm };
  }
  if (cls === JMP || cls === JMP32) {
    if (op === BPF_INSN.CALL && code.src[pc] === BPF_PSEUDO.KFUNC_CALL) return { c: C_JMP + 28, imm };
    if (op === BPF_INSN.CALL && code.src[pc] === BPF_PSEUDO.CALL) return { c: C_JMP + 29, imm };
    return { c: (cls === JMP ? C_JMP : C_JMP32) + 2 * JMP_OPS.indexOf(aop) + x, imm };
  }
  if (op === BPF_INSN.LD_IMM64) return { c: C_LDDW + (code.src[pc] === BPF_PSEUDO.FUNC ? 1 : 0), imm };
  return { c: C_MEM + MEM_OPS.indexOf(op), imm };
}

/**
 * The registers of every frame of every run, as (lo, hi) int32 pairs: r0..r10 of a frame at 22 consecutive
 * slots. One module-level array, not an array per frame: V8 compiles a constant typed array's accesses
 * without the map check and the length and data pointer loads it repeats on every access to an argument's.
 */
const REGS = new Int32Array(1 << 16);
const FRAME = 22;
/** The first slot of REGS no run holds. */
let regsTop = 0;
/**
 * The words of the program being run (an interpreter's `prog`, copied in by `load` when another
 * interpreter ran last): module-level for the same reason as REGS. It bounds the program size.
 */
const CODE = new Int32Array(1 << 21);
let codeOwner: Interpreter | undefined;

/** The interpreter's loop (`Interpreter`'s static block makes it). */
let exec: (self: Interpreter, start: number, base: number) => number;

/** Ends a straight-line run: a jump, a call or an exit (the budget is charged per run, see `charges`). */
function endsRun(op: number): boolean {
  return isJump(op) || op === BPF_INSN.CALL || op === BPF_INSN.CALLX || op === BPF_INSN.EXIT;
}

/**
 * The reference engine: a decode-once, switch-per-instruction interpreter. Registers are (lo, hi) int32
 * pairs in the frame's block of REGS (rn at REGS[rb + 2n], REGS[rb + 2n + 1]); r6..r9 are preserved across
 * local calls because each call depth has its own block.
 *
 * The budget is exact without a per-instruction count: entering a straight-line run at `pc` (the program's
 * entry, a jump's target or fall-through, the instruction after a call) charges `charges[pc]`, the number
 * of instructions up to and including the run's jump, call or exit. When the budget left is smaller, the
 * run is entered anyway with a trap armed on the first instruction the budget does not cover: the
 * instructions before it execute (they cannot jump), the trap faults at its pc, as a per-instruction count
 * would.
 */
export class Interpreter implements Engine {
  private budget = 0;
  private depth = 0;
  private cpc = 0;
  private readonly A = new Int32Array(10);
  private readonly callback: CallBack;
  /** Per instruction: case | dst·2 << 7 | src·2 << 11 | off << 16, then imm; the sentinel after the last. */
  private readonly prog: Int32Array;
  /** Instructions charged when a run is entered at pc (see the class comment); 0 at the sentinel. */
  private readonly charges: Int32Array;
  /** This run's block of REGS: call depth i's registers are at base + FRAME · i. */
  private base = 0;
  private trapPc = -1;
  private trapWord = 0;

  constructor(
    readonly code: Code,
    private readonly env: Env,
  ) {
    const n = code.count;
    if (2 * n + 2 > CODE.length)
      throw fault(
        code,
        "bad-program",
        0,
        `the interpreter runs programs of up to ${CODE.length / 2 - 1} instructions`,
      );
    this.prog = new Int32Array(2 * n + 2);
    this.charges = new Int32Array(n + 1);
    for (let pc = 0; pc < n; pc++) {
      const { c, imm } = caseOf(code, pc);
      this.prog[2 * pc] = c | (code.dst[pc]! << 8) | (code.src[pc]! << 12) | (code.off[pc]! << 16);
      this.prog[2 * pc + 1] = imm;
      // the second half of an lddw: its imm is the constant's high word
      if (code.op[pc] === BPF_INSN.LD_IMM64) this.prog[2 * ++pc + 1] = code.imm[pc]!;
    }
    this.prog[2 * n] = C_END;
    for (let pc = n - 1; pc >= 0; pc--) {
      const op = code.op[pc]!;
      if (endsRun(op)) this.charges[pc] = 1;
      else if (op === BPF_INSN.LD_IMM64) this.charges[pc] = 1 + this.charges[pc + 2]!;
      else this.charges[pc] = 1 + this.charges[pc + 1]!;
    }
    this.callback = (pc, A) => {
      const rb = this.base + FRAME * (this.depth + 1);
      REGS.fill(0, rb, rb + FRAME);
      REGS.set(A.subarray(0, 10), rb + 2);
      A[0] = this.enter(pc, rb, pc);
      A[1] = OUT[0]!;
    };
  }

  run(r1l: number, r1h: number, r2l: number, r2h: number, opts: RunOptions): number {
    this.budget = opts.budget;
    this.depth = 0;
    // a block of REGS for this run's frames (one more: a call past the last fails in `enter`, after its
    // frame is cleared), taken from the top as a stack so that runs nested through helpers keep theirs
    const outer = this.base;
    const rb = regsTop;
    if (rb + FRAME * (this.env.stackTops.length + 1) > REGS.length)
      throw fault(this.code, "stack-overflow", 0, "runs nested through helpers exhaust the register stack");
    regsTop = rb + FRAME * (this.env.stackTops.length + 1);
    this.base = rb;
    REGS.fill(0, rb, rb + FRAME);
    REGS[rb + 2] = r1l;
    REGS[rb + 3] = r1h;
    REGS[rb + 4] = r2l;
    REGS[rb + 5] = r2h;
    try {
      return exec(this, 0, rb);
    } catch (e) {
      if (e instanceof Unwind) {
        OUT[0] = e.hi;
        return e.lo;
      }
      throw callError(this.code, this.cpc, e);
    } finally {
      this.disarm();
      regsTop = rb;
      this.base = outer;
    }
  }

  private enter(target: number, rb: number, pc: number): number {
    if (this.depth + 1 >= this.env.stackTops.length)
      throw fault(this.code, "stack-overflow", pc, `call depth exceeds ${this.env.stackTops.length} frames`);
    this.depth++;
    const lo = exec(this, target, rb);
    this.depth--;
    return lo;
  }

  /**
   * The run entered at `pc` needs more than the `left` instructions the budget has: put the trap on the
   * first instruction past them. Returns the budget to continue with (none).
   */
  private arm(pc: number, left: number): number {
    let p = pc;
    for (let i = 0; i < left; i++) p += this.code.op[p] === BPF_INSN.LD_IMM64 ? 2 : 1;
    this.trapPc = p;
    this.trapWord = this.prog[2 * p]!;
    this.prog[2 * p] = C_TRAP;
    CODE[2 * p] = C_TRAP;
    return 0;
  }

  private disarm(): void {
    if (this.trapPc >= 0) {
      this.prog[2 * this.trapPc] = this.trapWord;
      if (codeOwner === this) CODE[2 * this.trapPc] = this.trapWord;
    }
    this.trapPc = -1;
  }

  /** Makes CODE this program's: a helper may have run another program since this one last ran. */
  private load(): void {
    CODE.set(this.prog);
    codeOwner = this;
  }

  private wild(pc: number, rb: number, r: number, off: number, n: number, perm: number): Error {
    return wildAccess(this.code, this.env.mem, pc, r >> 1, REGS[rb + r]!, REGS[rb + r + 1]!, off, n, perm);
  }

  /** A helper or kfunc call at `pc`: r1..r5 out through A, r0 back. */
  private callNative(pc: number, rb: number, w: number, imm: number, kfunc: boolean, x: boolean): void {
    const env = this.env;
    const id = x ? REGS[(rb + (w >> 7)) & 0x1e]! >>> 0 : imm;
    const fn = kfunc ? env.kfuncs[id] : env.helpers[id];
    if (!fn) throw fault(this.code, kfunc ? "kfunc" : "unknown-helper", pc, `no helper with id ${id}`);
    const A = this.A;
    for (let i = 0; i < 10; i++) A[i] = REGS[rb + i + 2]!;
    this.cpc = pc;
    fn(A, this.callback);
    REGS[rb + 0] = A[0]!;
    REGS[rb + 1] = A[1]!;
  }

  /** Heap offset of an n-byte atomic at REGS[rb + d] + off, or the fault. */
  private atomicAt(pc: number, rb: number, d: number, off: number, n: number): number {
    const mem = this.env.mem;
    const o = (REGS[rb + d]! + off - BASE) | 0;
    if (
      REGS[rb + d + 1] !== 0 ||
      o >>> 0 >= mem.capacity ||
      (mem.perm[o]! & mem.perm[o + n - 1]! & PERM_RW) === 0
    )
      throw this.wild(pc, rb, d, off, n, PERM_RW);
    return o;
  }

  private atomic32(pc: number, rb: number, d: number, s: number, off: number, imm: number): void {
    const dv = this.env.mem.dv;
    const o = this.atomicAt(pc, rb, d, off, 4);
    const old = dv.getInt32(o, true);
    const v = REGS[rb + s]!;
    if (imm === BPF_ATOMIC.CMPXCHG) {
      if (old === REGS[rb + 0]) dv.setInt32(o, v, true);
      REGS[rb + 0] = old;
      REGS[rb + 1] = 0;
      return;
    }
    const base = opOp(imm);
    const nv =
      base === BPF_ATOMIC.ADD
        ? (old + v) | 0
        : base === BPF_ATOMIC.OR
          ? old | v
          : base === BPF_ATOMIC.AND
            ? old & v
            : base === BPF_ATOMIC.XOR
              ? old ^ v
              : v;
    dv.setInt32(o, nv, true);
    if (imm & BPF_ATOMIC.FETCH) {
      REGS[rb + s] = old;
      REGS[rb + s + 1] = 0;
    }
  }

  private atomic64(pc: number, rb: number, d: number, s: number, off: number, imm: number): void {
    const dv = this.env.mem.dv;
    const o = this.atomicAt(pc, rb, d, off, 8);
    const ol = dv.getInt32(o, true);
    const oh = dv.getInt32(o + 4, true);
    const vl = REGS[rb + s]!;
    const vh = REGS[rb + s + 1]!;
    if (imm === BPF_ATOMIC.CMPXCHG) {
      if (ol === REGS[rb + 0] && oh === REGS[rb + 1]) {
        dv.setInt32(o, vl, true);
        dv.setInt32(o + 4, vh, true);
      }
      REGS[rb + 0] = ol;
      REGS[rb + 1] = oh;
      return;
    }
    const base = opOp(imm);
    let nl: number;
    let nh: number;
    if (base === BPF_ATOMIC.ADD) {
      nl = (ol + vl) | 0;
      nh = (oh + vh + (nl >>> 0 < ol >>> 0 ? 1 : 0)) | 0;
    } else if (base === BPF_ATOMIC.OR) {
      nl = ol | vl;
      nh = oh | vh;
    } else if (base === BPF_ATOMIC.AND) {
      nl = ol & vl;
      nh = oh & vh;
    } else if (base === BPF_ATOMIC.XOR) {
      nl = ol ^ vl;
      nh = oh ^ vh;
    } else {
      nl = vl;
      nh = vh;
    }
    dv.setInt32(o, nl, true);
    dv.setInt32(o + 4, nh, true);
    if (imm & BPF_ATOMIC.FETCH) {
      REGS[rb + s] = ol;
      REGS[rb + s + 1] = oh;
    }
  }

  static {
    // The hot loop reads REGS and CODE through constants of this block's own scope: V8 folds the immutable
    // context slots of a closure made once into its optimised code, while a bundler may turn module-level
    // `const`s into assigned `var`s (esbuild does for a lazily initialised module), which it cannot fold.
    const regs = REGS;
    const words = CODE;
    exec = (self: Interpreter, start: number, base: number): number => {
      // a known range (REGS has 2^16 slots): rb + d cannot overflow, so V8 checks no add of it
      const rb = base & 0xffff;
      const I = words;
      if (codeOwner !== self) self.load();
      const L = self.charges;
      const mem = self.env.mem;
      const heap = mem.heap;
      const dv = mem.dv;
      const P = mem.perm;
      const cap = mem.capacity;
      regs[rb + 20] = self.env.stackTops[self.depth]!;
      regs[rb + 21] = 0;
      let pc = start | 0;
      let budget = self.budget - L[pc]!;
      if (budget < 0) budget = self.arm(pc, budget + L[pc]!);
      for (;;) {
        // back from a call out: the helper may have run another program
        if (codeOwner !== self) self.load();
        inner: for (;;) {
          const w = I[pc << 1]!;
          const imm = I[(pc << 1) | 1]!;
          const d = (w >> 7) & 0x1e;
          const s = (w >> 11) & 0x1e;
          const off = w >> 16;
          switch (w & 0xff) {
            case 0: {
              // add64 k
              const al = regs[rb + d]!;
              const lo = (al + imm) | 0;
              regs[rb + d] = lo;
              regs[rb + d + 1] = (regs[rb + d + 1]! + (imm >> 31) + (lo >>> 0 < al >>> 0 ? 1 : 0)) | 0;
              pc++;
              continue;
            }
            case 1: {
              // add64 x
              const al = regs[rb + d]!;
              const lo = (al + regs[rb + s]!) | 0;
              regs[rb + d] = lo;
              regs[rb + d + 1] = (regs[rb + d + 1]! + regs[rb + s + 1]! + (lo >>> 0 < al >>> 0 ? 1 : 0)) | 0;
              pc++;
              continue;
            }
            case 2: {
              // sub64 k
              const al = regs[rb + d]!;
              regs[rb + d] = (al - imm) | 0;
              regs[rb + d + 1] = (regs[rb + d + 1]! - (imm >> 31) - (al >>> 0 < imm >>> 0 ? 1 : 0)) | 0;
              pc++;
              continue;
            }
            case 3: {
              // sub64 x
              const al = regs[rb + d]!;
              const bl = regs[rb + s]!;
              regs[rb + d] = (al - bl) | 0;
              regs[rb + d + 1] = (regs[rb + d + 1]! - regs[rb + s + 1]! - (al >>> 0 < bl >>> 0 ? 1 : 0)) | 0;
              pc++;
              continue;
            }
            case 4: // mul64 k
              regs[rb + d] = mul64(regs[rb + d]!, regs[rb + d + 1]!, imm, imm >> 31);
              regs[rb + d + 1] = OUT[0]!;
              pc++;
              continue;
            case 5: // mul64 x
              regs[rb + d] = mul64(regs[rb + d]!, regs[rb + d + 1]!, regs[rb + s]!, regs[rb + s + 1]!);
              regs[rb + d + 1] = OUT[0]!;
              pc++;
              continue;
            case 8: // or64 k
              regs[rb + d] = regs[rb + d]! | imm;
              regs[rb + d + 1] = regs[rb + d + 1]! | (imm >> 31);
              pc++;
              continue;
            case 9: // or64 x
              regs[rb + d] = regs[rb + d]! | regs[rb + s]!;
              regs[rb + d + 1] = regs[rb + d + 1]! | regs[rb + s + 1]!;
              pc++;
              continue;
            case 10: // and64 k
              regs[rb + d] = regs[rb + d]! & imm;
              regs[rb + d + 1] = regs[rb + d + 1]! & (imm >> 31);
              pc++;
              continue;
            case 11: // and64 x
              regs[rb + d] = regs[rb + d]! & regs[rb + s]!;
              regs[rb + d + 1] = regs[rb + d + 1]! & regs[rb + s + 1]!;
              pc++;
              continue;
            case 12: // lsh64 k
              regs[rb + d] = lsh64(regs[rb + d]!, regs[rb + d + 1]!, imm);
              regs[rb + d + 1] = OUT[0]!;
              pc++;
              continue;
            case 13: // lsh64 x
              regs[rb + d] = lsh64(regs[rb + d]!, regs[rb + d + 1]!, regs[rb + s]!);
              regs[rb + d + 1] = OUT[0]!;
              pc++;
              continue;
            case 14: // rsh64 k
              regs[rb + d] = rsh64(regs[rb + d]!, regs[rb + d + 1]!, imm);
              regs[rb + d + 1] = OUT[0]!;
              pc++;
              continue;
            case 15: // rsh64 x
              regs[rb + d] = rsh64(regs[rb + d]!, regs[rb + d + 1]!, regs[rb + s]!);
              regs[rb + d + 1] = OUT[0]!;
              pc++;
              continue;
            case 16: {
              // neg64
              const al = regs[rb + d]!;
              regs[rb + d] = -al | 0;
              regs[rb + d + 1] = (0 - regs[rb + d + 1]! - (al !== 0 ? 1 : 0)) | 0;
              pc++;
              continue;
            }
            case 20: // xor64 k
              regs[rb + d] = regs[rb + d]! ^ imm;
              regs[rb + d + 1] = regs[rb + d + 1]! ^ (imm >> 31);
              pc++;
              continue;
            case 21: // xor64 x
              regs[rb + d] = regs[rb + d]! ^ regs[rb + s]!;
              regs[rb + d + 1] = regs[rb + d + 1]! ^ regs[rb + s + 1]!;
              pc++;
              continue;
            case 22: // mov64 k
              regs[rb + d] = imm;
              regs[rb + d + 1] = imm >> 31;
              pc++;
              continue;
            case 23: // mov64 x
              regs[rb + d] = regs[rb + s]!;
              regs[rb + d + 1] = regs[rb + s + 1]!;
              pc++;
              continue;
            case 24: // arsh64 k
              regs[rb + d] = arsh64(regs[rb + d]!, regs[rb + d + 1]!, imm);
              regs[rb + d + 1] = OUT[0]!;
              pc++;
              continue;
            case 25: // arsh64 x
              regs[rb + d] = arsh64(regs[rb + d]!, regs[rb + d + 1]!, regs[rb + s]!);
              regs[rb + d + 1] = OUT[0]!;
              pc++;
              continue;
            case 30: {
              // movsx8 64
              const v = (regs[rb + s]! << 24) >> 24;
              regs[rb + d] = v;
              regs[rb + d + 1] = v >> 31;
              pc++;
              continue;
            }
            case 31: {
              // movsx16 64
              const v = (regs[rb + s]! << 16) >> 16;
              regs[rb + d] = v;
              regs[rb + d + 1] = v >> 31;
              pc++;
              continue;
            }
            case 32: {
              // movsx32 64
              const v = regs[rb + s]!;
              regs[rb + d] = v;
              regs[rb + d + 1] = v >> 31;
              pc++;
              continue;
            }
            case 33: // bswap16
              regs[rb + d] = bswap16(regs[rb + d]!);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 34: // bswap32
              regs[rb + d] = bswap32(regs[rb + d]!);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 35: {
              // bswap64
              const h = regs[rb + d + 1]!;
              regs[rb + d + 1] = bswap32(regs[rb + d]!);
              regs[rb + d] = bswap32(h);
              pc++;
              continue;
            }
            case 36: // add32 k
              regs[rb + d] = (regs[rb + d]! + imm) | 0;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 37: // add32 x
              regs[rb + d] = (regs[rb + d]! + regs[rb + s]!) | 0;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 38: // sub32 k
              regs[rb + d] = (regs[rb + d]! - imm) | 0;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 39: // sub32 x
              regs[rb + d] = (regs[rb + d]! - regs[rb + s]!) | 0;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 40: // mul32 k
              regs[rb + d] = Math.imul(regs[rb + d]!, imm);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 41: // mul32 x
              regs[rb + d] = Math.imul(regs[rb + d]!, regs[rb + s]!);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 42: // div32 k
              regs[rb + d] = udiv32(regs[rb + d]!, imm);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 43: // div32 x
              regs[rb + d] = udiv32(regs[rb + d]!, regs[rb + s]!);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 44: // or32 k
              regs[rb + d] = regs[rb + d]! | imm;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 45: // or32 x
              regs[rb + d] = regs[rb + d]! | regs[rb + s]!;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 46: // and32 k
              regs[rb + d] = regs[rb + d]! & imm;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 47: // and32 x
              regs[rb + d] = regs[rb + d]! & regs[rb + s]!;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 48: // lsh32 k
              regs[rb + d] = regs[rb + d]! << (imm & 31);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 49: // lsh32 x
              regs[rb + d] = regs[rb + d]! << (regs[rb + s]! & 31);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 50: // rsh32 k
              regs[rb + d] = (regs[rb + d]! >>> (imm & 31)) | 0;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 51: // rsh32 x
              regs[rb + d] = (regs[rb + d]! >>> (regs[rb + s]! & 31)) | 0;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 52: // neg32
              regs[rb + d] = -regs[rb + d]! | 0;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 54: // mod32 k
              regs[rb + d] = umod32(regs[rb + d]!, imm);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 55: // mod32 x
              regs[rb + d] = umod32(regs[rb + d]!, regs[rb + s]!);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 56: // xor32 k
              regs[rb + d] = regs[rb + d]! ^ imm;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 57: // xor32 x
              regs[rb + d] = regs[rb + d]! ^ regs[rb + s]!;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 58: // mov32 k
              regs[rb + d] = imm;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 59: // mov32 x
              regs[rb + d] = regs[rb + s]!;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 60: // arsh32 k
              regs[rb + d] = regs[rb + d]! >> (imm & 31);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 61: // arsh32 x
              regs[rb + d] = regs[rb + d]! >> (regs[rb + s]! & 31);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 62: // sdiv32 k
              regs[rb + d] = sdiv32(regs[rb + d]!, imm);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 63: // sdiv32 x
              regs[rb + d] = sdiv32(regs[rb + d]!, regs[rb + s]!);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 64: // smod32 k
              regs[rb + d] = smod32(regs[rb + d]!, imm);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 65: // smod32 x
              regs[rb + d] = smod32(regs[rb + d]!, regs[rb + s]!);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 66: // movsx8 32
              regs[rb + d] = (regs[rb + s]! << 24) >> 24;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 67: // movsx16 32
              regs[rb + d] = (regs[rb + s]! << 16) >> 16;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 68: // le16
              regs[rb + d] = regs[rb + d]! & 0xffff;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 69: // le32
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 70: // le64 (nothing to do on this little-endian host)
              pc++;
              continue;
            case 71: // be16
              regs[rb + d] = bswap16(regs[rb + d]!);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 72: // be32
              regs[rb + d] = bswap32(regs[rb + d]!);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 73: {
              // be64
              const h = regs[rb + d + 1]!;
              regs[rb + d + 1] = bswap32(regs[rb + d]!);
              regs[rb + d] = bswap32(h);
              pc++;
              continue;
            }
            // Jumps and calls `break` to the tail after the switch, which steps past them and charges the run
            // they enter; everything else continues at the next instruction itself.
            case 74: // ja
              pc += off;
              break;
            case 76: // jeq k
              if (regs[rb + d] === imm && regs[rb + d + 1] === imm >> 31) pc += off;
              break;
            case 77: // jeq x
              if (regs[rb + d] === regs[rb + s] && regs[rb + d + 1] === regs[rb + s + 1]) pc += off;
              break;
            case 78: // jgt k
              if (ult64(imm, imm >> 31, regs[rb + d]!, regs[rb + d + 1]!)) pc += off;
              break;
            case 79: // jgt x
              if (ult64(regs[rb + s]!, regs[rb + s + 1]!, regs[rb + d]!, regs[rb + d + 1]!)) pc += off;
              break;
            case 80: // jge k
              if (!ult64(regs[rb + d]!, regs[rb + d + 1]!, imm, imm >> 31)) pc += off;
              break;
            case 81: // jge x
              if (!ult64(regs[rb + d]!, regs[rb + d + 1]!, regs[rb + s]!, regs[rb + s + 1]!)) pc += off;
              break;
            case 82: // jset k
              if (((regs[rb + d]! & imm) | (regs[rb + d + 1]! & (imm >> 31))) !== 0) pc += off;
              break;
            case 83: // jset x
              if (((regs[rb + d]! & regs[rb + s]!) | (regs[rb + d + 1]! & regs[rb + s + 1]!)) !== 0)
                pc += off;
              break;
            case 84: // jne k
              if (regs[rb + d] !== imm || regs[rb + d + 1] !== imm >> 31) pc += off;
              break;
            case 85: // jne x
              if (regs[rb + d] !== regs[rb + s] || regs[rb + d + 1] !== regs[rb + s + 1]) pc += off;
              break;
            case 86: // jsgt k
              if (slt64(imm, imm >> 31, regs[rb + d]!, regs[rb + d + 1]!)) pc += off;
              break;
            case 87: // jsgt x
              if (slt64(regs[rb + s]!, regs[rb + s + 1]!, regs[rb + d]!, regs[rb + d + 1]!)) pc += off;
              break;
            case 88: // jsge k
              if (!slt64(regs[rb + d]!, regs[rb + d + 1]!, imm, imm >> 31)) pc += off;
              break;
            case 89: // jsge x
              if (!slt64(regs[rb + d]!, regs[rb + d + 1]!, regs[rb + s]!, regs[rb + s + 1]!)) pc += off;
              break;
            case 92: // exit
              self.budget = budget;
              OUT[0] = regs[rb + 1]!;
              return regs[rb + 0]!;
            case 94: // jlt k
              if (ult64(regs[rb + d]!, regs[rb + d + 1]!, imm, imm >> 31)) pc += off;
              break;
            case 95: // jlt x
              if (ult64(regs[rb + d]!, regs[rb + d + 1]!, regs[rb + s]!, regs[rb + s + 1]!)) pc += off;
              break;
            case 96: // jle k
              if (!ult64(imm, imm >> 31, regs[rb + d]!, regs[rb + d + 1]!)) pc += off;
              break;
            case 97: // jle x
              if (!ult64(regs[rb + s]!, regs[rb + s + 1]!, regs[rb + d]!, regs[rb + d + 1]!)) pc += off;
              break;
            case 98: // jslt k
              if (slt64(regs[rb + d]!, regs[rb + d + 1]!, imm, imm >> 31)) pc += off;
              break;
            case 99: // jslt x
              if (slt64(regs[rb + d]!, regs[rb + d + 1]!, regs[rb + s]!, regs[rb + s + 1]!)) pc += off;
              break;
            case 100: // jsle k
              if (!slt64(imm, imm >> 31, regs[rb + d]!, regs[rb + d + 1]!)) pc += off;
              break;
            case 101: // jsle x
              if (!slt64(regs[rb + s]!, regs[rb + s + 1]!, regs[rb + d]!, regs[rb + d + 1]!)) pc += off;
              break;
            case 104: // gotol
              pc += imm;
              break;
            case 106: // jeq32 k
              if (regs[rb + d] === imm) pc += off;
              break;
            case 107: // jeq32 x
              if (regs[rb + d] === regs[rb + s]) pc += off;
              break;
            case 108: // jgt32 k
              if (regs[rb + d]! >>> 0 > imm >>> 0) pc += off;
              break;
            case 109: // jgt32 x
              if (regs[rb + d]! >>> 0 > regs[rb + s]! >>> 0) pc += off;
              break;
            case 110: // jge32 k
              if (regs[rb + d]! >>> 0 >= imm >>> 0) pc += off;
              break;
            case 111: // jge32 x
              if (regs[rb + d]! >>> 0 >= regs[rb + s]! >>> 0) pc += off;
              break;
            case 112: // jset32 k
              if ((regs[rb + d]! & imm) !== 0) pc += off;
              break;
            case 113: // jset32 x
              if ((regs[rb + d]! & regs[rb + s]!) !== 0) pc += off;
              break;
            case 114: // jne32 k
              if (regs[rb + d] !== imm) pc += off;
              break;
            case 115: // jne32 x
              if (regs[rb + d] !== regs[rb + s]) pc += off;
              break;
            case 116: // jsgt32 k
              if (regs[rb + d]! > imm) pc += off;
              break;
            case 117: // jsgt32 x
              if (regs[rb + d]! > regs[rb + s]!) pc += off;
              break;
            case 118: // jsge32 k
              if (regs[rb + d]! >= imm) pc += off;
              break;
            case 119: // jsge32 x
              if (regs[rb + d]! >= regs[rb + s]!) pc += off;
              break;
            case 124: // jlt32 k
              if (regs[rb + d]! >>> 0 < imm >>> 0) pc += off;
              break;
            case 125: // jlt32 x
              if (regs[rb + d]! >>> 0 < regs[rb + s]! >>> 0) pc += off;
              break;
            case 126: // jle32 k
              if (regs[rb + d]! >>> 0 <= imm >>> 0) pc += off;
              break;
            case 127: // jle32 x
              if (regs[rb + d]! >>> 0 <= regs[rb + s]! >>> 0) pc += off;
              break;
            case 128: // jslt32 k
              if (regs[rb + d]! < imm) pc += off;
              break;
            case 129: // jslt32 x
              if (regs[rb + d]! < regs[rb + s]!) pc += off;
              break;
            case 130: // jsle32 k
              if (regs[rb + d]! <= imm) pc += off;
              break;
            case 131: // jsle32 x
              if (regs[rb + d]! <= regs[rb + s]!) pc += off;
              break;
            case 132: // lddw
              regs[rb + d] = imm;
              regs[rb + d + 1] = I[(pc << 1) + 3]!;
              pc += 2;
              continue;
            case 133: // lddw of a code address
              regs[rb + d] = CODE_BASE + (pc + imm + 1) * 8;
              regs[rb + d + 1] = 0;
              pc += 2;
              continue;
            case 134: {
              // ldxw
              const o = (regs[rb + s]! + off - BASE) | 0;
              if (regs[rb + s + 1] !== 0 || o >>> 0 >= cap || (P[o]! & P[o + 3]! & PERM_READ) === 0)
                throw self.wild(pc, rb, s, off, 4, PERM_READ);
              regs[rb + d] = dv.getInt32(o, true);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            }
            case 135: {
              // ldxh
              const o = (regs[rb + s]! + off - BASE) | 0;
              if (regs[rb + s + 1] !== 0 || o >>> 0 >= cap || (P[o]! & P[o + 1]! & PERM_READ) === 0)
                throw self.wild(pc, rb, s, off, 2, PERM_READ);
              regs[rb + d] = dv.getUint16(o, true);
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            }
            case 136: {
              // ldxb
              const o = (regs[rb + s]! + off - BASE) | 0;
              if (regs[rb + s + 1] !== 0 || o >>> 0 >= cap || (P[o]! & PERM_READ) === 0)
                throw self.wild(pc, rb, s, off, 1, PERM_READ);
              regs[rb + d] = heap[o]!;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            }
            case 137: {
              // ldxdw
              const o = (regs[rb + s]! + off - BASE) | 0;
              if (regs[rb + s + 1] !== 0 || o >>> 0 >= cap || (P[o]! & P[o + 7]! & PERM_READ) === 0)
                throw self.wild(pc, rb, s, off, 8, PERM_READ);
              regs[rb + d] = dv.getInt32(o, true);
              regs[rb + d + 1] = dv.getInt32(o + 4, true);
              pc++;
              continue;
            }
            case 138: {
              // ldsxw
              const o = (regs[rb + s]! + off - BASE) | 0;
              if (regs[rb + s + 1] !== 0 || o >>> 0 >= cap || (P[o]! & P[o + 3]! & PERM_READ) === 0)
                throw self.wild(pc, rb, s, off, 4, PERM_READ);
              const v = dv.getInt32(o, true);
              regs[rb + d] = v;
              regs[rb + d + 1] = v >> 31;
              pc++;
              continue;
            }
            case 139: {
              // ldsxh
              const o = (regs[rb + s]! + off - BASE) | 0;
              if (regs[rb + s + 1] !== 0 || o >>> 0 >= cap || (P[o]! & P[o + 1]! & PERM_READ) === 0)
                throw self.wild(pc, rb, s, off, 2, PERM_READ);
              const v = dv.getInt16(o, true);
              regs[rb + d] = v;
              regs[rb + d + 1] = v >> 31;
              pc++;
              continue;
            }
            case 140: {
              // ldsxb
              const o = (regs[rb + s]! + off - BASE) | 0;
              if (regs[rb + s + 1] !== 0 || o >>> 0 >= cap || (P[o]! & PERM_READ) === 0)
                throw self.wild(pc, rb, s, off, 1, PERM_READ);
              const v = (heap[o]! << 24) >> 24;
              regs[rb + d] = v;
              regs[rb + d + 1] = v >> 31;
              pc++;
              continue;
            }
            case 141: {
              // stw
              const o = (regs[rb + d]! + off - BASE) | 0;
              if (regs[rb + d + 1] !== 0 || o >>> 0 >= cap || (P[o]! & P[o + 3]! & PERM_WRITE) === 0)
                throw self.wild(pc, rb, d, off, 4, PERM_WRITE);
              dv.setInt32(o, imm, true);
              pc++;
              continue;
            }
            case 142: {
              // sth
              const o = (regs[rb + d]! + off - BASE) | 0;
              if (regs[rb + d + 1] !== 0 || o >>> 0 >= cap || (P[o]! & P[o + 1]! & PERM_WRITE) === 0)
                throw self.wild(pc, rb, d, off, 2, PERM_WRITE);
              dv.setInt16(o, imm, true);
              pc++;
              continue;
            }
            case 143: {
              // stb
              const o = (regs[rb + d]! + off - BASE) | 0;
              if (regs[rb + d + 1] !== 0 || o >>> 0 >= cap || (P[o]! & PERM_WRITE) === 0)
                throw self.wild(pc, rb, d, off, 1, PERM_WRITE);
              heap[o] = imm;
              pc++;
              continue;
            }
            case 144: {
              // stdw
              const o = (regs[rb + d]! + off - BASE) | 0;
              if (regs[rb + d + 1] !== 0 || o >>> 0 >= cap || (P[o]! & P[o + 7]! & PERM_WRITE) === 0)
                throw self.wild(pc, rb, d, off, 8, PERM_WRITE);
              dv.setInt32(o, imm, true);
              dv.setInt32(o + 4, imm >> 31, true);
              pc++;
              continue;
            }
            case 145: {
              // stxw
              const o = (regs[rb + d]! + off - BASE) | 0;
              if (regs[rb + d + 1] !== 0 || o >>> 0 >= cap || (P[o]! & P[o + 3]! & PERM_WRITE) === 0)
                throw self.wild(pc, rb, d, off, 4, PERM_WRITE);
              dv.setInt32(o, regs[rb + s]!, true);
              pc++;
              continue;
            }
            case 146: {
              // stxh
              const o = (regs[rb + d]! + off - BASE) | 0;
              if (regs[rb + d + 1] !== 0 || o >>> 0 >= cap || (P[o]! & P[o + 1]! & PERM_WRITE) === 0)
                throw self.wild(pc, rb, d, off, 2, PERM_WRITE);
              dv.setInt16(o, regs[rb + s]!, true);
              pc++;
              continue;
            }
            case 147: {
              // stxb
              const o = (regs[rb + d]! + off - BASE) | 0;
              if (regs[rb + d + 1] !== 0 || o >>> 0 >= cap || (P[o]! & PERM_WRITE) === 0)
                throw self.wild(pc, rb, d, off, 1, PERM_WRITE);
              heap[o] = regs[rb + s]!;
              pc++;
              continue;
            }
            case 148: {
              // stxdw
              const o = (regs[rb + d]! + off - BASE) | 0;
              if (regs[rb + d + 1] !== 0 || o >>> 0 >= cap || (P[o]! & P[o + 7]! & PERM_WRITE) === 0)
                throw self.wild(pc, rb, d, off, 8, PERM_WRITE);
              dv.setInt32(o, regs[rb + s]!, true);
              dv.setInt32(o + 4, regs[rb + s + 1]!, true);
              pc++;
              continue;
            }
            case 151: // end of program
              throw fault(self.code, "bad-program", pc, "execution ran off the end of the program");
            case 152: // the budget trap (`arm`)
              self.disarm();
              self.budget = 0;
              throw fault(self.code, "budget", pc, "instruction budget exhausted (an unbounded loop?)");
            case 153: {
              // lsh64 by 1..31
              const l = regs[rb + d]!;
              regs[rb + d + 1] = (regs[rb + d + 1]! << imm) | (l >>> (32 - imm));
              regs[rb + d] = l << imm;
              pc++;
              continue;
            }
            case 154: // lsh64 by 32..63
              regs[rb + d + 1] = regs[rb + d]! << imm;
              regs[rb + d] = 0;
              pc++;
              continue;
            case 155: {
              // rsh64 by 1..31
              const h = regs[rb + d + 1]!;
              regs[rb + d] = (regs[rb + d]! >>> imm) | (h << (32 - imm));
              regs[rb + d + 1] = h >>> imm;
              pc++;
              continue;
            }
            case 156: // rsh64 by 32..63
              regs[rb + d] = regs[rb + d + 1]! >>> imm;
              regs[rb + d + 1] = 0;
              pc++;
              continue;
            case 157: {
              // arsh64 by 1..31
              const h = regs[rb + d + 1]!;
              regs[rb + d] = (regs[rb + d]! >>> imm) | (h << (32 - imm));
              regs[rb + d + 1] = h >> imm;
              pc++;
              continue;
            }
            case 158: {
              // arsh64 by 32..63
              const h = regs[rb + d + 1]!;
              regs[rb + d] = h >> imm;
              regs[rb + d + 1] = h >> 31;
              pc++;
              continue;
            }
            // the operations that call out (helpers, calls, BigInt division, atomics): in the outer loop
            case 6:
            case 7:
            case 18:
            case 19:
            case 26:
            case 27:
            case 28:
            case 29:
            case 90:
            case 91:
            case 102:
            case 103:
            case 149:
            case 150:
              break inner;
            default:
              throw fault(self.code, "bad-program", pc, `internal error: no case ${w & 0xff}`);
          }
          pc++;
          budget -= L[pc]!;
          if (budget < 0) break;
        }
        // left the hot loop: a run to charge that the budget does not cover, or an operation that calls out
        if (budget < 0) {
          budget = self.arm(pc, budget + L[pc]!);
          continue;
        }
        const w = I[pc << 1]!;
        const imm = I[(pc << 1) | 1]!;
        const d = (w >> 7) & 0x1e;
        const s = (w >> 11) & 0x1e;
        const off = w >> 16;
        switch (w & 0xff) {
          case 6: // div64 k
          case 7: // div64 x
          case 18: // mod64 k
          case 19: // mod64 x
          case 26: // sdiv64 k
          case 27: // sdiv64 x
          case 28: // smod64 k
          case 29: {
            // smod64 x; the register forms are the odd cases
            const c = w & 0xff;
            const x = (c & 1) !== 0;
            const f = c < 8 ? udiv64 : c < 20 ? umod64 : c < 28 ? sdiv64 : smod64;
            const lo = f(
              regs[rb + d]!,
              regs[rb + d + 1]!,
              x ? regs[rb + s]! : imm,
              x ? regs[rb + s + 1]! : imm >> 31,
            );
            regs[rb + d] = lo;
            regs[rb + d + 1] = OUT[0]!;
            pc++;
            continue;
          }
          case 90: // call (helper)
            self.budget = budget;
            self.callNative(pc, rb, w, imm, false, false);
            budget = self.budget;
            break;
          case 91: // callx
            self.budget = budget;
            self.callNative(pc, rb, w, imm, false, true);
            budget = self.budget;
            break;
          case 102: // kfunc call
            self.budget = budget;
            self.callNative(pc, rb, w, imm, true, false);
            budget = self.budget;
            break;
          case 103: {
            // local call
            self.budget = budget;
            const rb2 = self.base + FRAME * (self.depth + 1);
            regs.fill(0, rb2, rb2 + FRAME);
            regs.copyWithin(rb2 + 2, rb + 2, rb + 12);
            regs[rb + 0] = self.enter(pc + imm + 1, rb2, pc);
            regs[rb + 1] = OUT[0]!;
            budget = self.budget;
            break;
          }
          case 149: // atomic32
            self.atomic32(pc, rb, d, s, off, imm);
            pc++;
            continue;
          case 150: // atomic64
            self.atomic64(pc, rb, d, s, off, imm);
            pc++;
            continue;
          default:
            throw fault(self.code, "bad-program", pc, `internal error: no case ${w & 0xff}`);
        }
        pc++;
        budget -= L[pc]!;
        if (budget < 0) budget = self.arm(pc, budget + L[pc]!);
      }
    };
  }
}
