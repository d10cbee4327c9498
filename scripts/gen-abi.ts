// Generates src/sys/uapi.generated.ts: the bpf(2) enums, flag constants, `union bpf_attr` layouts per command
// and the `bpf_*_info` layouts, read from a vmlinux BTF by our own src/btf (the host's /sys/kernel/btf/vmlinux
// by default), as cilium/ebpf's internal/cmd/gentypes does. `npm run gen:abi [-- <vmlinux BTF> <release>]`.
// test/sys/uapi-generated.test.ts regenerates into memory and compares.
import { readFileSync, writeFileSync } from "node:fs";
import { release as osRelease } from "node:os";
import { fileURLToPath } from "node:url";
import { type Btf, type BtfStruct, parseBtf } from "../src/btf/index.ts";

/** The enums, each with the prefix its constant names drop (`BPF_PROG_TYPE_XDP` → `BPF_PROG_TYPE.XDP`). */
export const ABI_ENUMS = [
  { enum: "bpf_cmd", name: "BPF_CMD", prefix: "BPF_" },
  { enum: "bpf_map_type", name: "BPF_MAP_TYPE", prefix: "BPF_MAP_TYPE_" },
  { enum: "bpf_prog_type", name: "BPF_PROG_TYPE", prefix: "BPF_PROG_TYPE_" },
  { enum: "bpf_attach_type", name: "BPF_ATTACH_TYPE", prefix: "BPF_" },
  { enum: "bpf_link_type", name: "BPF_LINK_TYPE", prefix: "BPF_LINK_TYPE_" },
] as const;

/** perf_event_open(2)'s enums (include/uapi/linux/perf_event.h); their `*_MAX` sentinels are left out. */
export const ABI_PERF_ENUMS = [
  { enum: "perf_type_id", name: "PERF_TYPE", prefix: "PERF_TYPE_" },
  { enum: "perf_sw_ids", name: "PERF_COUNT_SW", prefix: "PERF_COUNT_SW_" },
  { enum: "perf_event_sample_format", name: "PERF_SAMPLE", prefix: "PERF_SAMPLE_" },
  { enum: "perf_event_type", name: "PERF_RECORD", prefix: "PERF_RECORD_" },
] as const;

/**
 * Constants the uapi header declares in anonymous enums (so they are in BTF), each found by one of its names.
 * (`BPF_F_STRICT_ALIGNMENT` and the other prog_flags, and BPF_OBJ_NAME_LEN, are #defines: not in BTF, kept
 * by hand in src/sys/constants.ts.)
 */
export const ABI_FLAG_ENUMS = [
  { has: "BPF_F_NO_PREALLOC", name: "BPF_F", prefix: "BPF_F_", what: "map_flags" },
  { has: "BPF_ANY", name: "BPF_UPDATE", prefix: "BPF_", what: "map update flags" },
  {
    has: "BPF_F_KPROBE_MULTI_RETURN",
    name: "BPF_F_KPROBE_MULTI",
    prefix: "BPF_F_KPROBE_MULTI_",
    what: "link_create.kprobe_multi.flags",
  },
  {
    has: "BPF_F_UPROBE_MULTI_RETURN",
    name: "BPF_F_UPROBE_MULTI",
    prefix: "BPF_F_UPROBE_MULTI_",
    what: "link_create.uprobe_multi.flags",
  },
  {
    has: "BPF_RINGBUF_BUSY_BIT",
    name: "BPF_RINGBUF",
    prefix: "BPF_RINGBUF_",
    what: "ring buffer record header",
  },
] as const;

/**
 * The members of `union bpf_attr` the code encodes. A named member is found by its name; an anonymous struct by
 * its first field (descending into a leading anonymous union), as cilium's gentypes does.
 */
