/**
 * bpftool's raw text format (`bpftool btf dump file X`): one `[id] KIND 'name' field=value…` line per type,
 * members/params/values/vars on tab-indented lines. For split BTF only the BTF's own types, like bpftool.
 */
import type { Btf } from "./btf.ts";
import type { BtfType } from "./types.ts";

const INT_ENCODING: Record<number, string> = { 0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL" };
const FUNC_LINKAGE = ["static", "global", "extern"];
const VAR_LINKAGE = ["static", "global", "extern"];

function q(name: string): string {
  return `'${name === "" ? "(anon)" : name}'`;
}

/** One type in bpftool's raw format (no trailing newline). */
export function rawLine(btf: Btf, t: BtfType): string {
  const head = `[${t.id}] ${t.kind} ${q(t.name)}`;
  switch (t.kind) {
    case "INT":
      return `${head} size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${INT_ENCODING[t.encoding] ?? "UNKN"}`;
    case "PTR":
    case "CONST":
    case "VOLATILE":
    case "RESTRICT":
    case "TYPEDEF":
    case "TYPE_TAG":
      return `${head} type_id=${t.type}`;
    case "ARRAY":
      return `${head} type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
    case "STRUCT":
    case "UNION": {
      let s = `${head} size=${t.size} vlen=${t.members.length}`;
      for (const m of t.members) {
        s += `\n\t${q(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}`;
        if (m.bitfieldSize) s += ` bitfield_size=${m.bitfieldSize}`;
      }
      return s;
    }
    case "ENUM":
    case "ENUM64": {
      let s = `${head} encoding=${t.signed ? "SIGNED" : "UNSIGNED"} size=${t.size} vlen=${t.values.length}`;
      for (const v of t.values) {
        if (t.kind === "ENUM") {
          const n = Number(v.value);
          s += `\n\t${q(v.name)} val=${t.signed ? n | 0 : n >>> 0}`;
        } else {
          const b = t.signed ? BigInt.asIntN(64, BigInt(v.value)) : BigInt.asUintN(64, BigInt(v.value));
          s += `\n\t${q(v.name)} val=${b}${t.signed ? "LL" : "ULL"}`;
        }
      }
      return s;
    }
    case "FWD":
      return `${head} fwd_kind=${t.union ? "union" : "struct"}`;
    case "FUNC":
      return `${head} type_id=${t.type} linkage=${FUNC_LINKAGE[t.linkage] ?? "(unknown)"}`;
    case "FUNC_PROTO": {
      let s = `${head} ret_type_id=${t.returnType} vlen=${t.params.length}`;
      for (const p of t.params) s += `\n\t${q(p.name)} type_id=${p.type}`;
      return s;
    }
    case "VAR":
      return `${head} type_id=${t.type}, linkage=${VAR_LINKAGE[t.linkage] ?? "(unknown)"}`;
    case "DATASEC": {
      let s = `${head} size=${t.size} vlen=${t.vars.length}`;
      for (const v of t.vars) {
        s += `\n\ttype_id=${v.type} offset=${v.offset} size=${v.size}`;
        if (v.type < btf.nextId) {
          const vt = btf.typeById(v.type);
          s += ` (${vt.kind} ${q(vt.name)})`;
        }
      }
      return s;
    }
    case "FLOAT":
      return `${head} size=${t.size}`;
    case "DECL_TAG":
      return `${head} type_id=${t.type} component_idx=${t.componentIdx}`;
    default:
      return head;
  }
}

/** All own types (firstId..nextId-1) in bpftool's raw format, one or more lines each. */
export function dumpRaw(btf: Btf): string {
  const parts: string[] = [];
  for (let id = btf.firstId; id < btf.nextId; id++) parts.push(rawLine(btf, btf.typeById(id)));
  parts.push("");
  return parts.join("\n");
}
