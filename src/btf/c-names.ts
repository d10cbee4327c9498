/**
 * Occurrence counts of names, keyed by the name's bytes in the BTF string section: the C printer counts
 * ~150k names of vmlinux to make duplicates unique, and decoding each into a JS string for a Map was its
 * largest cost. Open addressing over typed arrays; strings are compared by offset first, bytes second.
 */
import type { FlatBtf } from "./c-flat.ts";

export class NameCounts {
  private cap: number;
  private offs: Uint32Array;
  private hashes: Uint32Array;
  private counts: Uint32Array;
  private used = 0;

  constructor(
    private readonly f: FlatBtf,
    expected = 1024,
  ) {
    let cap = 1024;
    while (cap < expected * 2) cap *= 2;
    this.cap = cap;
    this.offs = new Uint32Array(cap);
    this.hashes = new Uint32Array(cap);
    this.counts = new Uint32Array(cap);
  }

  /** FNV-1a of the NUL-terminated string at global offset `off`. */
  private hash(off: number): number {
    const start = this.f.locate(off);
    const b = this.f.locBytes;
    let h = 0x811c9dc5;
    for (let i = start; ; i++) {
      const c = b[i]!;
      if (c === 0 || c === undefined) break;
      h = Math.imul(h ^ c, 0x01000193);
    }
    return h >>> 0;
  }

  private same(a: number, b: number): boolean {
    const f = this.f;
    const la = f.locate(a);
    const ba = f.locBytes;
    const lb = f.locate(b);
    const bb = f.locBytes;
    for (let i = 0; ; i++) {
      const x = ba[la + i];
      if (x !== bb[lb + i]) return false;
      if (x === 0 || x === undefined) return true;
    }
  }

  /** Counts one more occurrence of the (non-empty) name at `off`; returns the count including it. */
  add(off: number): number {
    if (this.used * 2 >= this.cap) this.grow();
    const h = this.hash(off);
    const mask = this.cap - 1;
    const offs = this.offs;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const o = offs[i]!;
      if (o === 0) {
        offs[i] = off;
        this.hashes[i] = h;
        this.counts[i] = 1;
        this.used++;
        return 1;
      }
      if (o === off || (this.hashes[i] === h && this.same(o, off))) return ++this.counts[i]!;
    }
  }

  private grow(): void {
    const { offs, hashes, counts } = this;
    const cap = this.cap * 2;
    const mask = cap - 1;
    this.offs = new Uint32Array(cap);
    this.hashes = new Uint32Array(cap);
    this.counts = new Uint32Array(cap);
    this.cap = cap;
    for (let j = 0; j < offs.length; j++) {
      const o = offs[j]!;
      if (o === 0) continue;
      let i = hashes[j]! & mask;
      while (this.offs[i] !== 0) i = (i + 1) & mask;
      this.offs[i] = o;
      this.hashes[i] = hashes[j]!;
      this.counts[i] = counts[j]!;
    }
  }
}
