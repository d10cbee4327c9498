/**
 * libbpf's size and alignment rules (`btf__resolve_size`, `btf__align_of`, btf_dump's `btf_is_struct_packed`)
 * over the decoded BTF model, for the `Btf` interface's sizeof/alignof (errors name the type chain). The C
 * printer's pass over raw records (c-flat-layout.ts) applies the same rules without decoding; the
 * `…OrZero`/isPacked forms here are btf_dump's, kept so test/btf/layout.test.ts can hold the two equal.
 */
import { BtfError } from "../errors.ts";
import type { BtfStruct, BtfType } from "./types.ts";

/** Longest chain resolve/skipModifiers/sizeof follow through typedefs, modifiers and arrays (libbpf's MAX_RESOLVE_DEPTH). */
export const MAX_TYPE_DEPTH = 32;
/**
 * libbpf's btf__align_of recurses without a bound (btf__resolve_size stops at 32), so alignment follows
 * deeper chains, as far as the printer's fast path does, before calling the BTF corrupt.
 */
const MAX_ALIGN_DEPTH = 64;
/** Pointer size of the BTF's target (eBPF and x86-64). */
export const POINTER_SIZE = 8;

export interface TypeSource {
  readonly source: string;
  typeById(id: number): BtfType;
}

function describe(t: BtfType): string {
  return `[${t.id}] ${t.kind.toLowerCase()}${t.name ? ` '${t.name}'` : ""}`;
}

function tooDeep(
  btf: TypeSource,
  start: number,
  chain: BtfType[],
  what: string,
  limit = MAX_TYPE_DEPTH,
): never {
  const path = chain.map(describe).join(" -> ");
  const cyclic = chain.some((t, i) => chain.findIndex((u) => u.id === t.id) !== i);
  throw new BtfError(
    btf.source,
    start,
    `${what}: ${cyclic ? "type cycle" : `chain deeper than ${limit}`}: ${path}`,
    {
      hint: "the BTF is corrupt: regenerate it (clang -g, or pahole -J for kernel/module BTF)",
    },
  );
}

const RESOLVE = new Set(["TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"]);
const MODIFIERS = new Set(["CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"]);

function follow(btf: TypeSource, id: number, kinds: Set<string>, what: string): BtfType {
  let t = btf.typeById(id);
  for (let depth = 0; kinds.has(t.kind); depth++) {
    if (depth >= MAX_TYPE_DEPTH) {
      // walk again to name the chain in the error (only on the failure path)
      const chain: BtfType[] = [];
      let u = btf.typeById(id);
      for (let i = 0; i <= MAX_TYPE_DEPTH; i++) {
        chain.push(u);
        u = btf.typeById((u as { type: number }).type);
      }
      return tooDeep(btf, id, chain.slice(-12), what);
    }
    t = btf.typeById((t as { type: number }).type);
  }
  return t;
}

/** Follows TYPEDEF/CONST/VOLATILE/RESTRICT/TYPE_TAG to the underlying type. */
export function resolveType(btf: TypeSource, id: number): BtfType {
  return follow(btf, id, RESOLVE, "resolve");
}

/** Follows CONST/VOLATILE/RESTRICT/TYPE_TAG (not TYPEDEF). */
export function skipModifiers(btf: TypeSource, id: number): BtfType {
  return follow(btf, id, MODIFIERS, "skip modifiers");
}

/** Why btf__resolve_size fails: the type reached has no size, the chain is too long, or the product overflows. */
interface NoSize {
  readonly why: "none" | "deep" | "overflow";
  readonly chain: BtfType[];
}

/** btf__resolve_size: bytes, or why libbpf returns an error. */
function resolveSize(btf: TypeSource, id: number): number | NoSize {
  const chain: BtfType[] = [];
  let mult = 1;
  let cur = id;
  for (;;) {
    const t = btf.typeById(cur);
    chain.push(t);
    if (chain.length > MAX_TYPE_DEPTH) return { why: "deep", chain };
    switch (t.kind) {
      case "INT":
      case "STRUCT":
      case "UNION":
      case "ENUM":
      case "ENUM64":
      case "FLOAT":
      case "DATASEC":
      case "PTR": {
        const total = mult * (t.kind === "PTR" ? POINTER_SIZE : t.size);
        return Number.isSafeInteger(total) ? total : { why: "overflow", chain };
      }
      case "ARRAY":
        mult *= t.nelems;
        cur = t.type;
        break;
      case "TYPEDEF":
      case "CONST":
      case "VOLATILE":
      case "RESTRICT":
      case "TYPE_TAG":
      case "VAR":
        cur = t.type;
        break;
      default:
        return { why: "none", chain };
    }
  }
}

