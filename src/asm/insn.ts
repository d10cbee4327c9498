/**
 * Typed constructors of eBPF instructions. An `Insn` is one 8-byte slot; `ld_imm64` takes two (the second
 * has opcode 0 and carries the upper 32 bits of the immediate in its imm).
 */
import {
  type AluOp,
  BPF_ALU_OP,
  BPF_CLASS,
  BPF_INSN,
  BPF_JMP_OP,
  BPF_MODE,
  BPF_PSEUDO,
  BPF_SIZE,
  BPF_SRC,
  type JmpOp,
  type Size,
} from "./opcodes.ts";

export interface Insn {
  /** the opcode byte */
  readonly code: number;
  /** dst_reg, 0..10 */
  readonly dst: number;
  /** src_reg, 0..10, or a BPF_PSEUDO_* value */
  readonly src: number;
  /** signed 16-bit offset */
  readonly off: number;
  /** signed 32-bit immediate */
  readonly imm: number;
}

/** Registers r0..r10 (r10 is the read-only frame pointer). */
export type Reg = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

export function insn(code: number, dst = 0, src = 0, off = 0, imm = 0): Insn {
  return { code, dst, src, off, imm: imm | 0 };
}

export function aluImm(op: AluOp, dst: Reg, imm: number, wide = true): Insn {
  return insn((wide ? BPF_CLASS.ALU64 : BPF_CLASS.ALU) | BPF_ALU_OP[op] | BPF_SRC.K, dst, 0, 0, imm);
}
export function aluReg(op: AluOp, dst: Reg, src: Reg, wide = true): Insn {
  return insn((wide ? BPF_CLASS.ALU64 : BPF_CLASS.ALU) | BPF_ALU_OP[op] | BPF_SRC.X, dst, src);
}
/** `dst = imm` (64-bit, the immediate sign-extended) */
export const movImm = (dst: Reg, imm: number): Insn => aluImm("MOV", dst, imm);
/** `dst = src` (64-bit) */
export const movReg = (dst: Reg, src: Reg): Insn => aluReg("MOV", dst, src);
/** `w<dst> = imm` (32-bit, upper half zeroed) */
export const mov32Imm = (dst: Reg, imm: number): Insn => aluImm("MOV", dst, imm, false);
/** `w<dst> = w<src>` */
export const mov32Reg = (dst: Reg, src: Reg): Insn => aluReg("MOV", dst, src, false);

/** `if dst <op> imm goto +off` (64-bit compare; `wide = false` for JMP32) */
export function jmpImm(op: JmpOp, dst: Reg, imm: number, off: number, wide = true): Insn {
  return insn((wide ? BPF_CLASS.JMP : BPF_CLASS.JMP32) | BPF_JMP_OP[op] | BPF_SRC.K, dst, 0, off, imm);
}
/** `if dst <op> src goto +off` */
export function jmpReg(op: JmpOp, dst: Reg, src: Reg, off: number, wide = true): Insn {
  return insn((wide ? BPF_CLASS.JMP : BPF_CLASS.JMP32) | BPF_JMP_OP[op] | BPF_SRC.X, dst, src, off);
}
/** `goto +off` */
export const ja = (off: number): Insn => insn(BPF_CLASS.JMP | BPF_JMP_OP.JA, 0, 0, off);

/** `call` a helper by its number (BPF_FUNC_*) */
export const callHelper = (id: number): Insn => insn(BPF_INSN.CALL, 0, 0, 0, id);
/** `call` a kfunc by BTF id; `fdSlot` is its module BTF's fd_array index (0: vmlinux) */
export const callKfunc = (btfId: number, fdSlot = 0): Insn =>
  insn(BPF_INSN.CALL, 0, BPF_PSEUDO.KFUNC_CALL, fdSlot, btfId);
/** bpf-to-bpf `call`: `imm` is the target's instruction offset from the next instruction */
export const callLocal = (imm: number): Insn => insn(BPF_INSN.CALL, 0, BPF_PSEUDO.CALL, 0, imm);
export const exit = (): Insn => insn(BPF_INSN.EXIT);

/** `dst = imm64` (two slots); `src` is a BPF_PSEUDO_* kind (map fd, map value, BTF id…) or 0 */
export function ldImm64(dst: Reg, imm: bigint | number, src = 0): [Insn, Insn] {
  const v = BigInt.asUintN(64, BigInt(imm));
  const lo = Number(BigInt.asIntN(32, v));
  const hi = Number(BigInt.asIntN(32, v >> 32n));
  return [insn(BPF_INSN.LD_IMM64, dst, src, 0, lo), insn(0, 0, 0, 0, hi)];
}
/** `dst = map` by fd (BPF_PSEUDO_MAP_FD) */
export const ldMapFd = (dst: Reg, fd: number): [Insn, Insn] => ldImm64(dst, fd, BPF_PSEUDO.MAP_FD);

/** `dst = *(size *)(src + off)` */
export const ldx = (size: Size, dst: Reg, src: Reg, off: number): Insn =>
  insn(BPF_CLASS.LDX | BPF_MODE.MEM | BPF_SIZE[size], dst, src, off);
/** `*(size *)(dst + off) = src` */
export const stx = (size: Size, dst: Reg, src: Reg, off: number): Insn =>
  insn(BPF_CLASS.STX | BPF_MODE.MEM | BPF_SIZE[size], dst, src, off);
/** `*(size *)(dst + off) = imm` */
export const st = (size: Size, dst: Reg, off: number, imm: number): Insn =>
  insn(BPF_CLASS.ST | BPF_MODE.MEM | BPF_SIZE[size], dst, 0, off, imm);
