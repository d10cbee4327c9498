import * as asm from "../asm/index.ts";
import type { Code } from "./code.ts";
import type { Shape } from "./structure.ts";

/** A basic block of one function as the Wasm JIT emits it (wasm.ts). */
export interface BasicBlock {
  readonly start: number;
  /** The instructions, the conditional jump that ends a "cond" block included (not a goto or exit). */
  readonly pcs: number[];
  end: "exit" | "goto" | "fall" | "cond" | "off";
  /** goto/fall: the next block; cond: the jump's target, then the fall-through. */
  readonly succs: number[];
}

/**
 * A loop of one block (plus, at most, an empty block that jumps back) whose trip count is known when it is
 * entered: a register stepped by ±1 once per iteration, no calls, and a single exit, the unsigned compare of
 * that register with an immediate or a register the loop does not write. Its header then runs
 * N times, N computed from the entry's counter and bound (`FnGen.countedEntry` in wasm.ts: "ne" steps
 * through every value, so it takes (bound - counter)·step; "lt"/"gt" take bound - counter (counter - bound)
 * when the counter starts below (above) the bound), so the budget that charging each iteration takes can be
 * taken once at the entry.
 */
export interface CountedLoop {
  readonly counter: number;
  readonly step: 1 | -1;
  /** The loop goes on while `counter <cont> bound` (unsigned) holds after the step. */
  readonly cont: "ne" | "lt" | "gt";
  readonly bound: { readonly reg: number } | { readonly imm: number };
}

/** Whether instruction `pc` writes register `r` (a call writes r0..r5). */
export function writesReg(c: Code, pc: number, r: number): boolean {
  const op = c.op[pc]!;
  const cls = asm.opClass(op);
  if (asm.isAluClass(cls) || cls === asm.BPF_CLASS.LDX || op === asm.BPF_INSN.LD_IMM64)
    return c.dst[pc] === r;
  if (op === asm.BPF_INSN.CALL || op === asm.BPF_INSN.CALLX) return r <= 5;
  if (cls === asm.BPF_CLASS.STX && asm.opMode(op) === asm.BPF_MODE.ATOMIC) {
    if (c.imm[pc] === asm.BPF_ATOMIC.CMPXCHG) return r === 0;
    return (c.imm[pc]! & asm.BPF_ATOMIC.FETCH) !== 0 && c.src[pc] === r;
  }
  return false;
}

const NEGATE: Record<number, number> = {
  [asm.BPF_JMP_OP.JEQ]: asm.BPF_JMP_OP.JNE,
  [asm.BPF_JMP_OP.JNE]: asm.BPF_JMP_OP.JEQ,
  [asm.BPF_JMP_OP.JLT]: asm.BPF_JMP_OP.JGE,
  [asm.BPF_JMP_OP.JGE]: asm.BPF_JMP_OP.JLT,
  [asm.BPF_JMP_OP.JGT]: asm.BPF_JMP_OP.JLE,
  [asm.BPF_JMP_OP.JLE]: asm.BPF_JMP_OP.JGT,
};

/**
 * Block `x` as a counted loop, or undefined. `x` must be a loop header whose back edges come only from
 * itself or from one empty goto block `g` (its only predecessor being x); `charged(b)` says whether block b's
 * code charges the budget (only x may, in the loop).
 */
export function countedLoop(
  c: Code,
  blocks: readonly BasicBlock[],
  shape: Shape,
  x: number,
  charged: (b: number) => boolean,
): CountedLoop | undefined {
  const h = blocks[x]!;
  if (x === 0 || !shape.loopHeader[x] || h.end !== "cond") return undefined;
  const [t, f] = h.succs as [number, number];
  const backVia = (s: number): boolean => {
    if (s === x) return true;
    const g = blocks[s]!;
    if (g.end !== "goto" || g.pcs.length !== 0 || g.succs[0] !== x || charged(s)) return false;
    return blocks.every((b, i) => i === x || !b.succs.includes(s));
  };
  const takenLoops = backVia(t);
  if (takenLoops === backVia(f)) return undefined;
  const inLoop = new Set([x, takenLoops ? t : f]);
  // no other way back into x
  for (let b = 0; b < blocks.length; b++)
    if (!inLoop.has(b) && shape.rpo[b]! >= shape.rpo[x]! && blocks[b]!.succs.includes(x)) return undefined;
  const jmp = h.pcs[h.pcs.length - 1]!;
  const op = c.op[jmp]!;
  if (asm.opClass(op) !== asm.BPF_CLASS.JMP) return undefined;
  const jop = takenLoops ? asm.opOp(op) : NEGATE[asm.opOp(op)];
  const cont =
    jop === asm.BPF_JMP_OP.JNE
      ? "ne"
      : jop === asm.BPF_JMP_OP.JLT
        ? "lt"
        : jop === asm.BPF_JMP_OP.JGT
          ? "gt"
          : undefined;
  if (!cont) return undefined;
  const counter = c.dst[jmp]!;
  const byReg = asm.opSrc(op) === asm.BPF_SRC.X;
  const bound = byReg ? { reg: c.src[jmp]! } : { imm: c.imm[jmp]! };
  if (byReg && c.src[jmp] === counter) return undefined;
  let step: 1 | -1 | undefined;
  for (const pc of h.pcs.slice(0, -1)) {
    const o = c.op[pc]!;
    if (o === asm.BPF_INSN.CALL || o === asm.BPF_INSN.CALLX) return undefined;
    if ("reg" in bound && writesReg(c, pc, bound.reg)) return undefined;
    if (!writesReg(c, pc, counter)) continue;
    if (step !== undefined) return undefined;
    const imm = c.imm[pc]!;
    const add = asm.BPF_CLASS.ALU64 | asm.BPF_SRC.K | asm.BPF_ALU_OP.ADD;
    const sub = asm.BPF_CLASS.ALU64 | asm.BPF_SRC.K | asm.BPF_ALU_OP.SUB;
    if ((o === add && imm === 1) || (o === sub && imm === -1)) step = 1;
    else if ((o === add && imm === -1) || (o === sub && imm === 1)) step = -1;
    else return undefined;
  }
  if (step === undefined) return undefined;
  if ((cont === "lt" && step !== 1) || (cont === "gt" && step !== -1)) return undefined;
  return { counter, step, cont, bound };
}