export const ABI_ATTRS = [
  { name: "MAP_CREATE_ATTR", first: "map_type", cmds: "BPF_MAP_CREATE" },
  { name: "MAP_ELEM_ATTR", first: "map_fd", cmds: "BPF_MAP_*_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_MAP_FREEZE" },
  { name: "MAP_BATCH_ATTR", member: "batch", cmds: "BPF_MAP_*_BATCH" },
  { name: "PROG_LOAD_ATTR", first: "prog_type", cmds: "BPF_PROG_LOAD" },
  { name: "OBJ_ATTR", first: "pathname", cmds: "BPF_OBJ_PIN, BPF_OBJ_GET" },
  { name: "GET_ID_ATTR", first: "start_id", cmds: "BPF_*_GET_NEXT_ID, BPF_*_GET_FD_BY_ID" },
  { name: "TEST_RUN_ATTR", member: "test", cmds: "BPF_PROG_TEST_RUN" },
  { name: "INFO_ATTR", member: "info", cmds: "BPF_OBJ_GET_INFO_BY_FD" },
  { name: "RAW_TRACEPOINT_ATTR", member: "raw_tracepoint", cmds: "BPF_RAW_TRACEPOINT_OPEN" },
  { name: "BTF_LOAD_ATTR", first: "btf", cmds: "BPF_BTF_LOAD" },
  { name: "LINK_CREATE_ATTR", member: "link_create", cmds: "BPF_LINK_CREATE" },
  { name: "ITER_CREATE_ATTR", member: "iter_create", cmds: "BPF_ITER_CREATE" },
] as const;

/**
 * Structs the code reads or writes whole: the info structs of BPF_OBJ_GET_INFO_BY_FD, the .BTF.ext records,
 * the iterator target, and perf_event_open(2)'s attr.
 */
export const ABI_STRUCTS = [
  { name: "PROG_INFO", struct: "bpf_prog_info" },
  { name: "MAP_INFO", struct: "bpf_map_info" },
  { name: "BTF_INFO", struct: "bpf_btf_info" },
  { name: "LINK_INFO", struct: "bpf_link_info" },
  { name: "FUNC_INFO", struct: "bpf_func_info" },
  { name: "LINE_INFO", struct: "bpf_line_info" },
  { name: "ITER_LINK_INFO", struct: "bpf_iter_link_info", kind: "UNION" },
  { name: "PERF_EVENT_ATTR", struct: "perf_event_attr" },
] as const;

export const HOST_VMLINUX_BTF = "/sys/kernel/btf/vmlinux";
export const GENERATED_PATH = fileURLToPath(new URL("../src/sys/uapi.generated.ts", import.meta.url));

/** The enums of ABI_ENUMS that `btf` lacks (the generator refuses such a BTF). */
export function missingAbiEnums(btf: Btf): string[] {
  return ABI_ENUMS.filter((e) => btf.findByName(e.enum, "ENUM") === undefined).map((e) => e.enum);
}

/** Everything the generator needs that `btf` lacks: enums, flag enums, union bpf_attr members, structs. */
export function missingAbi(btf: Btf): string[] {
  const out = missingAbiEnums(btf).map((e) => `enum ${e}`);
  for (const e of ABI_PERF_ENUMS)
    if (btf.findByName(e.enum, "ENUM") === undefined) out.push(`enum ${e.enum}`);
  for (const f of ABI_FLAG_ENUMS) if (!flagEnum(btf, f.has)) out.push(`the enum holding ${f.has}`);
  const attr = btf.findByName("bpf_attr", "UNION");
  if (attr?.kind !== "UNION") out.push("union bpf_attr");
  else for (const a of ABI_ATTRS) if (!attrMember(btf, attr, a)) out.push(`union bpf_attr's ${label(a)}`);
  for (const s of ABI_STRUCTS) if (!abiStruct(btf, s)) out.push(`${kindOf(s).toLowerCase()} ${s.struct}`);
  return out;
}

/** The kernel release a generated file's header names. */
export function releaseOf(text: string): string | undefined {
  return /^\/\/ Kernel: (\S+)$/m.exec(text)?.[1];
}

type AttrSpec = (typeof ABI_ATTRS)[number];
type StructSpec = (typeof ABI_STRUCTS)[number];
const kindOf = (s: StructSpec) => ("kind" in s ? s.kind : "STRUCT");

