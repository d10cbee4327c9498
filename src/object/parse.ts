/**
 * parseObject: an eBPF ELF object (clang -target bpf) → ObjectSpec. Pure and deterministic: bytes in, plain
 * data out; nothing here looks at the running kernel.
 */
import { parseBtf, parseBtfExt } from "../btf/index.ts";
import { type ElfFile, EM_BPF, ET_REL, parseElf } from "../elf/index.ts";
import { ObjectError } from "../errors.ts";
import { MAX_DATA_SECTION_SIZE, readDataSections } from "./data.ts";
import { readExterns } from "./externs.ts";
import { readBtfMaps, readLegacyMaps } from "./maps.ts";
import { readPrograms } from "./programs.ts";
import type { DataSectionSpec, MapSpec, ObjectSpec } from "./types.ts";
import { BPF_F_RDONLY_PROG, MAP_TYPE, mapType } from "./uapi.ts";

function readLicense(elf: ElfFile): string {
  const s = elf.section("license");
  if (!s) return "";
  const end = s.data.indexOf(0);
  return new TextDecoder().decode(s.data.subarray(0, end < 0 ? s.data.length : end));
}

function readVersion(elf: ElfFile): number {
  const s = elf.section("version");
  if (!s) return 0;
  if (s.size !== 4)
    throw new ObjectError(`file '${elf.source}': section 'version': ${s.size} bytes, expected 4`, {
      hint: 'declare it as `__u32 _version SEC("version") = LINUX_VERSION_CODE;`',
    });
  return new DataView(s.data.buffer, s.data.byteOffset, 4).getUint32(0, elf.littleEndian);
}

function dataMap(d: DataSectionSpec): MapSpec {
  return {
    name: d.name,
    type: mapType(MAP_TYPE.ARRAY),
    keySize: 4,
    valueSize: d.size,
    maxEntries: 1,
    flags: d.readonly ? BPF_F_RDONLY_PROG : 0,
    pinning: 0,
    numaNode: 0,
    mapExtra: 0n,
    keyTypeId: 0,
    valueTypeId: d.btfId,
    btfVarId: d.btfId,
    innerMap: undefined,
    initialValues: [],
    dataSection: d.name,
    origin: "data",
  };
}

/** Parses an eBPF object. Throws ElfError/BtfError for malformed input, ObjectError for unsupported content. */
export function parseObject(bytes: Uint8Array, source = "<memory>"): ObjectSpec {
  const elf = parseElf(bytes, source);
  if (elf.machine !== EM_BPF)
    throw new ObjectError(`file '${source}': ELF machine ${elf.machine} is not BPF (${EM_BPF})`, {
      hint: "pass an object built with clang -target bpf (for a kernel module use parseKernelModule)",
    });
  if (elf.type !== ET_REL)
    throw new ObjectError(`file '${source}': ELF type ${elf.type} is not a relocatable object`, {
      hint: "pass the .o that clang -c produced",
    });
  const btfSec = elf.section(".BTF");
  const btf = btfSec ? parseBtf(btfSec.data, { source: `${source}: .BTF` }) : undefined;
  const extSec = elf.section(".BTF.ext");
  const btfExt = btf && extSec ? parseBtfExt(extSec.data, btf, `${source}: .BTF.ext`) : undefined;

  const dataSections = readDataSections(elf, btf);
  const { externs, kconfigSize, kconfigBtfId } = readExterns(elf, btf);
  if (kconfigSize > MAX_DATA_SECTION_SIZE)
    throw new ObjectError(
      `file '${source}': section '.kconfig': ${kconfigSize} bytes of kconfig externs is too large`,
      {
        hint: "kconfig externs are scalars (int, bool, char arrays); check their declared types",
      },
    );
  if (externs.some((e) => e.kind === "kconfig"))
    dataSections.push({
      name: ".kconfig",
      kind: "kconfig",
      readonly: true,
      size: kconfigSize,
      bytes: new Uint8Array(kconfigSize),
      btfId: kconfigBtfId,
      variables: externs
        .filter((e) => e.kind === "kconfig")
        .map((e) => ({
          name: e.name,
          offset: e.offset,
          size: e.size,
          varId: e.btfId,
          typeId: e.typeId,
          linkage: 2,
        })),
    });

  const maps: MapSpec[] = [];
  const btfMaps = elf.section(".maps");
  if (btfMaps) maps.push(...readBtfMaps(elf, btfMaps, btf));
  const legacy = elf.section("maps");
  if (legacy) maps.push(...readLegacyMaps(elf, legacy));
  const seen = new Set<string>();
  for (const m of maps) {
    if (seen.has(m.name))
      throw new ObjectError(`file '${source}': map '${m.name}' is defined twice`, {
        hint: "rename one of them",
      });
    seen.add(m.name);
  }
  maps.push(...dataSections.map(dataMap));

  const programs = readPrograms({ elf, btf, ext: btfExt, maps, dataSections, externs });
  for (const m of maps)
    for (const v of m.initialValues)
      if (v.kind === "program" && !programs.some((p) => p.name === v.name))
        throw new ObjectError(
          `file '${source}': map '${m.name}': slot ${v.index} names '${v.name}', which is not a program`,
          { hint: 'prog array slots must point at functions with a SEC("…") annotation' },
        );

  return {
    source,
    littleEndian: elf.littleEndian,
    license: readLicense(elf),
    kernelVersion: readVersion(elf),
    programs,
    maps,
    dataSections,
    externs,
    btf,
    btfExt,
  };
}
