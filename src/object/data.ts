/** Global data sections (.data, .rodata, .bss, .data.*, .rodata.*) and their BTF DATASEC variables. */
import type { Btf } from "../btf/index.ts";
import type { ElfFile, ElfSection } from "../elf/index.ts";
import { SHF_ALLOC, SHT, STT_SECTION } from "../elf/index.ts";
import { ObjectError } from "../errors.ts";
import type { DataSectionKind, DataSectionSpec, DataVariableSpec } from "./types.ts";

/**
 * No kernel creates an array map value this large (array maps cap value_size at KMALLOC_MAX_SIZE, 4 MiB on
 * x86-64), and a NOBITS size costs no file bytes, so a corrupt header could otherwise ask for gigabytes.
 */
export const MAX_DATA_SECTION_SIZE = 64 << 20;

/** libbpf's rule: `.data`, `.data.*`, `.rodata`, `.rodata.*`, `.bss`, `.bss.*` (the last for NOBITS only, as libbpf). */
export function dataSectionKind(name: string): DataSectionKind | undefined {
  if (name === ".data" || name.startsWith(".data.")) return "data";
  if (name === ".rodata" || name.startsWith(".rodata.")) return "rodata";
  if (name === ".bss" || name.startsWith(".bss.")) return "bss";
  return undefined;
}

export function isDataSection(s: ElfSection): boolean {
  return (
    (s.type === SHT.PROGBITS || s.type === SHT.NOBITS) &&
    (s.flags & SHF_ALLOC) !== 0 &&
    s.size > 0 &&
    dataSectionKind(s.name) !== undefined
  );
}

/**
 * Reads every non-empty global data section. Variable offsets come from the ELF symbols, not from the
 * DATASEC (clang leaves DATASEC offsets and sizes at 0; libbpf fixes them up the same way).
 */
export function readDataSections(elf: ElfFile, btf: Btf | undefined): DataSectionSpec[] {
  const out: DataSectionSpec[] = [];
  for (const s of elf.sections) {
    if (!isDataSection(s)) continue;
    const kind = dataSectionKind(s.name)!;
    if (s.size > MAX_DATA_SECTION_SIZE)
      throw new ObjectError(
        `file '${elf.source}': section '${s.name}': ${s.size} bytes of global data is more than any BPF map value holds`,
        {
          hint: "keep global data small (array map values are limited to KMALLOC_MAX_SIZE, 4 MiB on x86-64)",
        },
      );
    const bytes = s.type === SHT.NOBITS ? new Uint8Array(s.size) : new Uint8Array(s.data); // a copy: slice() of a Buffer view shares memory;
    const datasec = btf?.findByName(s.name, "DATASEC");
    const variables: DataVariableSpec[] = [];
    const symByName = new Map<string, { value: number; size: number }>();
    for (const sym of elf.symbols)
      if (sym.shndx === s.index && sym.type !== STT_SECTION && sym.name) symByName.set(sym.name, sym);
    if (btf && datasec?.kind === "DATASEC") {
      for (const vs of datasec.vars) {
        const v = btf.typeById(vs.type);
        if (v.kind !== "VAR") continue;
        const sym = symByName.get(v.name);
        variables.push({
          name: v.name,
          offset: sym?.value ?? vs.offset,
          size: sym?.size || vs.size || btf.sizeof(v.type),
          varId: v.id,
          typeId: v.type,
          linkage: v.linkage,
        });
      }
    } else {
      for (const [name, sym] of symByName)
        variables.push({ name, offset: sym.value, size: sym.size, varId: 0, typeId: 0, linkage: 0 });
    }
    variables.sort((a, b) => a.offset - b.offset || a.name.localeCompare(b.name));
    out.push({
      name: s.name,
      kind,
      readonly: kind === "rodata",
      size: s.size,
      bytes,
      btfId: datasec?.id ?? 0,
      variables,
    });
  }
  return out;
}
