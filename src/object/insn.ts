/** Reading and patching 8-byte eBPF instructions in either byte order. */
export const INSN_SIZE = 8;

export interface InsnView {
  readonly bytes: Uint8Array;
  readonly littleEndian: boolean;
}

export function insnCode(v: InsnView, i: number): number {
  return v.bytes[i * INSN_SIZE]!;
}

/** src_reg: the high nibble of byte 1 on little-endian, the low nibble on big-endian. */
export function insnSrcReg(v: InsnView, i: number): number {
  const b = v.bytes[i * INSN_SIZE + 1]!;
  return v.littleEndian ? b >> 4 : b & 0xf;
}

export function setInsnSrcReg(v: InsnView, i: number, reg: number): void {
  const o = i * INSN_SIZE + 1;
  const b = v.bytes[o]!;
  v.bytes[o] = v.littleEndian ? (b & 0x0f) | (reg << 4) : (b & 0xf0) | reg;
}

function view(v: InsnView): DataView {
  return new DataView(v.bytes.buffer, v.bytes.byteOffset, v.bytes.byteLength);
}

export function insnImm(v: InsnView, i: number): number {
  return view(v).getInt32(i * INSN_SIZE + 4, v.littleEndian);
}

export function setInsnImm(v: InsnView, i: number, imm: number): void {
  view(v).setInt32(i * INSN_SIZE + 4, imm, v.littleEndian);
}
