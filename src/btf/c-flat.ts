/**
 * A flat, allocation-free view of BTF type records for whole-BTF passes (the C printer, kfunc discovery).
 * Decoding 126k vmlinux types into objects costs ~300 ms and ~150 MB; this view copies the type sections
 * (base + split) into one Uint32Array and indexes each type's first word, in a few milliseconds.
 * Records were already bounds-checked by parseBtf; type references are checked by {@link FlatBtf.ref}.
 */
import { BtfError } from "../errors.ts";
import { type Btf, recordOffsets } from "./btf.ts";
import { parseBtfHeader } from "./header.ts";
import { extraSize } from "./kinds.ts";
import { BTF_KIND } from "./types.ts";

// the kind numbers as module constants for the printer's hot switches (one table: BTF_KIND)
export const K_INT = BTF_KIND.INT;
export const K_PTR = BTF_KIND.PTR;
export const K_ARRAY = BTF_KIND.ARRAY;
export const K_STRUCT = BTF_KIND.STRUCT;
export const K_UNION = BTF_KIND.UNION;
export const K_ENUM = BTF_KIND.ENUM;
export const K_FWD = BTF_KIND.FWD;
export const K_TYPEDEF = BTF_KIND.TYPEDEF;
export const K_VOLATILE = BTF_KIND.VOLATILE;
export const K_CONST = BTF_KIND.CONST;
export const K_RESTRICT = BTF_KIND.RESTRICT;
export const K_FUNC = BTF_KIND.FUNC;
export const K_FUNC_PROTO = BTF_KIND.FUNC_PROTO;
export const K_VAR = BTF_KIND.VAR;
export const K_DATASEC = BTF_KIND.DATASEC;
export const K_FLOAT = BTF_KIND.FLOAT;
export const K_DECL_TAG = BTF_KIND.DECL_TAG;
export const K_TYPE_TAG = BTF_KIND.TYPE_TAG;
export const K_ENUM64 = BTF_KIND.ENUM64;

interface StrPart {
  base: number;
  end: number;
  bytes: Uint8Array;
}

const utf8 = new TextDecoder("utf-8");

export class FlatBtf {
  readonly source: string;
  readonly nextId: number;
  readonly firstId: number;
  /** All type records, as 32-bit words in host order. Word 0..2 is a zero record for void. */
  readonly w: Uint32Array;
  /** Word index of each type's 12-byte header (`name_off`, `info`, `size/type`); extra data follows. */
  readonly at: Uint32Array;
  private readonly parts: StrPart[];

  constructor(btf: Btf) {
    this.source = btf.source;
    const chain: Btf[] = [];
    for (let b: Btf | undefined = btf; b; b = b.base) chain.unshift(b);
    const headers = chain.map((b) => parseBtfHeader(b.bytes, b.source));
    let words = 3;
    for (const h of headers) words += h.typeLen >>> 2;
    const w = new Uint32Array(words);
    this.parts = [];
    let pos = 3;
    let strBase = 0;
    const partStart: number[] = [];
    for (let i = 0; i < chain.length; i++) {
      const b = chain[i]!;
      const h = headers[i]!;
      const n = h.typeLen >>> 2;
      partStart.push(pos);
      const start = b.bytes.byteOffset + h.typeStart;
      if (h.littleEndian && start % 4 === 0) {
        w.set(new Uint32Array(b.bytes.buffer, start, n), pos);
      } else {
        const v = new DataView(b.bytes.buffer, start, n * 4);
        for (let j = 0; j < n; j++) w[pos + j] = v.getUint32(j * 4, h.littleEndian);
      }
      pos += n;
      this.parts.push({
        base: strBase,
        end: strBase + h.strLen,
        // a plain Uint8Array view: Buffer.subarray is much slower on the hot path
        bytes: new Uint8Array(b.bytes.buffer, b.bytes.byteOffset + h.strStart, h.strLen),
      });
      strBase += h.strLen;
    }
    this.w = w;
    this.nextId = btf.nextId;
    this.firstId = btf.firstId;
    const at = new Uint32Array(btf.nextId);
    let id = 1;
    let p = 3;
    // split BTF: reuse the base's index (memoised), so listing 100 modules does not re-walk vmlinux
    const baseFlat = btf.base ? flats.get(btf.base) : undefined;
    if (baseFlat && baseFlat.nextId === btf.firstId && baseFlat.w.length <= words) {
      at.set(baseFlat.at);
      id = baseFlat.nextId;
      p = baseFlat.w.length;
    }
    // parseBtf already found every record: translate its byte offsets (one pass per BTF in the chain)
    for (let i = 0; i < chain.length && id < at.length; i++) {
      const b = chain[i]!;
      if (b.nextId <= id) continue;
      const offsets = recordOffsets(b);
      if (!offsets || b.firstId !== id || offsets.length !== b.nextId - b.firstId) break;
      const delta = partStart[i]! - (headers[i]!.typeStart >>> 2);
      for (let j = 0; j < offsets.length; j++) at[id + j] = delta + (offsets[j]! >>> 2);
      id += offsets.length;
      p = partStart[i]! + (headers[i]!.typeLen >>> 2);
    }
    while (p < words && id < at.length) {
      at[id++] = p;
      const info = w[p + 1]!;
      p += 3 + (extraSize((info >>> 24) & 0x1f, info & 0xffff) >>> 2);
    }
    if (id !== btf.nextId)
      throw new BtfError(this.source, id, `type records end early (${id} of ${btf.nextId} types)`);
    this.at = at;
  }

