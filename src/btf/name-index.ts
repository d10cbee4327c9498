/**
 * A hash index from type name to type ids, built straight from the string bytes (no JS string per type):
 * FNV-1a over the name's bytes, buckets of chained ids in typed arrays. Chains list ids in ascending order.
 */
export interface NameSource {
  readonly firstId: number;
  readonly nextId: number;
  readonly kinds: Uint8Array;
  /** This BTF's own string section and the global offset where it starts (split BTF: after the base's). */
  readonly strings: Uint8Array;
  readonly strBase: number;
  nameOffsetOf(id: number): number;
  /** Bytes and local offset of a global string offset below strBase (the base's strings). */
  stringBytes(offset: number): [Uint8Array, number] | undefined;
}

const encoder = new TextEncoder();
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function hashBytes(b: Uint8Array, start: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < b.length && b[i] !== 0; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME);
  return h >>> 0;
}

export class NameIndex {
  private readonly heads: Int32Array;
  /** next[id - firstId]: the following id in the same bucket, or -1. */
  private readonly next: Int32Array;
  private readonly mask: number;

  constructor(private readonly src: NameSource) {
    const n = src.nextId - src.firstId;
    let size = 16;
    while (size < n) size <<= 1;
    this.mask = size - 1;
    const heads = new Int32Array(size).fill(-1);
    const next = new Int32Array(n).fill(-1);
    const strings = src.strings;
    const strBase = src.strBase;
    const mask = this.mask;
    // insert from the last id so that each chain lists ids in ascending order
    for (let i = n - 1; i >= 0; i--) {
      const id = src.firstId + i;
      const off = src.nameOffsetOf(id);
      if (off === 0) continue;
      let h: number;
      if (off >= strBase) {
        const local = off - strBase;
        if (local >= strings.length || strings[local] === 0) continue;
        h = hashBytes(strings, local);
      } else {
        const at = src.stringBytes(off);
        if (!at || at[0][at[1]] === 0) continue;
        h = hashBytes(at[0], at[1]);
      }
      const bucket = h & mask;
      next[i] = heads[bucket]!;
      heads[bucket] = id;
    }
    this.heads = heads;
    this.next = next;
  }

  private *matches(name: string, kind: number): Generator<number> {
    const q = encoder.encode(name);
    let h = FNV_OFFSET;
    for (let i = 0; i < q.length; i++) h = Math.imul(h ^ q[i]!, FNV_PRIME);
    const src = this.src;
    for (let id = this.heads[(h >>> 0) & this.mask]!; id !== -1; id = this.next[id - src.firstId]!) {
      if (kind >= 0 && src.kinds[id - src.firstId] !== kind) continue;
      const off = src.nameOffsetOf(id);
      if (off >= src.strBase) {
        if (equalsAt(src.strings, off - src.strBase, q)) yield id;
      } else {
        const at = src.stringBytes(off);
        if (at && equalsAt(at[0], at[1], q)) yield id;
      }
    }
  }

  first(name: string, kind: number): number | undefined {
    for (const id of this.matches(name, kind)) return id;
    return undefined;
  }

  all(name: string, kind: number): number[] {
    return [...this.matches(name, kind)];
  }
}

function equalsAt(b: Uint8Array, start: number, q: Uint8Array): boolean {
  if (start + q.length >= b.length) return false;
  for (let i = 0; i < q.length; i++) if (b[start + i] !== q[i]) return false;
  return b[start + q.length] === 0;
}
