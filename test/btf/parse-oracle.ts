/**
 * Test oracle for the BTF parser: `bpftool -j btf dump` (libbpf's parser) and a converter from our
 * BtfType to bpftool's JSON shape, so a test can compare every type field by field.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { BtfType } from "../../src/btf/index.ts";

export const VMLINUX_BTF = "/sys/kernel/btf/vmlinux";

export function haveTool(name: string): boolean {
  const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  return r.status === 0;
}

/** Why a bpftool-backed test cannot run here, or undefined when it can. */
export function bpftoolMissing(): string | undefined {
  return haveTool("bpftool") ? undefined : "bpftool is not installed (apt-get install bpftool)";
}

export function vmlinuxMissing(): string | undefined {
  return existsSync(VMLINUX_BTF)
    ? undefined
    : `${VMLINUX_BTF} does not exist (kernel without CONFIG_DEBUG_INFO_BTF)`;
}

export type BpftoolType = Record<string, unknown> & { id: number; kind: string };

/** All types of a BTF file (raw BTF or an ELF with .BTF) as bpftool/libbpf sees them. */
export function bpftoolTypes(file: string, base?: string): BpftoolType[] {
  const args = [...(base ? ["-B", base] : []), "-j", "btf", "dump", "file", file];
  const r = spawnSync("bpftool", args, { encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`bpftool ${args.join(" ")} failed: ${r.stderr}${r.stdout}`);
  return (JSON.parse(r.stdout) as { types: BpftoolType[] }).types;
}

const LINKAGE_FUNC = ["static", "global", "extern"];
const LINKAGE_VAR = ["static", "global", "extern"];

function intEncoding(e: number): string {
  if (e & 1) return "SIGNED";
  if (e & 2) return "CHAR";
  if (e & 4) return "BOOL";
  return "(none)";
}

/**
 * bpftool 7.1's JSON sign-extends unsigned 32-bit ENUM values to u64 (its text dump does not), and JSON numbers
 * above 2^53 are doubles: map our exact value the same way.
 */
function bpftoolEnumVal(kind: "ENUM" | "ENUM64", signed: boolean, value: number | bigint): number {
  const v = BigInt(value);
  if (kind === "ENUM" && !signed) return Number(BigInt.asUintN(64, BigInt.asIntN(32, v)));
  return Number(v);
}

const anon = (n: string) => (n === "" ? "(anon)" : n);

/** Our type in bpftool's JSON shape (fields bpftool prints, names as bpftool spells them). */
export function toBpftool(t: BtfType): Record<string, unknown> {
  const base = { id: t.id, kind: t.kind, name: anon(t.name) };
  switch (t.kind) {
    case "INT":
      return {
        ...base,
        size: t.size,
        bits_offset: t.bitOffset,
        nr_bits: t.bits,
        encoding: intEncoding(t.encoding),
      };
    case "PTR":
    case "TYPEDEF":
    case "VOLATILE":
    case "CONST":
    case "RESTRICT":
    case "TYPE_TAG":
      return { ...base, type_id: t.type };
    case "ARRAY":
      return { ...base, type_id: t.type, index_type_id: t.indexType, nr_elems: t.nelems };
    case "STRUCT":
    case "UNION":
      return {
        ...base,
        size: t.size,
        vlen: t.members.length,
        members: t.members.map((m) => ({
          name: anon(m.name),
          type_id: m.type,
          bits_offset: m.bitOffset,
          ...(m.bitfieldSize ? { bitfield_size: m.bitfieldSize } : {}),
        })),
      };
    case "ENUM":
    case "ENUM64":
      return {
        ...base,
        encoding: t.signed ? "SIGNED" : "UNSIGNED",
        size: t.size,
        vlen: t.values.length,
        // JSON numbers lose precision above 2^53: compare as doubles
        values: t.values.map((v) => ({ name: v.name, val: bpftoolEnumVal(t.kind, t.signed, v.value) })),
      };
    case "FWD":
      return { ...base, fwd_kind: t.union ? "union" : "struct" };
    case "FUNC":
      return { ...base, type_id: t.type, linkage: LINKAGE_FUNC[t.linkage] ?? `(unknown)` };
    case "FUNC_PROTO":
      return {
        ...base,
        ret_type_id: t.returnType,
        vlen: t.params.length,
        params: t.params.map((p) => ({ name: anon(p.name), type_id: p.type })),
      };
    case "VAR":
      return { ...base, type_id: t.type, linkage: LINKAGE_VAR[t.linkage] ?? "(unknown)" };
    case "DATASEC":
      return {
        ...base,
        size: t.size,
        vlen: t.vars.length,
        vars: t.vars.map((v) => ({ type_id: v.type, offset: v.offset, size: v.size })),
      };
    case "FLOAT":
      return { ...base, size: t.size };
    case "DECL_TAG":
      return { ...base, type_id: t.type, component_idx: t.componentIdx };
    case "VOID":
      return base;
  }
}

/** bpftool prints the same fields, but signed enum values may come out negative or as u32: normalise. */
export function normaliseBpftool(t: BpftoolType): Record<string, unknown> {
  if ((t.kind === "ENUM" || t.kind === "ENUM64") && Array.isArray(t["values"])) {
    return {
      ...t,
      values: (t["values"] as { name: string; val: number }[]).map((v) => ({ name: v.name, val: v.val })),
    };
  }
  return t;
}