  kind(id: number): number {
    return (this.w[this.at[id]! + 1]! >>> 24) & 0x1f;
  }
  vlen(id: number): number {
    return this.w[this.at[id]! + 1]! & 0xffff;
  }
  kflag(id: number): boolean {
    return this.w[this.at[id]! + 1]! >>> 31 === 1;
  }
  nameOff(id: number): number {
    return this.w[this.at[id]!]!;
  }
  /** size for INT/STRUCT/UNION/ENUM/FLOAT/DATASEC, the referenced type for the others. */
  sizeOrType(id: number): number {
    return this.w[this.at[id]! + 2]!;
  }
  /** Word index of the data after the header (members, params, enumerators, array info…). */
  extra(id: number): number {
    return this.at[id]! + 3;
  }

  /** Checks a type reference read from `from`'s record. */
  ref(target: number, from: number): number {
    if (target >= this.nextId)
      throw new BtfError(this.source, from, `refers to type [${target}], which does not exist`, {
        hint: "the BTF is truncated or corrupt; regenerate it",
      });
    return target;
  }

  /** Set by {@link locate}: the string section holding the located string. */
  locBytes: Uint8Array = new Uint8Array(1);

  /** Finds a global string offset: sets `locBytes` and returns the local offset (no allocation). */
  locate(off: number): number {
    const parts = this.parts;
    for (let i = parts.length - 1; i >= 0; i--) {
      const p = parts[i]!;
      if (off >= p.base) {
        if (off >= p.end) break;
        this.locBytes = p.bytes;
        return off - p.base;
      }
    }
    throw new BtfError(this.source, undefined, `string offset ${off} out of range`, {
      hint: "the BTF is truncated or corrupt; regenerate it",
    });
  }

  str(off: number): string {
    if (off === 0) return "";
    const start = this.locate(off);
    const b = this.locBytes;
    let end = start;
    while (b[end] !== 0) end++;
    if (end - start > 40) return utf8.decode(b.subarray(start, end));
    let s = "";
    for (let i = start; i < end; i++) {
      const c = b[i]!;
      if (c >= 0x80) return utf8.decode(b.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }

  /** Whether the string at `off` is `lit` (ASCII), without decoding it. */
  strEquals(off: number, lit: string): boolean {
    const start = this.locate(off);
    const b = this.locBytes;
    const n = lit.length;
    for (let i = 0; i < n; i++) if (b[start + i] !== lit.charCodeAt(i)) return false;
    return b[start + n] === 0;
  }

  /**
   * The first own type whose name (or member/param/enumerator name) points into the middle of a string:
   * what split BTF parsed on the wrong base looks like (ids and offsets still in range, names garbage).
   */
  misplacedName(): number | undefined {
    const w = this.w;
    const ok = (off: number): boolean => {
      if (off === 0) return true;
      let local: number;
      try {
        local = this.locate(off);
      } catch {
        return false;
      }
      return local === 0 || this.locBytes[local - 1] === 0;
    };
    for (let id = this.firstId; id < this.nextId; id++) {
      const a = this.at[id]!;
      if (!ok(w[a]!)) return id;
      const info = w[a + 1]!;
      const kind = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      const stride =
        kind === K_STRUCT || kind === K_UNION || kind === K_ENUM64
          ? 3
          : kind === K_ENUM || kind === K_FUNC_PROTO
            ? 2
            : 0;
      for (let i = 0; stride && i < vlen; i++) if (!ok(w[a + 3 + stride * i]!)) return id;
    }
    return undefined;
  }

  name(id: number): string {
    return this.str(this.nameOff(id));
  }
}

const flats = new WeakMap<Btf, FlatBtf>();

/** The flat view of a parsed BTF, memoised. */
export function flatOf(btf: Btf): FlatBtf {
  let f = flats.get(btf);
  if (!f) {
    if (btf.base) flatOf(btf.base);
    f = new FlatBtf(btf);
    flats.set(btf, f);
  }
  return f;
}
