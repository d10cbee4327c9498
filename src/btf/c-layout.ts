/**
 * Sizes and alignments as the C printer needs them, with libbpf's exact rules (`btf__align_of`,
 * `btf__resolve_size`): a struct whose members are not naturally placed has alignment 1 (packed).
 * Results are memoised per BTF object, so repeated `cDeclaration` calls stay cheap.
 */
import { BtfError } from "../errors.ts";
import type { BtfStruct, BtfType } from "./types.ts";

/** The part of the `Btf` interface (docs/architecture.md) that the C printer reads. */
export interface CTypeSource {
  readonly source: string;
  readonly base: CTypeSource | undefined;
  readonly firstId: number;
  readonly nextId: number;
  typeById(id: number): BtfType;
}

const MAX_CHAIN = 64;

export class CLayout {
  readonly ptrSize: number;
  private readonly align: Int32Array;
  private readonly size: Float64Array;

  constructor(
    readonly btf: CTypeSource,
    ptrSize = 8,
  ) {
    this.ptrSize = ptrSize;
    this.align = new Int32Array(btf.nextId).fill(-1);
    this.size = new Float64Array(btf.nextId).fill(-1);
  }

  /** Alignment in bytes; 1 for a struct/union whose layout proves it packed. */
  alignOf(id: number, depth = 0): number {
    const cached = this.align[id]!;
    if (cached >= 0) return cached;
    if (depth > MAX_CHAIN) throw this.loop(id);
    const t = this.btf.typeById(id);
    let a: number;
    switch (t.kind) {
      case "INT":
      case "ENUM":
      case "ENUM64":
      case "FLOAT":
        a = Math.min(this.ptrSize, t.size);
        break;
      case "PTR":
        a = this.ptrSize;
        break;
      case "TYPEDEF":
      case "VOLATILE":
      case "CONST":
      case "RESTRICT":
      case "TYPE_TAG":
      case "ARRAY":
        a = this.alignOf(t.type, depth + 1);
        break;
      case "STRUCT":
      case "UNION":
        a = this.compositeAlign(t, depth);
        break;
      default:
        // VOID, FWD, FUNC_PROTO…: no alignment (libbpf returns 0 too)
        a = 0;
    }
    this.align[id] = a;
    return a;
  }

  private compositeAlign(t: BtfStruct, depth: number): number {
    let max = 1;
    for (const m of t.members) {
      const a = this.alignOf(m.type, depth + 1);
      if (a <= 0) return 1;
      if (a > max) max = a;
      if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1;
    }
    return t.size % max !== 0 ? 1 : max;
  }

  /** sizeof, resolving typedefs, modifiers and arrays; 0 for void/fwd/func. */
  sizeOf(id: number, depth = 0): number {
    const cached = this.size[id]!;
    if (cached >= 0) return cached;
    if (depth > MAX_CHAIN) throw this.loop(id);
    const t = this.btf.typeById(id);
    let s: number;
    switch (t.kind) {
      case "INT":
      case "ENUM":
      case "ENUM64":
      case "FLOAT":
      case "STRUCT":
      case "UNION":
      case "DATASEC":
        s = t.size;
        break;
      case "PTR":
        s = this.ptrSize;
        break;
      case "TYPEDEF":
      case "VOLATILE":
      case "CONST":
      case "RESTRICT":
      case "TYPE_TAG":
      case "VAR":
        s = this.sizeOf(t.type, depth + 1);
        break;
      case "ARRAY":
        s = t.nelems * this.sizeOf(t.type, depth + 1);
        break;
      default:
        s = 0;
    }
    this.size[id] = s;
    return s;
  }

  /** libbpf's `btf_is_struct_packed`: a member off its natural alignment, or a size not a multiple of it. */
  isPacked(t: BtfStruct): boolean {
    let max = 1;
    for (const m of t.members) {
      const a = this.alignOf(m.type);
      if (a && m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return true;
      if (a > max) max = a;
    }
    return t.size % max !== 0;
  }

  private loop(id: number): BtfError {
    return new BtfError(this.btf.source, id, "type chain too deep (a reference loop?)", {
      hint: "the BTF is malformed; regenerate it with pahole or clang",
    });
  }
}

const layouts = new WeakMap<object, CLayout>();

/** The memoised layout of a BTF object (pointer size 8 unless told otherwise). */
export function layoutOf(btf: CTypeSource, ptrSize = 8): CLayout {
  let l = layouts.get(btf);
  if (!l || l.ptrSize !== ptrSize || l.btf.nextId !== btf.nextId) {
    l = new CLayout(btf, ptrSize);
    layouts.set(btf, l);
  }
  return l;
}
