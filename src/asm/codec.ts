/** The one encoder/decoder of 8-byte eBPF instructions, and a field view for patching them in place. */
import type { Insn } from "./insn.ts";
import { BPF_INSN, INSN_SIZE } from "./opcodes.ts";

/**
 * Field access on an instruction buffer in either byte order. The register byte holds dst in the low
 * nibble and src in the high one on little-endian, the other way round on big-endian.
 */
export class Insns {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly littleEndian: boolean;
  constructor(bytes: Uint8Array, littleEndian = true) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.littleEndian = littleEndian;
  }
  get count(): number {
    return Math.floor(this.bytes.byteLength / INSN_SIZE);
  }
  code(i: number): number {
    return this.bytes[i * INSN_SIZE]!;
  }
  setCode(i: number, c: number): void {
    this.bytes[i * INSN_SIZE] = c;
  }
  dst(i: number): number {
    const b = this.bytes[i * INSN_SIZE + 1]!;
    return this.littleEndian ? b & 0xf : b >> 4;
  }
  src(i: number): number {
    const b = this.bytes[i * INSN_SIZE + 1]!;
    return this.littleEndian ? b >> 4 : b & 0xf;
  }
  setRegs(i: number, dst: number, src: number): void {
    this.bytes[i * INSN_SIZE + 1] = this.littleEndian
      ? ((src & 0xf) << 4) | (dst & 0xf)
      : ((dst & 0xf) << 4) | (src & 0xf);
  }
  setSrc(i: number, src: number): void {
    this.setRegs(i, this.dst(i), src);
  }
  off(i: number): number {
    return this.view.getInt16(i * INSN_SIZE + 2, this.littleEndian);
  }
  setOff(i: number, v: number): void {
    this.view.setInt16(i * INSN_SIZE + 2, v, this.littleEndian);
  }
  imm(i: number): number {
    return this.view.getInt32(i * INSN_SIZE + 4, this.littleEndian);
  }
  setImm(i: number, v: number): void {
    this.view.setInt32(i * INSN_SIZE + 4, v | 0, this.littleEndian);
  }
  isLdImm64(i: number): boolean {
    return this.code(i) === BPF_INSN.LD_IMM64;
  }
  isCall(i: number): boolean {
    return this.code(i) === BPF_INSN.CALL;
  }
  /** Instruction `i` as an `Insn`. */
  at(i: number): Insn {
    return { code: this.code(i), dst: this.dst(i), src: this.src(i), off: this.off(i), imm: this.imm(i) };
  }
  /** Writes `insn` into slot `i`. */
  set(i: number, insn: Insn): void {
    this.setCode(i, insn.code);
    this.setRegs(i, insn.dst, insn.src);
    this.setOff(i, insn.off);
    this.setImm(i, insn.imm);
  }
}

export type InsnInput = Insn | readonly Insn[];

/** Encodes instructions (an `ldImm64` pair may be passed as one array element) into 8-byte slots. */
export function encodeInsns(insns: readonly InsnInput[], littleEndian = true): Uint8Array {
  const flat = insns.flat() as Insn[];
  const out = new Insns(new Uint8Array(flat.length * INSN_SIZE), littleEndian);
  for (const [i, x] of flat.entries()) out.set(i, x);
  return out.bytes;
}

/** Decodes every 8-byte slot (an ld_imm64 gives two `Insn`s, as encoded). */
export function decodeInsns(bytes: Uint8Array, littleEndian = true): Insn[] {
  const v = new Insns(bytes, littleEndian);
  return Array.from({ length: v.count }, (_, i) => v.at(i));
}

/** A tiny program builder: `new Asm().add(movImm(0, 0), exit()).bytes()`. */
export class Asm {
  readonly #insns: Insn[] = [];
  /** Appends instructions; returns this. */
  add(...insns: InsnInput[]): this {
    for (const x of insns) this.#insns.push(...(Array.isArray(x) ? x : [x as Insn]));
    return this;
  }
  /** The index the next instruction gets (for jump offsets: `target - (from + 1)`). */
  get length(): number {
    return this.#insns.length;
  }
  insns(): readonly Insn[] {
    return this.#insns;
  }
  bytes(littleEndian = true): Uint8Array {
    return encodeInsns(this.#insns, littleEndian);
  }
}
