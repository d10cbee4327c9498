/**
 * Map definitions: BTF-defined maps in `.maps` (libbpf's parse_btf_map_def) and legacy `struct bpf_map_def`
 * in `maps`. The bpf_helpers.h macros encode values in types:
 *   __uint(name, v)   → `int (*name)[v]`   (PTR → ARRAY with nelems v)
 *   __type(name, T)   → `T *name`          (PTR → T)
 *   __array(name, T)  → `T *name[]`        (ARRAY of PTR → T, nelems 0)
 */
import type { Btf, BtfStruct } from "../btf/index.ts";
import type { ElfFile, ElfSection } from "../elf/index.ts";
import { STT_FUNC, STT_SECTION } from "../elf/index.ts";
import { ObjectError } from "../errors.ts";
import type { MapInitialValue, MapSpec } from "./types.ts";
import { MAP_TYPE, mapType } from "./uapi.ts";

function emptyMap(name: string, origin: MapSpec["origin"]): MapSpec {
  return {
    name,
    type: mapType(0),
    keySize: 0,
    valueSize: 0,
    maxEntries: 0,
    flags: 0,
    pinning: 0,
    numaNode: 0,
    mapExtra: 0n,
    keyTypeId: 0,
    valueTypeId: 0,
    btfVarId: 0,
    innerMap: undefined,
    initialValues: [],
    dataSection: undefined,
    origin,
  };
}

function isMapInMap(type: number): boolean {
  return type === MAP_TYPE.ARRAY_OF_MAPS || type === MAP_TYPE.HASH_OF_MAPS;
}

interface MapDefContext {
  btf: Btf;
  file: string;
}

/** `__uint(name, v)`: the `v` of `int (*name)[v]`. */
function uintMember(ctx: MapDefContext, map: string, member: string, typeId: number): number {
  const ptr = ctx.btf.skipModifiers(typeId);
  const arr = ptr.kind === "PTR" ? ctx.btf.resolve(ptr.type) : undefined;
  if (arr?.kind !== "ARRAY")
    throw new ObjectError(
      `file '${ctx.file}': map '${map}': attribute '${member}' is not an __uint() (expected a pointer to an array)`,
      { hint: `declare it with __uint(${member}, <value>) from bpf/bpf_helpers.h` },
    );
  return arr.nelems;
}

/** `__type(name, T)`: T's id. */
function typeMember(ctx: MapDefContext, map: string, member: string, typeId: number): number {
  const ptr = ctx.btf.skipModifiers(typeId);
  if (ptr.kind !== "PTR")
    throw new ObjectError(
      `file '${ctx.file}': map '${map}': attribute '${member}' is not a __type() (expected a pointer)`,
      { hint: `declare it with __type(${member}, <type>) from bpf/bpf_helpers.h` },
    );
  return ptr.type;
}

/**
 * Decodes one map definition struct. `inner` is set while decoding the template of `__array(values, …)`.
 * Returns the map and, when present, the byte offset of the `values` array inside the struct.
 */
