import * as asm from "../asm/index.ts";
import type { Code } from "./code.ts";
import { type BasicBlock, writesReg } from "./loops.ts";
import type { Shape } from "./structure.ts";

/**
 * Which accesses of a loop need no check once one test at its header has passed: a register `base`
 * and the bytes [base + lo, base + hi) that every access in `pcs` lies in, whatever path an iteration takes
 * (the code the header dominates, up to the next entry into the header). When that range lies inside the
 * window (Env.window: readable and writable for the engine's life), each of those accesses would pass its
 * exact check, so the Wasm JIT emits the loop twice: without their checks, and as it is, and picks one per
 * iteration (wasm.ts, FnGen.structured).
 */
export interface WindowPlan {
  readonly base: number;
  readonly lo: number;
  readonly hi: number;
  readonly pcs: ReadonlySet<number>;
}

/** A register's value, as the analysis knows it: base + [lo, hi], an unsigned number in [lo, hi], or not. */
type Val = { readonly k: "top" } | { readonly k: "num" | "base"; readonly lo: number; readonly hi: number };
const TOP: Val = { k: "top" };
/** Bounds stay exact in doubles and far from any wrap of the 64-bit arithmetic. */
const LIMIT = 2 ** 40;

function num(lo: number, hi: number): Val {
  return lo >= 0 && hi < LIMIT && lo <= hi ? { k: "num", lo, hi } : TOP;
}
function based(lo: number, hi: number): Val {
  return Math.abs(lo) < LIMIT && Math.abs(hi) < LIMIT ? { k: "base", lo, hi } : TOP;
}
function join(a: Val, b: Val): Val {
  if (a.k === "top" || b.k === "top" || a.k !== b.k) return TOP;
  return a.k === "num"
    ? num(Math.min(a.lo, b.lo), Math.max(a.hi, b.hi))
    : based(Math.min(a.lo, b.lo), Math.max(a.hi, b.hi));
}
/** [0, 2^bits - 1] for the smallest bits covering hi (an OR's bound). */
function upTo(hi: number): Val {
  let m = 1;
  while (m <= hi) m *= 2;
  return num(0, m - 1);
}

/** The value `op` leaves in its destination, from the destination's `d` and the source operand's `s`. */
function alu(op: number, d: Val, s: Val, wide: boolean): Val {
  const sub = asm.opOp(op);
  // a 32-bit operation reads the low halves: a number below 2^32 is its own low half
  const lowHalf = (v: Val): Val =>
    wide || (v.k === "num" && v.hi < 2 ** 32) ? v : v.k === "num" ? num(0, 2 ** 32 - 1) : TOP;
  const a = lowHalf(d);
  const b = lowHalf(s);
  const fits = (v: Val): Val => (wide || v.k !== "num" || v.hi < 2 ** 32 ? v : TOP);
  switch (sub) {
    case asm.BPF_ALU_OP.MOV:
      return b;
    case asm.BPF_ALU_OP.ADD:
      if (a.k === "num" && b.k === "num") return fits(num(a.lo + b.lo, a.hi + b.hi));
      if (wide && a.k === "base" && b.k === "num") return based(a.lo + b.lo, a.hi + b.hi);
      if (wide && a.k === "num" && b.k === "base") return based(a.lo + b.lo, a.hi + b.hi);
      return TOP;
    case asm.BPF_ALU_OP.SUB:
      if (a.k === "num" && b.k === "num") return num(a.lo - b.hi, a.hi - b.lo);
      if (wide && a.k === "base" && b.k === "num") return based(a.lo - b.hi, a.hi - b.lo);
      return TOP;
    case asm.BPF_ALU_OP.LSH:
      if (a.k === "num" && b.k === "num" && b.lo === b.hi && b.lo < 40)
        return fits(num(a.lo * 2 ** b.lo, a.hi * 2 ** b.lo));
      return TOP;
    case asm.BPF_ALU_OP.RSH:
      if (b.k === "num" && b.lo === b.hi && b.lo < (wide ? 64 : 32)) {
        const top = a.k === "num" ? a : wide ? undefined : num(0, 2 ** 32 - 1);
        if (top?.k === "num") return num(Math.floor(top.lo / 2 ** b.lo), Math.floor(top.hi / 2 ** b.lo));
      }
      return TOP;
    case asm.BPF_ALU_OP.AND: {
      const bound = Math.min(a.k === "num" ? a.hi : Infinity, b.k === "num" ? b.hi : Infinity);
      return bound === Infinity ? (wide ? TOP : num(0, 2 ** 32 - 1)) : num(0, bound);
    }
    case asm.BPF_ALU_OP.OR:
    case asm.BPF_ALU_OP.XOR:
      if (a.k === "num" && b.k === "num") return upTo(Math.max(a.hi, b.hi));
      return wide ? TOP : num(0, 2 ** 32 - 1);
    default:
      return wide ? TOP : num(0, 2 ** 32 - 1);
  }
}

