/**
 * `kfunc gen skeleton`: an object's programs, maps, globals and ring-buffer records as one TypeScript file
 * (or a `.js` + `.d.ts` pair). Reads only the object (src/object, src/btf): the output depends on the
 * object's bytes and the options alone, so regenerating from an unchanged object gives identical bytes.
 * The shape of the output is fixed (docs/skeleton.md).
 */
import { createHash } from "node:crypto";
import { cDeclaration, cFuncPrototype } from "../btf/c-printer.ts";
import type { Btf } from "../btf/index.ts";
import { TsDeclPrinter } from "../btf/ts-decl.ts";
import { shapeOf, shapeOfSize } from "../btf/value-shape.ts";
import { UsageError } from "../errors.ts";
import { namedVariables } from "../object/globals.ts";
import { parseObject } from "../object/index.ts";
import type { DataSectionKind, MapSpec, ObjectSpec } from "../object/types.ts";

export interface GenerateSkeletonOptions {
  /** The skeleton's name (default: the object's file name without `.bpf.o`/`.o`). */
  name: string;
  /** Embed the object as base64 (default), or read it at open() from `objectPath` relative to the skeleton. */
  embed: boolean;
  /** With `embed: false`: the object's path relative to the generated file (`./unlink.bpf.o`). */
  objectPath: string;
  /** Record types of ring/perf buffer maps: map name → struct/union/typedef name (`--record MAP=STRUCT`). */
  records: Record<string, string>;
  /** Emit `.js` + `.d.ts` instead of one `.ts`. */
  js: boolean;
  /** The module the output imports its runtime from (default "kfunc-kit/skeleton"). */
  importPath: string;
}

export interface GeneratedSkeleton {
  /** `.ts` text, or with `js` the `.d.ts` text. */
  ts: string;
  /** With `js`: the `.js` text. */
  js: string | undefined;
  name: string;
  /** Record types found, by map name (C type name), and how each was found. */
  records: Record<string, { type: string; from: "option" | "KFUNC_KIT_RECORD" | "unused global" }>;
}

/** The identifiers the generated file declares or imports; BTF type names avoid them (a trailing `_`). */
const OWN_NAMES = [
  "embeddedObject",
  "KfuncMissingError",
  "LoadedSkeleton",
  "openSkeleton",
  "Program",
  "readSkeletonObject",
  "SkeletonDescriptor",
  "SkeletonMap",
  "SkeletonPerfBuffer",
  "SkeletonRingBuffer",
  "SkeletonSpec",
  "Rodata",
  "Data",
  "Bss",
  "Kconfig",
  "Programs",
  "Maps",
  "Loaded",
  "Opened",
  "open",
  "descriptor",
  "OBJECT",
];

/** Global variables named so by `KFUNC_KIT_RECORD(map, type)` (include/kfunc_kit.h). */
export const RECORD_ANCHOR_PREFIX = "__kfunc_kit_record_";

const PERCPU = new Set([
  "BPF_MAP_TYPE_PERCPU_HASH",
  "BPF_MAP_TYPE_PERCPU_ARRAY",
  "BPF_MAP_TYPE_LRU_PERCPU_HASH",
  "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE",
]);
const RINGBUF = "BPF_MAP_TYPE_RINGBUF";
const PERF = "BPF_MAP_TYPE_PERF_EVENT_ARRAY";

/** `name` as a property key: bare when it is an identifier, else quoted. */
function key(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name);
}

function doc(text: string, pad = ""): string {
  return `${pad}/** ${text.replace(/\*\//g, "* /")} */`;
}

function defaultName(source: string): string {
  const base = source.split("/").pop() ?? source;
  return base.replace(/\.bpf\.o$|\.o$/, "").replace(/[^\w]/g, "_") || "skeleton";
}

function findRecordType(btf: Btf, name: string): number | undefined {
  const bare = name.replace(/^(struct|union)\s+/, "");
  const kinds = name.startsWith("struct ")
    ? (["STRUCT"] as const)
    : name.startsWith("union ")
      ? (["UNION"] as const)
      : (["STRUCT", "UNION", "TYPEDEF"] as const);
  for (const k of kinds) {
    const t = btf.findByName(bare, k);
    if (t) return t.id;
  }
  return undefined;
}

