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

/** Memory access sizes. */
export const BPF_SIZE = { W: 0x00, H: 0x08, B: 0x10, DW: 0x18 } as const;
export type Size = keyof typeof BPF_SIZE;

/** Load/store modes. */
export const BPF_MODE = { IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, ATOMIC: 0xc0 } as const;

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
  /** `exit` (BPF_JMP | BPF_EXIT) */
  EXIT: BPF_CLASS.JMP | BPF_JMP_OP.EXIT,
  /** the first half of `ld_imm64` (BPF_LD | BPF_IMM | BPF_DW) */
  LD_IMM64: BPF_CLASS.LD | BPF_MODE.IMM | BPF_SIZE.DW,
} as const;

export const INSN_SIZE = BPF_INSN.SIZE;
