import {
  BPF_ALU_OP,
  BPF_ATOMIC,
  BPF_CLASS,
  BPF_END,
  BPF_END_BITS,
  BPF_INSN,
  BPF_JMP_OP,
  BPF_MODE,
  BPF_MOVSX_BITS,
  BPF_OFF_SIGNED,
  BPF_PSEUDO,
  BPF_SIZE,
  BPF_SRC,
  INSN_SIZE,
  type Insn,
  Insns,
  isAluClass,
  isJmpClass,
  opClass,
  opMode,
  opOp,
} from "../asm/index.ts";
import { UvmFault } from "./fault.ts";

/**
 * A program's instructions decoded into parallel arrays (what both engines execute), validated once:
 * every opcode known, every jump and local call inside the program, every lddw complete. By the time a
 * program gets here the loader has rewritten lddw map/variable forms into plain 64-bit constants and kfunc
 * calls into indexes of the runtime's kfunc table.
 */
export interface Code {
  readonly name: string;
  readonly count: number;
  readonly op: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly off: Int16Array;
  readonly imm: Int32Array;
  /** The C source line of an instruction (from line_info), for faults. */
  readonly lineOf: (pc: number) => string | undefined;
}

/** Code addresses (lddw src=4, bpf_loop callbacks) are CODE_BASE + pc * 8: outside the heap. */
export const CODE_BASE = 0x60000000;

/** Every opcode the engines run: RFC 9669 without the legacy packet loads (BPF_ABS/BPF_IND). */
const VALID = new Set<number>();
for (const cls of [BPF_CLASS.ALU, BPF_CLASS.ALU64]) {
  for (const op of Object.values(BPF_ALU_OP)) {
    if (op === BPF_ALU_OP.END) continue;
    VALID.add(cls | op | BPF_SRC.K);
    if (op !== BPF_ALU_OP.NEG) VALID.add(cls | op | BPF_SRC.X);
  }
}
VALID.add(BPF_CLASS.ALU | BPF_ALU_OP.END | BPF_END.TO_LE);
VALID.add(BPF_CLASS.ALU | BPF_ALU_OP.END | BPF_END.TO_BE);
VALID.add(BPF_CLASS.ALU64 | BPF_ALU_OP.END | BPF_SRC.K); // bswap
for (const c of [BPF_INSN.JA, BPF_INSN.JA32, BPF_INSN.CALL, BPF_INSN.CALLX, BPF_INSN.EXIT, BPF_INSN.LD_IMM64])
  VALID.add(c);
for (const op of Object.values(BPF_JMP_OP)) {
  if (op === BPF_JMP_OP.JA || op === BPF_JMP_OP.CALL || op === BPF_JMP_OP.EXIT) continue;
  for (const cls of [BPF_CLASS.JMP, BPF_CLASS.JMP32]) {
    VALID.add(cls | op | BPF_SRC.K);
    VALID.add(cls | op | BPF_SRC.X);
  }
}
for (const size of Object.values(BPF_SIZE)) {
  VALID.add(BPF_CLASS.LDX | BPF_MODE.MEM | size);
  VALID.add(BPF_CLASS.ST | BPF_MODE.MEM | size);
  VALID.add(BPF_CLASS.STX | BPF_MODE.MEM | size);
  if (size !== BPF_SIZE.DW) VALID.add(BPF_CLASS.LDX | BPF_MODE.MEMSX | size);
}
VALID.add(BPF_CLASS.STX | BPF_MODE.ATOMIC | BPF_SIZE.W);
VALID.add(BPF_CLASS.STX | BPF_MODE.ATOMIC | BPF_SIZE.DW);
const ATOMIC_OPS = new Set<number>([BPF_ATOMIC.XCHG, BPF_ATOMIC.CMPXCHG]);
for (const op of [BPF_ATOMIC.ADD, BPF_ATOMIC.OR, BPF_ATOMIC.AND, BPF_ATOMIC.XOR]) {
  ATOMIC_OPS.add(op);
  ATOMIC_OPS.add(op | BPF_ATOMIC.FETCH);
}

function mnemonicOf(op: number): string {
  return `opcode 0x${op.toString(16).padStart(2, "0")}`;
}