function abiStruct(btf: Btf, s: StructSpec): BtfStruct | undefined {
  const t = btf.findByName(s.struct, kindOf(s));
  return t?.kind === "STRUCT" || t?.kind === "UNION" ? t : undefined;
}
const label = (a: AttrSpec) =>
  "member" in a ? `member '${a.member}'` : `anonymous struct starting with '${a.first}'`;

function flagEnum(btf: Btf, has: string) {
  for (const t of btf.ownTypes())
    if ((t.kind === "ENUM" || t.kind === "ENUM64") && t.name === "" && t.values.some((v) => v.name === has))
      return t;
  return undefined;
}

/** The name of an aggregate's first leaf field (through leading anonymous members). */
function firstField(btf: Btf, s: BtfStruct): string | undefined {
  const m = s.members[0];
  if (!m) return undefined;
  if (m.name) return m.name;
  const t = btf.resolve(m.type);
  return t.kind === "STRUCT" || t.kind === "UNION" ? firstField(btf, t) : undefined;
}

function attrMember(btf: Btf, attr: BtfStruct, a: AttrSpec): BtfStruct | undefined {
  const hits = attr.members.flatMap((m) => {
    const t = btf.resolve(m.type);
    if (t.kind !== "STRUCT") return [];
    if ("member" in a) return m.name === a.member ? [t] : [];
    return m.name === "" && firstField(btf, t) === a.first ? [t] : [];
  });
  if (hits.length > 1) throw new Error(`union bpf_attr has ${hits.length} members matching ${label(a)}`);
  return hits[0];
}

export interface Field {
  path: string;
  off: number;
  size: number;
  shift?: number;
  bits?: number;
}

/** The flattened fields of a struct or union, as the generated layouts list them. */
export function layoutFields(btf: Btf, s: BtfStruct): Field[] {
  return flatten(btf, s, 0, "", []);
}

/** Every field of `s`, flattened: anonymous members add no name, named aggregates add `name.` (and a row). */
function flatten(btf: Btf, s: BtfStruct, base: number, prefix: string, out: Field[]): Field[] {
  for (const m of s.members) {
    const t = btf.resolve(m.type);
    const bitfield = s.kindFlag && m.bitfieldSize > 0;
    if (bitfield) {
      if (!m.name) continue; // padding (`__u32 :31`)
      const size = btf.sizeof(m.type);
      const unit = Math.floor(m.bitOffset / (size * 8)) * size;
      out.push({
        path: prefix + m.name,
        off: base + unit,
        size,
        shift: m.bitOffset - unit * 8,
        bits: m.bitfieldSize,
      });
      continue;
    }
    if (m.bitOffset % 8 !== 0) throw new Error(`${prefix}${m.name}: not byte aligned`);
    const off = base + m.bitOffset / 8;
    const aggregate = t.kind === "STRUCT" || t.kind === "UNION";
    if (m.name) out.push({ path: prefix + m.name, off, size: btf.sizeof(m.type) });
    if (aggregate) flatten(btf, t, off, m.name ? `${prefix}${m.name}.` : prefix, out);
  }
  return out;
}

function renderLayout(name: string, doc: string, size: number, fields: Field[]): string[] {
  const seen = new Set<string>();
  const out = [`/** ${doc} */`, `export const ${name} = {`, `  size: ${size},`, "  fields: {"];
  for (const f of fields) {
    if (seen.has(f.path)) throw new Error(`${name}: field ${f.path} twice`);
    seen.add(f.path);
    const key = /^[a-z_][a-z0-9_]*$/i.test(f.path) ? f.path : JSON.stringify(f.path);
    const bits = f.bits !== undefined ? `, shift: ${f.shift}, bits: ${f.bits}` : "";
    out.push(`    ${key}: { off: ${f.off}, size: ${f.size}${bits} },`);
  }
  out.push("  },", "} as const;", "");
  return out;
}

