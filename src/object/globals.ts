/**
 * Global variables on the spec: the data section (`DataSectionSpec.bytes`) owns a global data map's
 * initial contents — the map names its section (`MapSpec.dataSection`), it keeps no copy — and
 * `setGlobal`/`getGlobal` edit and read those bytes through the BTF value codec (src/btf/codec.ts).
 */
import type { Btf } from "../btf/btf.ts";
import { type BtfValue, bytesCodec, codecFor } from "../btf/codec.ts";
import { UsageError } from "../errors.ts";
import type { DataSectionKind, DataSectionSpec, DataVariableSpec, MapSpec, ObjectSpec } from "./types.ts";

/** The data section a global data map represents; undefined for other maps. */
export function dataSectionOf(spec: ObjectSpec, map: MapSpec): DataSectionSpec | undefined {
  return map.dataSection === undefined
    ? undefined
    : spec.dataSections.find((d) => d.name === map.dataSection);
}

/** The variable `name` of a data section (not .kconfig, which the loader fills), or a usage error naming them. */
export function findGlobal(spec: ObjectSpec, name: string): { ds: DataSectionSpec; v: DataVariableSpec } {
  for (const ds of spec.dataSections)
    for (const v of ds.variables) if (v.name === name && ds.kind !== "kconfig") return { ds, v };
  const known = spec.dataSections.flatMap((d) =>
    d.kind === "kconfig" ? [] : d.variables.map((v) => v.name),
  );
  throw new UsageError(`${spec.source}: no global variable named '${name}'`, {
    hint: `variables: ${known.join(", ") || "(none)"}`,
  });
}

/**
 * Sets a global variable's initial value on the spec (before load), typed by its BTF: the way to
 * configure `const volatile` (.rodata) knobs. Numbers/bigints for ints, strings for char arrays, objects
 * for structs; a Uint8Array sets raw bytes.
 */
export function setGlobal(spec: ObjectSpec, name: string, value: BtfValue): void {
  const { ds, v } = findGlobal(spec, name);
  const btf: Btf | undefined = spec.btf;
  const c = btf && v.typeId && !(value instanceof Uint8Array) ? codecFor(btf, v.typeId) : bytesCodec(v.size);
  const buf = new Uint8Array(v.size);
  c.encode(value, buf, 0);
  ds.bytes.set(buf, v.offset);
}

/** Reads a global variable's initial value from the spec. */
export function getGlobal(spec: ObjectSpec, name: string): BtfValue {
  const { ds, v } = findGlobal(spec, name);
  const c = spec.btf && v.typeId ? codecFor(spec.btf, v.typeId) : bytesCodec(v.size);
  return c.size === v.size ? c.decode(ds.bytes, v.offset) : bytesCodec(v.size).decode(ds.bytes, v.offset);
}

/**
 * The named variables of every `kind` section (.data, .rodata.*, …), each name once (its first
 * definition), without those in `hidden`: what a skeleton's generator types and its runtime exposes.
 */
export function namedVariables(
  spec: ObjectSpec,
  kind: DataSectionKind,
  hidden: ReadonlySet<string> = new Set(),
): Array<{ ds: DataSectionSpec; v: DataVariableSpec }> {
  const out: Array<{ ds: DataSectionSpec; v: DataVariableSpec }> = [];
  const seen = new Set<string>();
  for (const ds of spec.dataSections) {
    if (ds.kind !== kind) continue;
    for (const v of ds.variables) {
      if (!v.name || hidden.has(v.name) || seen.has(v.name)) continue;
      seen.add(v.name);
      out.push({ ds, v });
    }
  }
  return out;
}
