/**
 * In-place editing of raw BTF, the way libbpf sanitizes: records keep their size (kinds are swapped for
 * same-sized ones), new types and strings are appended. Pure: bytes in, bytes out. Little-endian only
 * (the loader targets the running kernel's byte order).
 */
import { assembleBtf, parseBtfHeader } from "../btf/header.ts";
import { extraSize } from "../btf/kinds.ts";
import { BtfError } from "../errors.ts";

export class RawBtf {
  types: Uint8Array;
  strings: Uint8Array;
  /** Byte offset of each type record in `types`; index 0 is type id 1. */
  readonly offsets: number[] = [];
  readonly #source: string;
  #typesView: DataView;
  #appendedStrings: number[] = [];

  constructor(bytes: Uint8Array, source: string) {
    this.#source = source;
    const h = parseBtfHeader(bytes, source);
    if (!h.littleEndian)
      throw new BtfError(source, undefined, "not little-endian BTF (magic); kfunc-kit loads LE objects");
    this.types = new Uint8Array(bytes.subarray(h.typeStart, h.typeStart + h.typeLen));
    this.strings = new Uint8Array(bytes.subarray(h.strStart, h.strStart + h.strLen));
    this.#typesView = new DataView(this.types.buffer);
    for (let off = 0; off < this.types.length; ) {
      this.offsets.push(off);
      const info = this.#typesView.getUint32(off + 4, true);
      const extra = extraSize((info >>> 24) & 0x1f, info & 0xffff);
      if (extra < 0)
        throw new BtfError(
          source,
          this.offsets.length,
          `unknown BTF kind ${(info >>> 24) & 0x1f} in raw BTF`,
        );
      off += 12 + extra;
    }
  }

  get count(): number {
    return this.offsets.length;
  }

  #off(id: number): number {
    const o = this.offsets[id - 1];
    if (o === undefined) throw new BtfError(this.#source, id, "no such type in raw BTF");
    return o;
  }

  kind(id: number): number {
    return (this.u32(id, 4) >>> 24) & 0x1f;
  }

  vlen(id: number): number {
    return this.u32(id, 4) & 0xffff;
  }

  /** Reads the u32 at byte `at` of type `id`'s record (0 name_off, 4 info, 8 size/type, 12… extra). */
  u32(id: number, at: number): number {
    return this.#typesView.getUint32(this.#off(id) + at, true);
  }

  setU32(id: number, at: number, v: number): void {
    this.#typesView.setUint32(this.#off(id) + at, v >>> 0, true);
  }

  /** info word: kind, vlen, kind_flag. */
  setInfo(id: number, kind: number, vlen: number, kindFlag = false): void {
    this.setU32(id, 4, ((kindFlag ? 1 : 0) << 31) | (kind << 24) | (vlen & 0xffff));
  }

  name(id: number): string {
    return this.stringAt(this.u32(id, 0));
  }

  stringAt(off: number): string {
    let end = off;
    while (end < this.strings.length && this.strings[end] !== 0) end++;
    return new TextDecoder().decode(this.strings.subarray(off, end));
  }

  /** Appends a string; returns its offset. */
  addString(s: string): number {
    const enc = new TextEncoder().encode(s);
    const off = this.strings.length;
    const next = new Uint8Array(off + enc.length + 1);
    next.set(this.strings);
    next.set(enc, off);
    this.strings = next;
    this.#appendedStrings.push(off);
    return off;
  }

  /** Appends a raw type record (u32 words); returns the new type id. */
  addType(words: number[]): number {
    const off = this.types.length;
    const next = new Uint8Array(off + words.length * 4);
    next.set(this.types);
    const v = new DataView(next.buffer);
    words.forEach((w, i) => {
      v.setUint32(off + i * 4, w >>> 0, true);
    });
    this.types = next;
    this.#typesView = v;
    this.offsets.push(off);
    return this.offsets.length;
  }

  /** Finds the first type of `kind` named `name`; 0 when none. */
  find(kind: number, name: string): number {
    for (let id = 1; id <= this.count; id++) if (this.kind(id) === kind && this.name(id) === name) return id;
    return 0;
  }

  encode(): Uint8Array {
    return assembleBtf(this.types, this.strings);
  }
}
