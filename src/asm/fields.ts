/**
 * The opcode byte's fields, for code that dispatches on decoded instructions (src/uvm's engines). Each
 * returns the field in place (not shifted), so it compares equal to the constants in opcodes.ts.
 */
import { BPF_CLASS, BPF_MASK, BPF_SIZE_BYTES } from "./opcodes.ts";

/** BPF_CLASS.* */
export const opClass = (code: number): number => code & BPF_MASK.CLASS;
/** BPF_SRC.K or BPF_SRC.X (for BPF_END: BPF_END.TO_LE / TO_BE) */
export const opSrc = (code: number): number => code & BPF_MASK.SRC;
/** BPF_ALU_OP.* or BPF_JMP_OP.* */
export const opOp = (code: number): number => code & BPF_MASK.OP;
/** BPF_SIZE.* */
export const opSize = (code: number): number => code & BPF_MASK.SIZE;
/** BPF_MODE.* */
export const opMode = (code: number): number => code & BPF_MASK.MODE;
/** The access width in bytes of a load/store opcode. */
export const opBytes = (code: number): 1 | 2 | 4 | 8 => BPF_SIZE_BYTES[code & BPF_MASK.SIZE]!;

export const isAluClass = (cls: number): boolean => cls === BPF_CLASS.ALU || cls === BPF_CLASS.ALU64;
export const isJmpClass = (cls: number): boolean => cls === BPF_CLASS.JMP || cls === BPF_CLASS.JMP32;
