/**
 * `union bpf_attr` (and info struct) encoding on the generated layouts of src/sys/uapi.generated.ts: fields are
 * named, never written at hand-kept offsets. An Attr is a zero-filled buffer sized to the last field a command
 * uses (older kernels answer E2BIG to non-zero bytes they do not know); pointer fields hold koffi addresses of
 * caller-owned buffers, which must stay referenced until the syscall returns (the Attr keeps them in `pins`).
 */
import { koffi } from "./libc.ts";
import type { FieldLayout, StructLayout } from "./uapi.generated.ts";

/** The address of a typed array's first byte, as the kernel's `__aligned_u64` pointer. 0 for empty/null. */
export function addressOf(buf: Uint8Array | null | undefined): bigint {
  if (!buf || buf.byteLength === 0) return 0n;
  return koffi().address(buf);
}

/** The byte just past `field` of `layout`: the attr size for a command whose last used field it is. */
export function attrEnd<L extends StructLayout>(layout: L, field: keyof L["fields"] & string): number {
  const f = layout.fields[field]!;
  return f.off + f.size;
}

/**
 * The attr bytes keep their pins alive: callers pass only `attr.bytes` to bpf(2) and drop the Attr, so the
 * buffers it points at must live as long as the bytes do (a WeakMap entry lives as long as its key).
 */
const PINS = new WeakMap<Uint8Array, object[]>();

export class Attr<L extends StructLayout = StructLayout> {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Buffers whose addresses were written: kept alive as long as the attr is. */
  readonly pins: object[] = [];
  readonly layout: L;

  /** A zeroed attr of `size` bytes (default: up to the layout's end in the generating kernel). */
  constructor(layout: L, size: number = layout.size) {
    this.layout = layout;
    // Off-heap backing store: the kernel gets this buffer's address, which must not move.
    this.bytes = new Uint8Array(new ArrayBuffer(Math.max(size, 1)), 0, size);
    this.view = new DataView(this.bytes.buffer);
    PINS.set(this.bytes, this.pins);
  }

  /** An attr sized to end at `last`. */
  static upTo<L extends StructLayout>(layout: L, last: keyof L["fields"] & string): Attr<L> {
    return new Attr(layout, attrEnd(layout, last));
  }

  #field(name: keyof L["fields"] & string): FieldLayout {
    const f = this.layout.fields[name];
    if (!f) throw new Error(`no field ${name} in this layout`);
    if (f.off + f.size > this.bytes.byteLength)
      throw new RangeError(
        `field ${name} (bytes ${f.off}..${f.off + f.size}) is past this ${this.bytes.byteLength}-byte attr`,
      );
    return f;
  }

  /** Writes an integer field by its generated size (1, 2, 4 or 8 bytes; signed values wrap). */
  set(name: keyof L["fields"] & string, v: number | bigint): this {
    const f = this.#field(name);
    if (f.bits !== undefined) throw new Error(`field ${name} is a bitfield`);
    if (f.size === 8) this.view.setBigUint64(f.off, BigInt.asUintN(64, BigInt(v)), true);
    else if (f.size === 4) this.view.setUint32(f.off, Number(v) >>> 0, true);
    else if (f.size === 2) this.view.setUint16(f.off, Number(v) & 0xffff, true);
    else if (f.size === 1) this.view.setUint8(f.off, Number(v) & 0xff);
    else throw new Error(`field ${name} is ${f.size} bytes, not an integer`);
    return this;
  }

  /** Sets or clears a one-bit bitfield (`perf_event_attr.disabled`) inside its storage unit. */
  bit(name: keyof L["fields"] & string, on: boolean): this {
    const f = this.#field(name);
    if (f.bits !== 1 || f.shift === undefined) throw new Error(`field ${name} is not a one-bit bitfield`);
    if (f.size === 8) {
      const mask = 1n << BigInt(f.shift);
      const old = this.view.getBigUint64(f.off, true);
      this.view.setBigUint64(f.off, on ? old | mask : old & ~mask, true);
    } else if (f.size === 4) {
      const mask = (1 << f.shift) >>> 0;
      const old = this.view.getUint32(f.off, true);
      this.view.setUint32(f.off, (on ? old | mask : old & ~mask) >>> 0, true);
    } else throw new Error(`field ${name}: a ${f.size}-byte bitfield unit`);
    return this;
  }

  /** Writes a pointer to `buf` (or NULL) into an `__aligned_u64` field and pins `buf`. */
  ptr(name: keyof L["fields"] & string, buf: Uint8Array | null | undefined): this {
    const f = this.#field(name);
    if (f.size !== 8) throw new Error(`field ${name} is ${f.size} bytes, not a pointer`);
    if (buf && buf.byteLength > 0) this.pins.push(buf);
    this.view.setBigUint64(f.off, addressOf(buf), true);
    return this;
  }

  /** Keeps buffers alive that the attr reaches indirectly (strings behind a pointer array). */
  pin(...objects: object[]): this {
    this.pins.push(...objects);
    return this;
  }

  /** A fixed-size, NUL-padded char array field (object names: BPF_OBJ_NAME_LEN - 1 usable bytes). */
  str(name: keyof L["fields"] & string, s: string): this {
    const f = this.#field(name);
    const enc = new TextEncoder().encode(s);
    this.bytes.set(enc.subarray(0, f.size - 1), f.off);
    return this;
  }

  /** Reads an unsigned 4-byte field (what the kernel wrote back). */
  u32(name: keyof L["fields"] & string): number {
    const f = this.#field(name);
    if (f.size !== 4) throw new Error(`field ${name} is ${f.size} bytes, not 4`);
    return this.view.getUint32(f.off, true);
  }
}

/** Reads fields of a generated layout out of bytes the kernel filled in (an info struct). */
export class LayoutReader<L extends StructLayout> {
  readonly view: DataView;
  constructor(
    readonly layout: L,
    readonly bytes: Uint8Array,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u32(name: keyof L["fields"] & string): number {
    return this.view.getUint32(this.layout.fields[name]!.off, true);
  }

  u64(name: keyof L["fields"] & string): bigint {
    return this.view.getBigUint64(this.layout.fields[name]!.off, true);
  }

  /** A fixed-size char array field up to its NUL. */
  str(name: keyof L["fields"] & string): string {
    const f = this.layout.fields[name]!;
    return readCStr(this.bytes, f.off, f.size);
  }

  /** A byte array field as lowercase hex (the program tag). */
  hex(name: keyof L["fields"] & string): string {
    const f = this.layout.fields[name]!;
    let s = "";
    for (let i = f.off; i < f.off + f.size; i++) s += this.bytes[i]!.toString(16).padStart(2, "0");
    return s;
  }
}

/** An array of `layout` structs, one per record: each named u32 field from its getter, the rest zero. */
export function encodeRecords<L extends StructLayout, R>(
  layout: L,
  recs: ReadonlyArray<R>,
  fields: { readonly [K in keyof L["fields"]]?: (r: R) => number },
): Uint8Array {
  const out = new Uint8Array(recs.length * layout.size);
  const v = new DataView(out.buffer);
  const writers = Object.entries(fields).map(([name, get]) => {
    const f = layout.fields[name]!;
    if (f.size !== 4) throw new Error(`field ${name} is ${f.size} bytes, not 4`);
    return { off: f.off, get: get as (r: R) => number };
  });
  recs.forEach((r, i) => {
    for (const w of writers) v.setUint32(i * layout.size + w.off, w.get(r) >>> 0, true);
  });
  return out;
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
