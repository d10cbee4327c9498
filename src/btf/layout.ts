import { BtfError } from "../errors.ts";
import type { BtfType } from "./types.ts";

/** Longest chain followed through modifiers, arrays or nested members (the kernel uses 32 for modifiers). */
export const MAX_TYPE_DEPTH = 32;
/** Pointer size of the BTF's target (eBPF and x86-64). */
export const POINTER_SIZE = 8;

export interface TypeSource {
  readonly source: string;
  typeById(id: number): BtfType;
}

function describe(t: BtfType): string {
  return `[${t.id}] ${t.kind.toLowerCase()}${t.name ? ` '${t.name}'` : ""}`;
}

function tooDeep(btf: TypeSource, start: number, chain: BtfType[], what: string): never {
  const path = chain.map(describe).join(" -> ");
  const cyclic = chain.some((t, i) => chain.findIndex((u) => u.id === t.id) !== i);
  throw new BtfError(
    btf.source,
    start,
    `${what}: ${cyclic ? "type cycle" : `chain deeper than ${MAX_TYPE_DEPTH}`}: ${path}`,
    { hint: "the BTF is corrupt: regenerate it (clang -g, or pahole -J for kernel/module BTF)" },
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

function noSize(btf: TypeSource, t: BtfType, start: number): never {
  throw new BtfError(btf.source, start, `${describe(t)} has no size`, {
    hint: "sizeof applies to data types (int, pointer, array, struct, union, enum, float, typedef, var, datasec)",
  });
}

/** Size in bytes of a data type, following typedefs and modifiers. */
export function sizeOf(btf: TypeSource, id: number): number {
  const chain: BtfType[] = [];
  let mult = 1;
  let cur = id;
  for (;;) {
    const t = btf.typeById(cur);
    chain.push(t);
    if (chain.length > MAX_TYPE_DEPTH) tooDeep(btf, id, chain.slice(-12), "sizeof");
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
        if (!Number.isSafeInteger(total))
          throw new BtfError(btf.source, id, `size overflows: ${chain.map(describe).join(" -> ")}`, {
            hint: "the array dimensions are corrupt: regenerate the BTF",
          });
        return total;
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
        return noSize(btf, t, id);
    }
  }
}

/** Alignment in bytes, as libbpf's btf__align_of computes it (packed structs align to 1). */
export function alignOf(btf: TypeSource, id: number): number {
  return alignRec(btf, id, [], id);
}

function alignRec(btf: TypeSource, id: number, chain: BtfType[], start: number): number {
  const t = btf.typeById(id);
  chain.push(t);
  if (chain.length > MAX_TYPE_DEPTH) tooDeep(btf, start, chain.slice(-12), "alignof");
  try {
    switch (t.kind) {
      case "INT":
      case "ENUM":
      case "ENUM64":
      case "FLOAT":
        return Math.max(1, Math.min(POINTER_SIZE, t.size));
      case "PTR":
        return POINTER_SIZE;
      case "ARRAY":
      case "TYPEDEF":
      case "CONST":
      case "VOLATILE":
      case "RESTRICT":
      case "TYPE_TAG":
      case "VAR":
        return alignRec(btf, t.type, chain, start);
      case "STRUCT":
      case "UNION": {
        let max = 1;
        for (const m of t.members) {
          const a = alignRec(btf, m.type, chain, start);
          if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1;
          if (a > max) max = a;
        }
        return t.size % max !== 0 ? 1 : max;
      }
      default:
        throw new BtfError(btf.source, start, `${describe(t)} has no alignment`, {
          hint: "alignof applies to data types",
        });
    }
  } finally {
    chain.pop();
  }
}
