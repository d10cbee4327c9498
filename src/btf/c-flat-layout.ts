/**
 * libbpf's `btf__align_of` / `btf__resolve_size` / `btf_is_struct_packed` over the flat record view,
 * memoised in typed arrays (struct alignment is asked for every member of every struct).
 */
import { BtfError } from "../errors.ts";
import {
  type FlatBtf,
  K_ARRAY,
  K_CONST,
  K_DATASEC,
  K_ENUM,
  K_ENUM64,
  K_FLOAT,
  K_INT,
  K_PTR,
  K_RESTRICT,
  K_STRUCT,
  K_TYPE_TAG,
  K_TYPEDEF,
  K_UNION,
  K_VAR,
  K_VOLATILE,
} from "./c-flat.ts";

const MAX_DEPTH = 64;

export class FlatLayout {
  private readonly align: Int32Array;
  private readonly size: Float64Array;

  constructor(
    private readonly f: FlatBtf,
    readonly ptrSize: number,
  ) {
    this.align = new Int32Array(f.nextId).fill(-1);
    this.size = new Float64Array(f.nextId).fill(-1);
  }

  alignOf(id: number, depth = 0): number {
    const cached = this.align[id]!;
    if (cached >= 0) return cached;
    if (depth > MAX_DEPTH) throw this.loop(id);
    const f = this.f;
    const w = f.w;
    const a = f.at[id]!;
    const info = w[a + 1]!;
    let r = 0;
    switch (id === 0 ? 0 : (info >>> 24) & 0x1f) {
      case K_INT:
      case K_ENUM:
      case K_ENUM64:
      case K_FLOAT:
        r = Math.min(this.ptrSize, w[a + 2]!);
        break;
      case K_PTR:
        r = this.ptrSize;
        break;
      case K_TYPEDEF:
      case K_VOLATILE:
      case K_CONST:
      case K_RESTRICT:
      case K_TYPE_TAG:
        r = this.alignOf(w[a + 2]!, depth + 1);
        break;
      case K_ARRAY:
        r = this.alignOf(w[a + 3]!, depth + 1);
        break;
      case K_STRUCT:
      case K_UNION: {
        const kflag = info >>> 31 === 1;
        const vlen = info & 0xffff;
        let max = 1;
        r = -1;
        for (let i = 0; i < vlen; i++) {
          const m = a + 3 + 3 * i;
          const al = this.alignOf(w[m + 1]!, depth + 1);
          if (al <= 0) {
            r = 1;
            break;
          }
          if (al > max) max = al;
          const raw = w[m + 2]!;
          const bitSize = kflag ? raw >>> 24 : 0;
          const off = kflag ? raw & 0xffffff : raw;
          if (bitSize === 0 && off % (8 * al) !== 0) {
            r = 1;
            break;
          }
        }
        if (r < 0) r = w[a + 2]! % max !== 0 ? 1 : max;
        break;
      }
    }
    this.align[id] = r;
    return r;
  }

  sizeOf(id: number, depth = 0): number {
    const cached = this.size[id]!;
    if (cached >= 0) return cached;
    if (depth > MAX_DEPTH) throw this.loop(id);
    const f = this.f;
    const w = f.w;
    const a = f.at[id]!;
    let r = 0;
    switch (id === 0 ? 0 : (w[a + 1]! >>> 24) & 0x1f) {
      case K_INT:
      case K_ENUM:
      case K_ENUM64:
      case K_FLOAT:
      case K_STRUCT:
      case K_UNION:
      case K_DATASEC:
        r = w[a + 2]!;
        break;
      case K_PTR:
        r = this.ptrSize;
        break;
      case K_TYPEDEF:
      case K_VOLATILE:
      case K_CONST:
      case K_RESTRICT:
      case K_TYPE_TAG:
      case K_VAR:
        r = this.sizeOf(w[a + 2]!, depth + 1);
        break;
      case K_ARRAY:
        r = w[a + 5]! * this.sizeOf(w[a + 3]!, depth + 1);
        break;
    }
    this.size[id] = r;
    return r;
  }

  /** A member off its natural alignment, or a size that is not a multiple of the alignment. */
  isPacked(id: number): boolean {
    const w = this.f.w;
    const a = this.f.at[id]!;
    const info = w[a + 1]!;
    const kflag = info >>> 31 === 1;
    const vlen = info & 0xffff;
    let max = 1;
    for (let i = 0; i < vlen; i++) {
      const m = a + 3 + 3 * i;
      const al = this.alignOf(w[m + 1]!);
      const raw = w[m + 2]!;
      const bitSize = kflag ? raw >>> 24 : 0;
      const off = kflag ? raw & 0xffffff : raw;
      if (al && bitSize === 0 && off % (8 * al) !== 0) return true;
      if (al > max) max = al;
    }
    return w[a + 2]! % max !== 0;
  }

  private loop(id: number): BtfError {
    return new BtfError(this.f.source, id, "type chain too deep (a reference loop?)", {
      hint: "the BTF is malformed; regenerate it with pahole or clang",
    });
  }
}