/** Record types of the ring/perf buffer maps: from options, then KFUNC_KIT_RECORD anchors, then `unused*` globals. */
function recordTypes(
  spec: ObjectSpec,
  btf: Btf | undefined,
  options: Record<string, string>,
): { ids: Record<string, number>; found: GeneratedSkeleton["records"]; hidden: string[] } {
  const streams = spec.maps.filter((m) => m.type.name === RINGBUF || m.type.name === PERF);
  const ids: Record<string, number> = {};
  const found: GeneratedSkeleton["records"] = {};
  const hidden: string[] = [];
  for (const [map, type] of Object.entries(options)) {
    const m = spec.maps.find((x) => x.name === map);
    if (!m)
      throw new UsageError(`${spec.source}: --record ${map}=${type}: no map named '${map}'`, {
        hint: `maps: ${
          spec.maps
            .filter((x) => !x.dataSection)
            .map((x) => x.name)
            .join(", ") || "(none)"
        }`,
      });
    if (m.type.name !== RINGBUF && m.type.name !== PERF)
      throw new UsageError(`${spec.source}: --record ${map}=${type}: '${map}' is a ${m.type.name}`, {
        hint: "record types are for BPF_MAP_TYPE_RINGBUF and BPF_MAP_TYPE_PERF_EVENT_ARRAY maps",
      });
    const id = btf ? findRecordType(btf, type) : undefined;
    if (id === undefined)
      throw new UsageError(`${spec.source}: --record ${map}=${type}: no type '${type}' in the object's BTF`, {
        hint: "a type only used inside functions is not in BTF: anchor it with KFUNC_KIT_RECORD(map, struct …) (include/kfunc_kit.h) or a global `struct event *unused_event;`",
      });
    ids[map] = id;
    found[map] = { type, from: "option" };
  }
  if (!btf) return { ids, found, hidden };
  const pointee = (typeId: number): number | undefined => {
    const t = btf.resolve(typeId);
    if (t.kind !== "PTR") return undefined;
    const p = btf.skipModifiers(t.type);
    return p.kind === "STRUCT" || p.kind === "UNION" ? btf.typeById(t.type).id : undefined;
  };
  const unused: Array<{ name: string; id: number }> = [];
  for (const ds of spec.dataSections)
    for (const v of ds.variables) {
      const id = pointee(v.typeId);
      if (id === undefined) continue;
      if (v.name.startsWith(RECORD_ANCHOR_PREFIX)) {
        hidden.push(v.name);
        const map = v.name.slice(RECORD_ANCHOR_PREFIX.length);
        if (!streams.some((m) => m.name === map))
          throw new UsageError(
            `${spec.source}: KFUNC_KIT_RECORD(${map}, …): no ring or perf buffer map named '${map}'`,
            {
              hint: `ring/perf buffer maps: ${streams.map((m) => m.name).join(", ") || "(none)"}`,
            },
          );
        if (!(map in ids)) {
          ids[map] = id;
          found[map] = { type: cDeclaration(btf, btf.skipModifiers(id).id), from: "KFUNC_KIT_RECORD" };
        }
      } else if (v.name.startsWith("unused")) unused.push({ name: v.name, id });
    }
  const only = streams.length === 1 ? streams[0]! : undefined;
  if (only && !(only.name in ids) && unused.length === 1) {
    ids[only.name] = unused[0]!.id;
    found[only.name] = {
      type: cDeclaration(btf, btf.skipModifiers(unused[0]!.id).id),
      from: "unused global",
    };
  }
  return { ids, found, hidden };
}

interface Parts {
  imports: string[];
  types: string[];
  enums: Array<{ name: string; values: Array<[string, string]> }>;
  descriptor: string;
  kfuncDoc: string[];
}

