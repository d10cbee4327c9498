import { BTF_KIND, type BtfTypeKind } from "./types.ts";

/** Kind number → kind name (index 0 is "VOID"; UNKN never appears in a parsed type), from BTF_KIND. */
export const KIND_NAMES: readonly BtfTypeKind[] = Object.entries(BTF_KIND)
  .sort(([, a], [, b]) => a - b)
  .map(([name]) => (name === "UNKN" ? "VOID" : name) as BtfTypeKind);

export const MAX_KIND = BTF_KIND.ENUM64;

/** Kind name → kind number; STRUCT/UNION and ENUM/ENUM64 are distinct kinds. VOID → 0. */
export function kindNumber(kind: BtfTypeKind): number {
  return kind === "VOID" ? 0 : BTF_KIND[kind];
}

/**
 * Bytes that follow the 12-byte `struct btf_type` for a kind with `vlen` entries,
 * or -1 for an unknown kind.
 */
export function extraSize(kind: number, vlen: number): number {
  switch (kind) {
    case BTF_KIND.INT:
    case BTF_KIND.VAR:
    case BTF_KIND.DECL_TAG:
      return 4;
    case BTF_KIND.ARRAY:
      return 12;
    case BTF_KIND.STRUCT:
    case BTF_KIND.UNION:
    case BTF_KIND.DATASEC:
    case BTF_KIND.ENUM64:
      return vlen * 12;
    case BTF_KIND.ENUM:
    case BTF_KIND.FUNC_PROTO:
      return vlen * 8;
    case BTF_KIND.PTR:
    case BTF_KIND.FWD:
    case BTF_KIND.TYPEDEF:
    case BTF_KIND.VOLATILE:
    case BTF_KIND.CONST:
    case BTF_KIND.RESTRICT:
    case BTF_KIND.FUNC:
    case BTF_KIND.FLOAT:
    case BTF_KIND.TYPE_TAG:
      return 0;
    default:
      return -1;
  }
}
