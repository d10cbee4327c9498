/**
 * What `kfunc inspect` shows, as plain data (the --json output). Pure: specs and BTF in, a report out.
 */

import { cDeclaration, cFuncPrototype } from "../btf/c-printer.ts";
import type { Btf } from "../btf/index.ts";
import type { KernelModuleSpec } from "./kmod.ts";
import { nameParams } from "./param-names.ts";
import type { MapSpec, ObjectSpec } from "./types.ts";

export interface ObjectReport {
  kind: "object";
  file: string;
  license: string;
  programs: Array<{
    name: string;
    section: string;
    /** false for `SEC("?…")` programs. */
    autoload: boolean;
    type: string;
    expectedAttachType: string | undefined;
    attachTarget: string | undefined;
    sleepable: boolean;
    instructions: number;
    subprograms: string[];
    kfuncCalls: string[];
    coreRelocations: number;
  }>;
  maps: Array<{
    name: string;
    type: string;
    keyType: string | undefined;
    valueType: string | undefined;
    keySize: number;
    valueSize: number;
    maxEntries: number;
    flags: number;
    pinned: boolean;
    innerMap: string | undefined;
    initialValues: string[];
  }>;
  globals: Array<{
    section: string;
    size: number;
    readonly: boolean;
    variables: Array<{ name: string; offset: number; size: number; type: string | undefined }>;
  }>;
  kfuncs: Array<{ name: string; lookupName: string; prototype: string; weak: boolean }>;
  ksyms: Array<{ name: string; declaration: string; weak: boolean }>;
  kconfig: Array<{ name: string; declaration: string; weak: boolean; offset: number }>;
  coreRelocations: { total: number; byKind: Record<string, number> };
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

function typeName(btf: Btf | undefined, id: number): string | undefined {
  return btf && id ? safe(() => cDeclaration(btf, id)) : undefined;
}

function mapRow(btf: Btf | undefined, m: MapSpec): ObjectReport["maps"][number] {
  const data = m.dataSection !== undefined;
  return {
    name: m.name,
    type: m.type.name,
    keyType: typeName(btf, m.keyTypeId),
    valueType: data ? undefined : typeName(btf, m.valueTypeId),
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    flags: m.flags,
    pinned: m.pinning === 1,
    innerMap: m.innerMap
      ? `${m.innerMap.type.name} ${m.innerMap.keySize}/${m.innerMap.valueSize}×${m.innerMap.maxEntries}`
      : undefined,
    initialValues: m.initialValues.map((v) => `[${v.index}] = ${v.name}`),
  };
}

/** Recovers a kfunc's parameter names (see param-names.ts); undefined when unknown. */
export type ParamNameSource = (kfunc: string, paramCount: number) => string[] | undefined;

export function objectReport(spec: ObjectSpec, paramNames?: ParamNameSource): ObjectReport {
  const btf = spec.btf;
  const byKind: Record<string, number> = {};
  let total = 0;
  for (const p of spec.programs)
    for (const c of p.coreRelos) {
      byKind[c.kindName] = (byKind[c.kindName] ?? 0) + 1;
      total++;
    }
  const decl = (id: number, name: string, fallback: string) =>
    (btf && id ? safe(() => cDeclaration(btf, id, name)) : undefined) ?? fallback;
  return {
    kind: "object",
    file: spec.source,
    license: spec.license,
    programs: spec.programs.map((p) => ({
      name: p.name,
      section: p.section,
      autoload: p.autoload,
      type: p.type.name,
      expectedAttachType: p.expectedAttachType?.name,
      attachTarget: p.attachTarget,
      sleepable: p.sleepable,
      instructions: p.instructions.length / 8,
      subprograms: p.subprograms.map((s) => s.name),
      kfuncCalls: [...new Set(p.relocations.flatMap((r) => (r.kind === "kfuncCall" ? [r.extern] : [])))],
      coreRelocations: p.coreRelos.length,
    })),
    maps: spec.maps.map((m) => mapRow(btf, m)),
    globals: spec.dataSections.map((d) => ({
      section: d.name,
      size: d.size,
      readonly: d.readonly,
      variables: d.variables.map((v) => ({
        name: v.name,
        offset: v.offset,
        size: v.size,
        type: typeName(btf, v.typeId),
      })),
    })),
    kfuncs: spec.externs
      .filter((e) => e.kind === "kfunc")
      .map((e) => ({
        name: e.name,
        lookupName: e.essentialName,
        prototype: withNames(
          (btf && safe(() => cFuncPrototype(btf, e.btfId))) ?? `${e.name}(?)`,
          e.name,
          btf && unnamedParams(btf, e.btfId) ? paramNames : undefined,
        ),
        weak: e.weak,
      })),
    ksyms: spec.externs
      .filter((e) => e.kind === "ksym")
      .map((e) => ({ name: e.name, declaration: decl(e.typeId, e.name, `void ${e.name}`), weak: e.weak })),
    kconfig: spec.externs
      .filter((e) => e.kind === "kconfig")
      .map((e) => ({
        name: e.name,
        declaration: decl(e.typeId, e.name, e.name),
        weak: e.weak,
        offset: e.offset,
      })),
    coreRelocations: { total, byKind },
  };
}

/** True when the FUNC's prototype has parameters and none of them is named (what clang emits for externs). */
function unnamedParams(btf: Btf, funcId: number): boolean {
  const fn = safe(() => btf.typeById(funcId));
  const proto = fn?.kind === "FUNC" ? safe(() => btf.typeById(fn.type)) : undefined;
  return proto?.kind === "FUNC_PROTO" && proto.params.length > 0 && proto.params.every((p) => !p.name);
}

function withNames(prototype: string, name: string, source: ParamNameSource | undefined): string {
  if (!source) return prototype;
  const inner = prototype.slice(prototype.indexOf("(") + 1, prototype.lastIndexOf(")")).trim();
  const count = inner === "" || inner === "void" ? 0 : inner.split(",").length;
  const names = source(name, count);
  return names ? nameParams(prototype, names) : prototype;
}

export interface ModuleReport {
  kind: "module";
  file: string;
  name: string | undefined;
  vermagic: string | undefined;
  hasBtf: boolean;
  hasDistilledBase: boolean;
  /** Where the base BTF for the module's split BTF came from ("--base x", ".BTF.base", "/sys/kernel/btf/vmlinux"). */
  base: string | undefined;
  /** Undefined when the base matched (or there is no BTF); otherwise why prototypes could not be printed. */
  baseProblem: string | undefined;
  kfuncSets: Array<{
    name: string;
    kind: "set8" | "set";
    resolved: boolean;
    flags: number;
    functions: Array<{ name: string; id: number; flags: number; prototype: string | undefined }>;
  }>;
}

/**
 * `moduleBtf` is the module's split BTF parsed on `base` (undefined when there is no .BTF or it could not be
 * parsed; `baseProblem` then says why). A set entry whose id does not name the declared function means the
 * base does not match: the report says so rather than printing another function's prototype.
 */
export function moduleReport(
  mod: KernelModuleSpec,
  moduleBtf: Btf | undefined,
  base: string | undefined,
  parseProblem: string | undefined,
): ModuleReport {
  let baseProblem = parseProblem;
  const sets = mod.kfuncSets.map((s) => ({
    name: s.name,
    kind: s.kind,
    resolved: s.resolved,
    flags: s.flags,
    functions: s.entries.map((e, i) => {
      const name = e.func ?? `#${i}`;
      let prototype: string | undefined;
      if (moduleBtf) {
        let id = 0;
        if (e.id !== 0) {
          const t = safe(() => moduleBtf.typeById(e.id).name);
          const kind = safe(() => moduleBtf.typeById(e.id).kind);
          if (kind === "FUNC" && (e.func === undefined || t === e.func)) id = e.id;
          else
            baseProblem ??= `set '${s.name}': id ${e.id} is ${t === undefined ? "not a valid type" : `'${t}' (${kind})`}, not FUNC '${name}': the base BTF does not match the kernel the module was built for (pass --base <that kernel's vmlinux BTF>)`;
        } else if (e.func) id = moduleBtf.findByName(e.func, "FUNC")?.id ?? 0;
        if (id) prototype = safe(() => cFuncPrototype(moduleBtf, id));
      }
      return { name, id: e.id, flags: e.flags, prototype };
    }),
  }));
  if (baseProblem) for (const s of sets) for (const f of s.functions) f.prototype = undefined;
  return {
    kind: "module",
    file: mod.source,
    name: mod.name,
    vermagic: mod.vermagic,
    hasBtf: mod.hasBtf,
    hasDistilledBase: mod.btfBase !== undefined,
    base,
    baseProblem,
    kfuncSets: sets,
  };
}
