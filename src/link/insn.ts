/** Little-endian eBPF instruction field access on an instruction buffer (pure). */
export const INSN_SIZE = 8;

export class Insns {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get count(): number {
    return this.bytes.byteLength / INSN_SIZE;
  }
  code(i: number): number {
    return this.bytes[i * 8]!;
  }
  setCode(i: number, c: number): void {
    this.bytes[i * 8] = c;
  }
  dst(i: number): number {
    return this.bytes[i * 8 + 1]! & 0xf;
  }
  src(i: number): number {
    return this.bytes[i * 8 + 1]! >> 4;
  }
  setRegs(i: number, dst: number, src: number): void {
    this.bytes[i * 8 + 1] = ((src & 0xf) << 4) | (dst & 0xf);
  }
  setSrc(i: number, src: number): void {
    this.setRegs(i, this.dst(i), src);
  }
  off(i: number): number {
    return this.view.getInt16(i * 8 + 2, true);
  }
  setOff(i: number, v: number): void {
    this.view.setInt16(i * 8 + 2, v, true);
  }
  imm(i: number): number {
    return this.view.getInt32(i * 8 + 4, true);
  }
  setImm(i: number, v: number): void {
    this.view.setInt32(i * 8 + 4, v | 0, true);
  }
  isLdImm64(i: number): boolean {
    return this.code(i) === 0x18;
  }
  isCall(i: number): boolean {
    return this.code(i) === 0x85;
  }
}
