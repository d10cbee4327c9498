/**
 * BTF as JSON: every own type in the model of types.ts (`id`, `kind`, `name` and the kind's fields), so
 * the JSON parses back to the same type list ({@link parseBtfJson}) and `encodeBtf` reproduces the BTF.
 * ENUM64 values beyond 2^53 are written as decimal strings (JSON numbers would lose precision).
 */
import { BtfError } from "../errors.ts";
import type { Btf } from "./btf.ts";
import type { BtfType } from "./types.ts";

export interface BtfJson {
  /** Where the BTF came from. */
  source: string;
  /** Id of `types[0]` (1, or the base's nextId for split BTF). */
  firstId: number;
  /** Set for split BTF: the base's source and nextId (the JSON does not include base types). */
  base?: { source: string; nextId: number };
  types: BtfType[];
}

/** The BTF's own types as a JSON document (pretty-printed with `indent` > 0). */
export function dumpJson(btf: Btf, indent = 0): string {
  const types: BtfType[] = [];
  for (let id = btf.firstId; id < btf.nextId; id++) types.push(btf.typeById(id));
  const doc: BtfJson = {
    source: btf.source,
    firstId: btf.firstId,
    ...(btf.base ? { base: { source: btf.base.source, nextId: btf.base.nextId } } : {}),
    types,
  };
  return JSON.stringify(doc, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), indent);
}

/** Parses {@link dumpJson} output back to its type list (ids firstId.., ENUM64 string values → bigint). */
export function parseBtfJson(text: string, source = "<json>"): BtfJson {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new BtfError(source, undefined, `not JSON: ${e instanceof Error ? e.message : String(e)}`, {
      hint: "pass the output of `kfunc btf dump <file> --format json`",
    });
  }
  const d = doc as Partial<BtfJson>;
  if (typeof d !== "object" || d === null || !Array.isArray(d.types) || typeof d.firstId !== "number")
    throw new BtfError(source, undefined, "not a BTF JSON document (no 'firstId' and 'types')", {
      hint: "pass the output of `kfunc btf dump <file> --format json`",
    });
  d.types.forEach((t, i) => {
    if (typeof t !== "object" || t === null || typeof t.kind !== "string" || t.id !== d.firstId! + i)
      throw new BtfError(source, d.firstId! + i, `types[${i}] is not a type with id ${d.firstId! + i}`);
    if (t.kind === "ENUM64")
      for (const v of t.values) if (typeof v.value === "string") v.value = BigInt(v.value);
  });
  return d as BtfJson;
}
