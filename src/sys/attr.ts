/**
 * `union bpf_attr` (and info struct) encoding. An Attr is a zero-filled buffer sized to the last field a
 * command uses; pointer fields hold koffi addresses of caller-owned buffers, which must stay referenced
 * until the syscall returns (the Attr keeps them in `pins`).
 */
import { koffi } from "./libc.ts";

/** The address of a typed array's first byte, as the kernel's `__aligned_u64` pointer. 0 for empty/null. */
export function addressOf(buf: Uint8Array | null | undefined): bigint {
  if (!buf || buf.byteLength === 0) return 0n;
  return koffi().address(buf);
}

export class Attr {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Buffers whose addresses were written: kept alive as long as the attr is. */
  readonly pins: Uint8Array[] = [];

  constructor(size: number) {
    // Off-heap backing store: the kernel gets this buffer's address, which must not move.
    this.bytes = new Uint8Array(new ArrayBuffer(Math.max(size, 1)), 0, size);
    this.view = new DataView(this.bytes.buffer);
  }

  u32(off: number, v: number): this {
    this.view.setUint32(off, v >>> 0, true);
    return this;
  }

  s32(off: number, v: number): this {
    this.view.setInt32(off, v, true);
    return this;
  }

  u64(off: number, v: number | bigint): this {
    this.view.setBigUint64(off, typeof v === "bigint" ? v : BigInt(v), true);
    return this;
  }

  /** Writes a pointer to `buf` (or NULL). */
  ptr(off: number, buf: Uint8Array | null | undefined): this {
    if (buf && buf.byteLength > 0) this.pins.push(buf);
    this.view.setBigUint64(off, addressOf(buf), true);
    return this;
  }

  /** A fixed-size, NUL-padded char array (object names: BPF_OBJ_NAME_LEN - 1 usable bytes). */
  str(off: number, len: number, s: string): this {
    const enc = new TextEncoder().encode(s);
    this.bytes.set(enc.subarray(0, len - 1), off);
    return this;
  }

  getU32(off: number): number {
    return this.view.getUint32(off, true);
  }
}

/** A NUL-terminated C string in a fresh buffer. */
export function cString(s: string): Uint8Array {
  const enc = new TextEncoder().encode(s);
  const out = new Uint8Array(new ArrayBuffer(enc.length + 1));
  out.set(enc);
  return out;
}

/** Reads a NUL-terminated string out of a fixed-size field. */
export function readCStr(bytes: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && end < bytes.length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(off, end));
}
