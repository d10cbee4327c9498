/** eBPF opcode bits (include/uapi/linux/bpf_common.h and bpf.h). */

/** Instruction classes: the low 3 bits of the opcode. */
export const BPF_CLASS = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const;

/** Operand source of ALU/JMP: the immediate (K) or src_reg (X). */
export const BPF_SRC = { K: 0x00, X: 0x08 } as const;

/** ALU operations (the high 4 bits). */
export const BPF_ALU_OP = {
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  MOV: 0xb0,
  ARSH: 0xc0,
  END: 0xd0,
} as const;
export type AluOp = keyof typeof BPF_ALU_OP;

/** Jump operations (the high 4 bits). */
export const BPF_JMP_OP = {
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  CALL: 0x80,
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
} as const;
export type JmpOp = Exclude<keyof typeof BPF_JMP_OP, "CALL" | "EXIT">;
/** BPF_JCOND (6.9+): `may_goto`'s jump operation; not in BPF_JMP_OP, whose ops every engine implements. */
export const BPF_JCOND = 0xe0;

/** Memory access sizes. */
export const BPF_SIZE = { W: 0x00, H: 0x08, B: 0x10, DW: 0x18 } as const;
export type Size = keyof typeof BPF_SIZE;

/** Load/store modes. */
export const BPF_MODE = { IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, MEMSX: 0x80, ATOMIC: 0xc0 } as const;

/** Access width in bytes of each BPF_SIZE value. */
export const BPF_SIZE_BYTES: Readonly<Record<number, 1 | 2 | 4 | 8>> = {
  [BPF_SIZE.B]: 1,
  [BPF_SIZE.H]: 2,
  [BPF_SIZE.W]: 4,
  [BPF_SIZE.DW]: 8,
};

/** The imm of a BPF_ATOMIC store: an ALU op, optionally with FETCH; XCHG and CMPXCHG always fetch. */
export const BPF_ATOMIC = {
  ADD: BPF_ALU_OP.ADD,
  OR: BPF_ALU_OP.OR,
  AND: BPF_ALU_OP.AND,
  XOR: BPF_ALU_OP.XOR,
  FETCH: 0x01,
  XCHG: 0xe1,
  CMPXCHG: 0xf1,
} as const;

/** Byte-order conversion (BPF_ALU | BPF_END): the source bit says the target order. BPF_ALU64 | END is bswap. */
export const BPF_END = { TO_LE: 0x00, TO_BE: 0x08 } as const;

/** `off` of BPF_DIV/BPF_MOD: 1 is sdiv/smod. */
export const BPF_OFF_SIGNED = 1;
/** `off` of BPF_MOV: 0 is a plain move, 8/16/32 is movsx from that width. */
export const BPF_MOVSX_BITS: readonly number[] = [8, 16, 32];
/** `imm` of BPF_END: the width swapped or truncated. */
export const BPF_END_BITS: readonly number[] = [16, 32, 64];

/** The bit fields of the opcode byte. */
export const BPF_MASK = { CLASS: 0x07, SRC: 0x08, OP: 0xf0, SIZE: 0x18, MODE: 0xe0 } as const;

/** src_reg values of ld_imm64 and call with a special meaning. */
export const BPF_PSEUDO = {
  MAP_FD: 1,
  MAP_VALUE: 2,
  BTF_ID: 3,
  FUNC: 4,
  MAP_IDX: 5,
  MAP_IDX_VALUE: 6,
  /** call: src_reg 1 = bpf-to-bpf call, 2 = kfunc call */
  CALL: 1,
  KFUNC_CALL: 2,
} as const;

/** Whole opcodes the loader and the object parser name singly. */
export const BPF_INSN = {
  SIZE: 8,
  /** `call` (BPF_JMP | BPF_CALL) */
  CALL: BPF_CLASS.JMP | BPF_JMP_OP.CALL,
  /** `callx` a helper by register (BPF_JMP | BPF_CALL | BPF_X) */
  CALLX: BPF_CLASS.JMP | BPF_JMP_OP.CALL | BPF_SRC.X,
  /** `goto +off` (BPF_JMP | BPF_JA) */
  JA: BPF_CLASS.JMP | BPF_JMP_OP.JA,
  /** `gotol +imm` (BPF_JMP32 | BPF_JA: the offset is in imm) */
  JA32: BPF_CLASS.JMP32 | BPF_JMP_OP.JA,
  /** `may_goto +off` (BPF_JMP | BPF_JCOND | BPF_K, src_reg 0) */
  MAY_GOTO: BPF_CLASS.JMP | BPF_JCOND,
  /** `exit` (BPF_JMP | BPF_EXIT) */
  EXIT: BPF_CLASS.JMP | BPF_JMP_OP.EXIT,
  /** the first half of `ld_imm64` (BPF_LD | BPF_IMM | BPF_DW) */
  LD_IMM64: BPF_CLASS.LD | BPF_MODE.IMM | BPF_SIZE.DW,
} as const;

export const INSN_SIZE = BPF_INSN.SIZE;