/** Generates the skeleton of the object `bytes` (`source` names it in messages). */
export function generateSkeleton(
  bytes: Uint8Array,
  source: string,
  options: Partial<GenerateSkeletonOptions> = {},
): GeneratedSkeleton {
  const spec = parseObject(bytes, source);
  const name = options.name ?? defaultName(source);
  const embed = options.embed ?? true;
  const js = options.js ?? false;
  const pkg = options.importPath ?? "kfunc-kit/skeleton";
  const btf = spec.btf;
  const printer = btf ? new TsDeclPrinter(btf, { reserved: OWN_NAMES }) : undefined;
  const { ids: recordIds, found, hidden } = recordTypes(spec, btf, options.records ?? {});
  const hiddenSet = new Set(hidden);

  const typeOf = (typeId: number, size: number): string => {
    if (btf && printer && typeId && shapeOf(btf, typeId).size === size) return printer.typeOf(typeId, 1);
    const s = shapeOfSize(size);
    return s.kind === "number" ? "number" : s.kind === "bigint" ? "bigint" : "Uint8Array";
  };
  const cDecl = (typeId: number, n: string): string =>
    btf && typeId ? cDeclaration(btf, typeId, n).replace(/\s+/g, " ") : n;

  // globals by kind
  const globals = (kind: DataSectionKind): string => {
    const lines: string[] = [];
    for (const { ds, v } of namedVariables(spec, kind, hiddenSet)) {
      lines.push(doc(`\`${cDecl(v.typeId, v.name)}\` (${ds.name}+${v.offset})`, "  "));
      lines.push(`  ${key(v.name)}: ${typeOf(v.typeId, v.size)};`);
    }
    return lines.length ? `{\n${lines.join("\n")}\n}` : "{}";
  };
  const rodata = globals("rodata");
  const data = globals("data");
  const bss = globals("bss");
  const kconfig = globals("kconfig");

  // programs
  const progLines: string[] = [];
  for (const p of spec.programs) {
    // SEC("?…") (autoload off): loaded only when load({ programs }) names it
    const off = p.autoload === false;
    progLines.push(
      doc(
        `\`SEC("${off ? "?" : ""}${p.section}")\` ${p.type.name}${off ? ": autoload off, present when load({ programs }) names it" : ""}`,
        "  ",
      ),
    );
    progLines.push(`  readonly ${key(p.name)}${off ? "?" : ""}: Program;`);
  }

  // maps
  const mapLines: string[] = [];
  const used = new Set<string>();
  for (const m of spec.maps) {
    if (m.dataSection) continue;
    mapLines.push(doc(mapDoc(m, btf), "  "));
    if (m.type.name === RINGBUF || m.type.name === PERF) {
      const cls = m.type.name === RINGBUF ? "SkeletonRingBuffer" : "SkeletonPerfBuffer";
      used.add(cls);
      const id = recordIds[m.name];
      const t = id !== undefined && printer ? printer.typeOf(id, 1) : "never";
      mapLines.push(`  readonly ${key(m.name)}: ${cls}<${t}>;`);
    } else {
      used.add("SkeletonMap");
      const k = typeOf(m.keyTypeId, m.keySize);
      const v = typeOf(m.valueTypeId, m.valueSize);
      const value = PERCPU.has(m.type.name) ? `${/[|&\s]/.test(v) ? `(${v})` : v}[]` : v;
      mapLines.push(`  readonly ${key(m.name)}: SkeletonMap<${k}, ${value}>;`);
    }
  }

  const kfuncDoc: string[] = [];
  for (const e of spec.externs) {
    if (e.kind !== "kfunc") continue;
    const proto = btf && e.btfId ? cFuncPrototype(btf, e.btfId).replace(/\s+/g, " ") : e.name;
    kfuncDoc.push(` * - \`${proto}\`${e.weak ? " (weak: may be missing; check with bpf_ksym_exists)" : ""}`);
  }

  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const descriptor = JSON.stringify({ name, sha256, records: recordIds, hidden: hidden.sort() });

  const parts: Parts = {
    imports: [...used].sort(),
    types: [],
    enums: printer ? printer.enumConsts() : [],
    descriptor,
    kfuncDoc,
  };
  const btfDecls = printer?.declarations() ?? "";
  const header = [
    `// Generated by \`kfunc gen skeleton\` from ${source.split("/").pop()} (sha256 ${sha256.slice(0, 16)}…).`,
    "// Do not edit: regenerate it (kfunc gen skeleton … --check tells whether it is current).",
    "// The shape of this file and the identifier mapping are described in kfunc-kit's docs/skeleton.md.",
  ].join("\n");
  const decls = [
    btfDecls ? `// ---- types from the object's BTF ----\n\n${btfDecls}` : "",
    "// ---- the skeleton ----",
    `${doc("`.rodata` variables (`const volatile`): set them on open()'s result before load(); read-only after")}\nexport interface Rodata ${rodata}`,
    `${doc("`.data` variables: initial values before load(), the kernel's live values after")}\nexport interface Data ${data}`,
    `${doc("`.bss` variables: zero before load(), the kernel's live values after")}\nexport interface Bss ${bss}`,
    `${doc("`.kconfig` externs: filled from the running kernel's config at load()")}\nexport interface Kconfig ${kconfig}`,
    `${doc("Programs by name (attach() attaches every auto-attachable one)")}\nexport interface Programs ${progLines.length ? `{\n${progLines.join("\n")}\n}` : "{}"}`,
    `${doc("Maps by name, typed by key and value (per-CPU maps: one value per possible CPU)")}\nexport interface Maps ${mapLines.length ? `{\n${mapLines.join("\n")}\n}` : "{}"}`,
    `${doc(`The loaded ${name} skeleton: typed programs, maps and globals; close() (or \`using\`) detaches and closes everything`)}\nexport type Loaded = LoadedSkeleton<Rodata, Data, Bss, Kconfig, Programs, Maps>;`,
    `${doc(`The opened (parsed, not loaded) ${name} skeleton`)}\nexport type Opened = SkeletonSpec<Rodata, Data, Bss, Kconfig, Loaded>;`,
  ]
    .filter((s) => s)
    .join("\n\n");
  const openDoc = [
    "/**",
    ` * Opens the ${name} skeleton: parses the object (${embed ? "embedded below" : `read from ${options.objectPath ?? "?"}`}), loads nothing yet.`,
    ...(kfuncDoc.length
      ? [
          " *",
          " * kfuncs it calls, resolved at load() against vmlinux and the loaded modules' BTF (a missing one",
          " * throws KfuncMissingError naming it):",
          ...kfuncDoc,
        ]
      : []),
    " */",
  ].join("\n");
  const objectPath = options.objectPath ?? `./${name}.bpf.o`;
  const importNames = [
    embed ? "embeddedObject" : "readSkeletonObject",
    "type LoadedSkeleton",
    "openSkeleton",
    "type Program",
    "type SkeletonDescriptor",
    ...parts.imports.map((i) => `type ${i}`),
    "type SkeletonSpec",
  ].sort((a, b) => a.replace(/^type /, "").localeCompare(b.replace(/^type /, "")));
  const b64 = embed ? base64Lines(bytes) : "";
  const load = embed
    ? "embeddedObject(OBJECT)"
    : `readSkeletonObject(new URL(${JSON.stringify(objectPath)}, import.meta.url), descriptor)`;
  const enumsTs = parts.enums
    .map(
      (e) =>
        `export const ${e.name} = {\n${e.values.map(([k, v]) => `  ${key(k)}: ${v},`).join("\n")}\n} as const;`,
    )
    .join("\n\n");
  const records = found;
  if (!js) {
    const ts = [
      header,
      `import {\n${importNames.map((i) => `  ${i},`).join("\n")}\n} from "${pkg}";`,
      decls,
      enumsTs,
      `const descriptor: SkeletonDescriptor = ${descriptor};`,
      embed ? `const OBJECT = ${b64};` : "",
      `${openDoc}\nexport function open(): Opened {\n  return openSkeleton<Rodata, Data, Bss, Kconfig, Programs, Maps>(descriptor, ${load});\n}`,
    ]
      .filter((s) => s)
      .join("\n\n");
    return { ts: `${ts}\n`, js: undefined, name, records };
  }
  const typeImports = importNames.filter((i) => i.startsWith("type ")).map((i) => i.slice(5));
  const valueImports = importNames.filter((i) => !i.startsWith("type "));
  const dts = [
    header,
    `import type {\n${typeImports.map((i) => `  ${i},`).join("\n")}\n} from "${pkg}";`,
    decls,
    parts.enums
      .map(
        (e) =>
          `export declare const ${e.name}: {\n${e.values.map(([k, v]) => `  readonly ${key(k)}: ${v};`).join("\n")}\n};`,
      )
      .join("\n\n"),
    `${openDoc}\nexport declare function open(): Opened;`,
  ]
    .filter((s) => s)
    .join("\n\n");
  const jsText = [
    header,
    `import { ${valueImports.join(", ")} } from "${pkg}";`,
    parts.enums
      .map(
        (e) =>
          `export const ${e.name} = Object.freeze({\n${e.values.map(([k, v]) => `  ${key(k)}: ${v},`).join("\n")}\n});`,
      )
      .join("\n\n"),
    `const descriptor = ${descriptor};`,
    embed ? `const OBJECT = ${b64};` : "",
    `${openDoc}\nexport function open() {\n  return openSkeleton(descriptor, ${load});\n}`,
  ]
    .filter((s) => s)
    .join("\n\n");
  return { ts: `${dts}\n`, js: `${jsText}\n`, name, records };
}

function mapDoc(m: MapSpec, btf: Btf | undefined): string {
  const parts = [`${m.type.name}, max_entries ${m.maxEntries}`];
  if (btf && m.keyTypeId) parts.push(`key \`${cDeclaration(btf, m.keyTypeId).replace(/\s+/g, " ")}\``);
  if (btf && m.valueTypeId) parts.push(`value \`${cDeclaration(btf, m.valueTypeId).replace(/\s+/g, " ")}\``);
  return parts.join(", ");
}

/** The object as a base64 string literal in lines of 100 characters (`"…" +` continued). */
function base64Lines(bytes: Uint8Array): string {
  const s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < s.length; i += 100) lines.push(JSON.stringify(s.slice(i, i + 100)));
  return lines.length ? `[\n  ${lines.join(",\n  ")},\n].join("")` : '""';
}