export function decodeCode(
  bytes: Uint8Array,
  name: string,
  lineOf: (pc: number) => string | undefined = () => undefined,
): Code {
  if (bytes.byteLength % 8 !== 0)
    throw new UvmFault(
      "bad-program",
      name,
      0,
      `${bytes.byteLength} bytes is not a whole number of instructions`,
    );
  const count = bytes.byteLength / INSN_SIZE;
  if (count === 0) throw new UvmFault("bad-program", name, 0, "the program is empty");
  const insns = new Insns(bytes);
  const code: Code = {
    name,
    count,
    op: new Uint8Array(count),
    dst: new Uint8Array(count),
    src: new Uint8Array(count),
    off: new Int16Array(count),
    imm: new Int32Array(count),
    lineOf,
  };
  for (let i = 0; i < count; i++) {
    code.op[i] = insns.code(i);
    code.dst[i] = insns.dst(i);
    code.src[i] = insns.src(i);
    code.off[i] = insns.off(i);
    code.imm[i] = insns.imm(i);
  }
  validate(code);
  return code;
}

function validate(c: Code): void {
  const bad = (pc: number, what: string): never => {
    throw new UvmFault("bad-program", c.name, pc, what, c.lineOf(pc));
  };
  const second = new Uint8Array(c.count);
  for (let pc = 0; pc < c.count; pc++) {
    if (c.op[pc] === BPF_INSN.LD_IMM64) {
      if (pc + 1 >= c.count) bad(pc, "lddw without its second half");
      second[pc + 1] = 1;
      pc++;
    }
  }
  const target = (pc: number, t: number, what: string): void => {
    if (t < 0 || t >= c.count) bad(pc, `${what} target ${t} is outside the program (0..${c.count - 1})`);
    if (second[t]) bad(pc, `${what} target ${t} is the second half of an lddw`);
  };
  for (let pc = 0; pc < c.count; pc++) {
    const op = c.op[pc]!;
    if (!VALID.has(op)) bad(pc, `unknown ${mnemonicOf(op)}`);
    if (c.dst[pc]! > 10 || c.src[pc]! > 10) bad(pc, "register number above r10");
    const cls = opClass(op);
    if (op === BPF_INSN.LD_IMM64) {
      if (c.src[pc] !== 0 && c.src[pc] !== BPF_PSEUDO.FUNC)
        bad(pc, `lddw with src=${c.src[pc]} was not resolved by a loader (raw programs use src=0)`);
      if (c.src[pc] === BPF_PSEUDO.FUNC) target(pc, pc + c.imm[pc]! + 1, "code address");
      pc++;
      continue;
    }
    if (isAluClass(cls)) {
      const aop = opOp(op);
      if (
        (aop === BPF_ALU_OP.DIV || aop === BPF_ALU_OP.MOD) &&
        c.off[pc] !== 0 &&
        c.off[pc] !== BPF_OFF_SIGNED
      )
        bad(pc, "div/mod offset must be 0 or 1");
      if (aop === BPF_ALU_OP.MOV && c.off[pc] !== 0 && !BPF_MOVSX_BITS.includes(c.off[pc]!))
        bad(pc, "movsx offset must be 8, 16 or 32");
      if (aop === BPF_ALU_OP.END && !BPF_END_BITS.includes(c.imm[pc]!))
        bad(pc, "byte swap width must be 16, 32 or 64");
    } else if (isJmpClass(cls)) {
      if (op === BPF_INSN.EXIT || op === BPF_INSN.CALLX) continue;
      if (op === BPF_INSN.CALL) {
        if (c.src[pc] === BPF_PSEUDO.CALL) target(pc, pc + c.imm[pc]! + 1, "local call");
        else if (c.src[pc] !== 0 && c.src[pc] !== BPF_PSEUDO.KFUNC_CALL)
          bad(pc, `call with src=${c.src[pc]}`);
        continue;
      }
      target(pc, pc + jumpOffset(c, pc) + 1, "jump");
    } else if (opMode(op) === BPF_MODE.ATOMIC) {
      if (!ATOMIC_OPS.has(c.imm[pc]!)) bad(pc, `unknown atomic operation 0x${c.imm[pc]!.toString(16)}`);
    }
  }
}

/** Instruction `pc` as src/asm's `Insn` (for the JITs' code generators; the interpreter packs its own words). */
export function insnAt(c: Code, pc: number): Insn {
  return { code: c.op[pc]!, dst: c.dst[pc]!, src: c.src[pc]!, off: c.off[pc]!, imm: c.imm[pc]! };
}

/** A jump's offset: `off`, but `imm` for `gotol` (BPF_JMP32 | BPF_JA). */
export function jumpOffset(c: Code, pc: number): number {
  return c.op[pc] === BPF_INSN.JA32 ? c.imm[pc]! : c.off[pc]!;
}

/** A conditional or unconditional jump (not call, callx, exit). */
export function isJump(op: number): boolean {
  return isJmpClass(opClass(op)) && op !== BPF_INSN.CALL && op !== BPF_INSN.CALLX && op !== BPF_INSN.EXIT;
}