/** The operand an instruction's K form carries: the immediate, sign-extended to 64 bits (or its low 32). */
function immVal(imm: number, wide: boolean): Val {
  return wide ? (imm >= 0 ? num(imm, imm) : TOP) : num(imm >>> 0, imm >>> 0);
}

/**
 * The plan for loop header `x` (shape.loopHeader), or undefined: tries each register as the base and keeps
 * the one that covers the most accesses, at least two, within `maxSpan` bytes. Only a header whose
 * dominator subtree holds no other loop is planned (one pass in reverse postorder is then exact).
 */
export function windowPlan(
  c: Code,
  blocks: readonly BasicBlock[],
  shape: Shape,
  x: number,
  maxSpan: number,
): WindowPlan | undefined {
  const region: number[] = [];
  const walk = (b: number): void => {
    region.push(b);
    for (const y of shape.children[b]!) walk(y);
  };
  walk(x);
  if (region.some((b) => b !== x && shape.loopHeader[b])) return undefined;
  region.sort((a, b) => shape.rpo[a]! - shape.rpo[b]!);
  const inRegion = new Set(region);
  let best: WindowPlan | undefined;
  for (let base = 0; base < 10; base++) {
    const plan = planFor(c, blocks, region, inRegion, x, base);
    if (plan && plan.hi - plan.lo <= maxSpan && plan.pcs.size >= 2 && plan.pcs.size > (best?.pcs.size ?? 0))
      best = plan;
  }
  return best;
}

function planFor(
  c: Code,
  blocks: readonly BasicBlock[],
  region: number[],
  inRegion: Set<number>,
  x: number,
  base: number,
): WindowPlan | undefined {
  const states = new Map<number, Val[]>();
  const start: Val[] = Array.from({ length: 11 }, () => TOP);
  start[base] = based(0, 0);
  states.set(x, start);
  const pcs = new Set<number>();
  let lo = Infinity;
  let hi = -Infinity;
  for (const b of region) {
    const r = states.get(b);
    if (!r) continue;
    const regs = [...r];
    for (const pc of blocks[b]!.pcs) {
      const op = c.op[pc]!;
      const cls = asm.opClass(op);
      const mode = asm.opMode(op);
      const access = (reg: number) => {
        const v = regs[reg]!;
        if (v.k !== "base") return;
        pcs.add(pc);
        lo = Math.min(lo, v.lo + c.off[pc]!);
        hi = Math.max(hi, v.hi + c.off[pc]! + asm.opBytes(op));
      };
      if (cls === asm.BPF_CLASS.LDX && (mode === asm.BPF_MODE.MEM || mode === asm.BPF_MODE.MEMSX)) {
        access(c.src[pc]!);
        const n = asm.opBytes(op);
        regs[c.dst[pc]!] = mode === asm.BPF_MODE.MEM && n < 8 ? num(0, 2 ** (8 * n) - 1) : TOP;
        continue;
      }
      if ((cls === asm.BPF_CLASS.ST || cls === asm.BPF_CLASS.STX) && mode === asm.BPF_MODE.MEM) {
        access(c.dst[pc]!);
        continue;
      }
      if (asm.isAluClass(cls)) {
        const wide = cls === asm.BPF_CLASS.ALU64;
        const sub = asm.opOp(op);
        const d = c.dst[pc]!;
        const s = asm.opSrc(op) === asm.BPF_SRC.X ? regs[c.src[pc]!]! : immVal(c.imm[pc]!, wide);
        const plain =
          sub === asm.BPF_ALU_OP.MOV
            ? c.off[pc] === 0
            : sub !== asm.BPF_ALU_OP.END && sub !== asm.BPF_ALU_OP.NEG;
        regs[d] = plain ? alu(op, regs[d]!, s, wide) : TOP;
        continue;
      }
      if (op === asm.BPF_INSN.LD_IMM64) {
        const v = (BigInt(c.imm[pc + 1]!) << 32n) | BigInt(c.imm[pc]! >>> 0);
        regs[c.dst[pc]!] = c.src[pc] === 0 && v < BigInt(LIMIT) ? num(Number(v), Number(v)) : TOP;
        continue;
      }
      for (let reg = 0; reg <= 10; reg++) if (writesReg(c, pc, reg)) regs[reg] = TOP;
    }
    for (const s of blocks[b]!.succs) {
      if (s === x || !inRegion.has(s)) continue;
      const had = states.get(s);
      states.set(s, had ? had.map((v, i) => join(v, regs[i]!)) : [...regs]);
    }
  }
  return pcs.size ? { base, lo, hi, pcs } : undefined;
}