/** The file's text: deterministic for a given BTF and release. */
export function renderUapi(btf: Btf, release: string): string {
  const missing = missingAbiEnums(btf);
  if (missing.length > 0) throw new Error(`the BTF of ${release} has no enum ${missing.join(", ")}`);
  const missingAll = missingAbi(btf);
  if (missingAll.length > 0) throw new Error(`the BTF of ${release} has no ${missingAll.join(", ")}`);
  const out = [
    "// Generated by `npm run gen:abi` (scripts/gen-abi.ts) from a vmlinux BTF read by src/btf. Do not edit.",
    `// Kernel: ${release}`,
    "// Names drop the enum prefix; `__MAX` sentinels are left out. Layouts: byte offset and size of every",
    "// field (nested members flattened: anonymous ones add no name, named ones `name.`); bitfields say",
    "// `shift`/`bits` within the `size`-byte unit at `off`.",
    "",
    "/** A field of a generated layout. */",
    "export interface FieldLayout {",
    "  readonly off: number;",
    "  readonly size: number;",
    "  readonly shift?: number;",
    "  readonly bits?: number;",
    "}",
    "",
    "/** A struct (or a command's member of union bpf_attr): its size in this kernel and its fields. */",
    "export interface StructLayout {",
    "  readonly size: number;",
    "  readonly fields: Readonly<Record<string, FieldLayout>>;",
    "}",
    "",
  ];
  for (const e of ABI_ENUMS) {
    const t = btf.findByName(e.enum, "ENUM");
    if (t?.kind !== "ENUM") throw new Error(`enum ${e.enum} is not an ENUM`);
    out.push(`/** enum ${e.enum} */`, `export const ${e.name} = {`);
    for (const v of t.values) {
      if (v.name.startsWith("__") || !v.name.startsWith(e.prefix)) continue;
      out.push(`  ${v.name.slice(e.prefix.length)}: ${v.value},`);
    }
    out.push("} as const;", "");
  }
  for (const e of ABI_PERF_ENUMS) {
    const t = btf.findByName(e.enum, "ENUM");
    if (t?.kind !== "ENUM") throw new Error(`enum ${e.enum} is not an ENUM`);
    out.push(`/** enum ${e.enum} */`, `export const ${e.name} = {`);
    for (const v of t.values) {
      if (v.name.startsWith("__") || !v.name.startsWith(e.prefix) || v.name === `${e.prefix}MAX`) continue;
      out.push(`  ${v.name.slice(e.prefix.length)}: ${v.value},`);
    }
    out.push("} as const;", "");
  }
  for (const f of ABI_FLAG_ENUMS) {
    const t = flagEnum(btf, f.has);
    if (!t) throw new Error(`no enum holding ${f.has}`);
    out.push(`/** ${f.what} (the anonymous enum with ${f.has}) */`, `export const ${f.name} = {`);
    for (const v of t.values) {
      if (v.name.startsWith("__") || !v.name.startsWith(f.prefix)) continue;
      out.push(`  ${v.name.slice(f.prefix.length)}: ${v.value},`);
    }
    out.push("} as const;", "");
  }
  const attr = btf.findByName("bpf_attr", "UNION") as BtfStruct;
  out.push(`/** sizeof(union bpf_attr) */`, `export const BPF_ATTR_SIZE = ${attr.size};`, "");
  for (const a of ABI_ATTRS) {
    const s = attrMember(btf, attr, a) as BtfStruct;
    const fields = flatten(btf, s, 0, "", []);
    out.push(...renderLayout(a.name, `union bpf_attr, ${label(a)}: ${a.cmds}`, s.size, fields));
  }
  for (const st of ABI_STRUCTS) {
    const s = abiStruct(btf, st) as BtfStruct;
    const doc = `${kindOf(st).toLowerCase()} ${st.struct}`;
    out.push(...renderLayout(st.name, doc, s.size, flatten(btf, s, 0, "", [])));
  }
  return out.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = process.argv[2] ?? HOST_VMLINUX_BTF;
  const release = process.argv[3] ?? osRelease();
  const btf = parseBtf(new Uint8Array(readFileSync(path)), { source: path });
  writeFileSync(GENERATED_PATH, renderUapi(btf, release));
  console.log(`wrote ${GENERATED_PATH} from ${path} (Linux ${release})`);
}