function decodeBtfMapDef(
  ctx: MapDefContext,
  name: string,
  def: BtfStruct,
  inner: boolean,
): { map: MapSpec; valuesOffset: number | undefined; valuesIsProg: boolean } {
  const map = emptyMap(name, ".maps");
  let valuesOffset: number | undefined;
  let valuesIsProg = false;
  let innerDef: BtfStruct | undefined;
  for (const m of def.members) {
    switch (m.name) {
      case "type":
        map.type = mapType(uintMember(ctx, name, m.name, m.type));
        break;
      case "max_entries":
        map.maxEntries = uintMember(ctx, name, m.name, m.type);
        break;
      case "map_flags":
        map.flags = uintMember(ctx, name, m.name, m.type);
        break;
      case "numa_node":
        map.numaNode = uintMember(ctx, name, m.name, m.type);
        break;
      case "pinning":
        map.pinning = uintMember(ctx, name, m.name, m.type);
        if (map.pinning > 1)
          throw new ObjectError(`file '${ctx.file}': map '${name}': invalid pinning value ${map.pinning}`, {
            hint: "use LIBBPF_PIN_NONE (0) or LIBBPF_PIN_BY_NAME (1)",
          });
        break;
      case "map_extra": {
        // libbpf's __ulong(map_extra, v) (bpf_helpers.h ≥ 1.4, arena maps): an anonymous enum whose one
        // value is v; __uint() before it
        const t = ctx.btf.skipModifiers(m.type);
        const only =
          (t.kind === "ENUM" || t.kind === "ENUM64") && t.values.length === 1 ? t.values[0] : undefined;
        map.mapExtra = only
          ? BigInt.asUintN(64, BigInt(only.value))
          : BigInt(uintMember(ctx, name, m.name, m.type));
        break;
      }
      case "key_size":
        map.keySize = checkSize(ctx, name, "key", map.keySize, uintMember(ctx, name, m.name, m.type));
        break;
      case "value_size":
        map.valueSize = checkSize(ctx, name, "value", map.valueSize, uintMember(ctx, name, m.name, m.type));
        break;
      case "key": {
        map.keyTypeId = typeMember(ctx, name, m.name, m.type);
        map.keySize = checkSize(ctx, name, "key", map.keySize, ctx.btf.sizeof(map.keyTypeId));
        break;
      }
      case "value": {
        map.valueTypeId = typeMember(ctx, name, m.name, m.type);
        map.valueSize = checkSize(ctx, name, "value", map.valueSize, ctx.btf.sizeof(map.valueTypeId));
        break;
      }
      case "values": {
        if (inner)
          throw new ObjectError(`file '${ctx.file}': map '${name}': an inner map cannot have 'values'`, {
            hint: "only one level of map-in-map is supported (as in libbpf)",
          });
        const arr = ctx.btf.skipModifiers(m.type);
        const elem = arr.kind === "ARRAY" ? ctx.btf.skipModifiers(arr.type) : undefined;
        const target = elem?.kind === "PTR" ? ctx.btf.resolve(elem.type) : undefined;
        if (!target || (target.kind !== "STRUCT" && target.kind !== "FUNC_PROTO"))
          throw new ObjectError(
            `file '${ctx.file}': map '${name}': 'values' must be __array(values, struct {…}) or __array(values, int (void *))`,
            { hint: "see the map-in-map and prog-array examples in docs/object.md" },
          );
        valuesOffset = m.bitOffset / 8;
        if (target.kind === "STRUCT") innerDef = target;
        else valuesIsProg = true;
        map.valueSize = checkSize(ctx, name, "value", map.valueSize, 4);
        break;
      }
      default:
        throw new ObjectError(`file '${ctx.file}': map '${name}': unknown attribute '${m.name}'`, {
          hint: "known: type, key, value, key_size, value_size, max_entries, map_flags, numa_node, pinning, map_extra, values",
        });
    }
  }
  if (innerDef) {
    if (!isMapInMap(map.type.id))
      throw new ObjectError(
        `file '${ctx.file}': map '${name}': __array(values, struct …) needs type ARRAY_OF_MAPS or HASH_OF_MAPS, not ${map.type.name}`,
        { hint: "use __array(values, int (void *)) for a BPF_MAP_TYPE_PROG_ARRAY" },
      );
    map.innerMap = decodeBtfMapDef(ctx, `${name}.inner`, innerDef, true).map;
  }
  if (valuesIsProg && map.type.id !== MAP_TYPE.PROG_ARRAY)
    throw new ObjectError(
      `file '${ctx.file}': map '${name}': __array(values, <function>) needs BPF_MAP_TYPE_PROG_ARRAY, not ${map.type.name}`,
      { hint: "program slots only exist in prog arrays" },
    );
  return { map, valuesOffset, valuesIsProg };
}

function checkSize(ctx: MapDefContext, map: string, what: string, old: number, next: number): number {
  if (old !== 0 && old !== next)
    throw new ObjectError(`file '${ctx.file}': map '${map}': conflicting ${what} size ${old} and ${next}`, {
      hint: `give either __type(${what}, …) or __uint(${what}_size, …), or make them agree`,
    });
  return next;
}