/** Size in bytes of a data type, following typedefs and modifiers; a BtfError where libbpf fails. */
export function sizeOf(btf: TypeSource, id: number): number {
  const r = resolveSize(btf, id);
  if (typeof r === "number") return r;
  const { chain } = r;
  if (r.why === "deep") return tooDeep(btf, id, chain.slice(-12), "sizeof");
  if (r.why === "overflow")
    throw new BtfError(btf.source, id, `size overflows: ${chain.map(describe).join(" -> ")}`, {
      hint: "the array dimensions are corrupt: regenerate the BTF",
    });
  throw new BtfError(btf.source, id, `${describe(chain[chain.length - 1]!)} has no size`, {
    hint: "sizeof applies to data types (int, pointer, array, struct, union, enum, float, typedef, var, datasec)",
  });
}

/** A member's size as libbpf's C printer takes it: `max(0, btf__resolve_size())`, so 0 where there is none. */
export function sizeOfOrZero(btf: TypeSource, id: number): number {
  const r = resolveSize(btf, id);
  return typeof r === "number" ? r : 0;
}

interface AlignWalk {
  readonly btf: TypeSource;
  readonly start: number;
  readonly chain: BtfType[];
  /** The type that made the answer 0. */
  missing: BtfType | undefined;
}

/**
 * libbpf's btf__align_of: 0 where it has none (void, fwd, func, func_proto, var, datasec, decl_tag, a
 * zero-sized int/enum/float, or a struct/union with a member like that). Packed structs align to 1.
 */
export function alignOfOrZero(btf: TypeSource, id: number): number {
  return alignRec({ btf, start: id, chain: [], missing: undefined }, id);
}

/** Alignment in bytes, as libbpf's btf__align_of computes it (packed structs align to 1); a BtfError where it has none. */
export function alignOf(btf: TypeSource, id: number): number {
  const w: AlignWalk = { btf, start: id, chain: [], missing: undefined };
  const a = alignRec(w, id);
  if (a > 0) return a;
  const t = w.missing ?? btf.typeById(id);
  throw new BtfError(btf.source, id, `${describe(t)} has no alignment`, {
    hint: "alignof applies to data types (int, pointer, array, struct, union, enum, float, typedef) with a size",
  });
}

function alignRec(w: AlignWalk, id: number): number {
  const t = w.btf.typeById(id);
  const chain = w.chain;
  chain.push(t);
  if (chain.length > MAX_ALIGN_DEPTH) tooDeep(w.btf, w.start, chain.slice(-12), "alignof", MAX_ALIGN_DEPTH);
  try {
    switch (t.kind) {
      case "INT":
      case "ENUM":
      case "ENUM64":
      case "FLOAT":
        if (t.size === 0) w.missing = t;
        return Math.min(POINTER_SIZE, t.size);
      case "PTR":
        return POINTER_SIZE;
      case "ARRAY":
      case "TYPEDEF":
      case "CONST":
      case "VOLATILE":
      case "RESTRICT":
      case "TYPE_TAG":
        return alignRec(w, t.type);
      case "STRUCT":
      case "UNION": {
        let max = 1;
        for (const m of t.members) {
          const a = alignRec(w, m.type);
          if (a <= 0) return 0;
          if (a > max) max = a;
          // a member off its type's alignment: the struct must be packed
          if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1;
        }
        return t.size % max !== 0 ? 1 : max;
      }
      default:
        w.missing = t;
        return 0;
    }
  } finally {
    chain.pop();
  }
}

/**
 * libbpf's btf_is_struct_packed (btf_dump.c): a non-bitfield member off its natural alignment, or a size
 * that is not a multiple of the largest member alignment. Members without alignment are skipped.
 */
export function isPacked(btf: TypeSource, t: BtfStruct): boolean {
  let max = 1;
  for (const m of t.members) {
    const a = alignOfOrZero(btf, m.type);
    if (a && m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return true;
    if (a > max) max = a;
  }
  return t.size % max !== 0;
}