/** Reads BTF-defined maps from the `.maps` section, including initial `values` from its relocations. */
export function readBtfMaps(elf: ElfFile, section: ElfSection, btf: Btf | undefined): MapSpec[] {
  if (!btf)
    throw new ObjectError(`file '${elf.source}': section '.maps' needs BTF, but the object has no .BTF`, {
      hint: "compile with clang -g",
    });
  const datasec = btf.findByName(".maps", "DATASEC");
  if (datasec?.kind !== "DATASEC")
    throw new ObjectError(`file '${elf.source}': section '.maps': no DATASEC '.maps' in BTF`, {
      hint: "compile with clang -g so BTF describes the map definitions",
    });
  const ctx: MapDefContext = { btf, file: elf.source };
  const symbols = new Map<string, { value: number; size: number }>();
  for (const s of elf.symbols)
    if (s.shndx === section.index && s.type !== STT_SECTION && s.name) symbols.set(s.name, s);
  const maps: Array<{ map: MapSpec; offset: number; size: number; valuesOffset: number | undefined }> = [];
  for (const vs of datasec.vars) {
    const v = btf.typeById(vs.type);
    if (v.kind !== "VAR") continue;
    const def = btf.resolve(v.type);
    if (def.kind !== "STRUCT")
      throw new ObjectError(
        `file '${elf.source}': map '${v.name}': definition is a ${def.kind}, not a struct`,
        {
          hint: 'define maps as `struct { __uint(type, …); … } name SEC(".maps");`',
        },
      );
    const sym = symbols.get(v.name);
    if (!sym)
      throw new ObjectError(`file '${elf.source}': map '${v.name}': no ELF symbol in section '.maps'`, {
        hint: "is the object stripped? maps need their symbols",
      });
    const { map, valuesOffset } = decodeBtfMapDef(ctx, v.name, def, false);
    map.btfVarId = v.id;
    maps.push({ map, offset: sym.value, size: Math.max(sym.size, def.size), valuesOffset });
  }
  // `.values = { [i] = &x }` initialisers are relocations against the `values` array slots.
  for (const r of elf.relocationsFor(section.index)) {
    const owner = maps.find((m) => r.offset >= m.offset && r.offset < m.offset + m.size);
    const sym = elf.symbols[r.symbol]!;
    if (!owner || owner.valuesOffset === undefined || r.offset < owner.offset + owner.valuesOffset)
      throw new ObjectError(
        `file '${elf.source}': section '.maps': relocation at offset ${r.offset} ('${sym.name}') is not in a 'values' array`,
        { hint: "only __array(values, …) slots may be initialised with pointers" },
      );
    const index = (r.offset - owner.offset - owner.valuesOffset) / 8;
    const kind: MapInitialValue["kind"] = sym.type === STT_FUNC ? "program" : "map";
    if ((kind === "program") !== (owner.map.type.id === MAP_TYPE.PROG_ARRAY))
      throw new ObjectError(
        `file '${elf.source}': map '${owner.map.name}': slot ${index} is initialised with ${kind} '${sym.name}'`,
        { hint: "prog arrays hold programs; ARRAY_OF_MAPS/HASH_OF_MAPS hold maps" },
      );
    owner.map.initialValues.push({ index, kind, name: sym.name });
  }
  for (const m of maps) m.map.initialValues.sort((a, b) => a.index - b.index);
  return maps.sort((a, b) => a.offset - b.offset).map((m) => m.map);
}

/** Reads legacy `struct bpf_map_def` maps from a `maps` section (one per symbol). */
export function readLegacyMaps(elf: ElfFile, section: ElfSection): MapSpec[] {
  const syms = elf.symbols
    .filter((s) => s.shndx === section.index && s.type !== STT_SECTION && s.name)
    .sort((a, b) => a.value - b.value);
  if (syms.length === 0) return [];
  const view = new DataView(section.data.buffer, section.data.byteOffset, section.data.byteLength);
  const out: MapSpec[] = [];
  for (const s of syms) {
    const size = s.size || Math.floor(section.size / syms.length);
    if (size < 20 || s.value + size > section.size)
      throw new ObjectError(
        `file '${elf.source}': section 'maps': map '${s.name}' definition is ${size} bytes at offset ${s.value}; struct bpf_map_def needs 20`,
        { hint: 'use BTF-defined maps (SEC(".maps")); legacy maps are deprecated since libbpf 1.0' },
      );
    const u32 = (i: number) => view.getUint32(s.value + i * 4, elf.littleEndian);
    const map = emptyMap(s.name, "maps");
    map.type = mapType(u32(0));
    map.keySize = u32(1);
    map.valueSize = u32(2);
    map.maxEntries = u32(3);
    map.flags = u32(4);
    if (size >= 28) map.numaNode = u32(6);
    out.push(map);
  }
  return out;
}
