/**
 * Deep copies of specs: editing a clone never changes the original. BTF models are immutable and shared.
 * Byte arrays are copied with `new Uint8Array(x)`: `x.slice()` of a Node Buffer is a view, not a copy.
 */
import type { DataSectionSpec, MapSpec, ObjectSpec, ProgramSpec } from "./types.ts";

export function cloneMapSpec(m: MapSpec): MapSpec {
  return {
    ...m,
    type: { ...m.type },
    innerMap: m.innerMap ? cloneMapSpec(m.innerMap) : undefined,
    initialValues: m.initialValues.map((v) => ({ ...v })),
  };
}

export function cloneProgramSpec(p: ProgramSpec): ProgramSpec {
  return {
    ...p,
    type: { ...p.type },
    expectedAttachType: p.expectedAttachType ? { ...p.expectedAttachType } : undefined,
    instructions: new Uint8Array(p.instructions),
    subprograms: p.subprograms.map((s) => ({ ...s })),
    relocations: p.relocations.map((r) => ({ ...r })),
    funcInfo: p.funcInfo.map((f) => ({ ...f })),
    lineInfo: p.lineInfo.map((l) => ({ ...l })),
    coreRelos: p.coreRelos.map((c) => ({ ...c })),
  };
}

export function cloneDataSectionSpec(d: DataSectionSpec): DataSectionSpec {
  return { ...d, bytes: new Uint8Array(d.bytes), variables: d.variables.map((v) => ({ ...v })) };
}

/** Deep copy of an ObjectSpec (a data map's contents are its data section's bytes, copied once). */
export function cloneObjectSpec(spec: ObjectSpec): ObjectSpec {
  return {
    ...spec,
    programs: spec.programs.map(cloneProgramSpec),
    maps: spec.maps.map(cloneMapSpec),
    dataSections: spec.dataSections.map(cloneDataSectionSpec),
    externs: spec.externs.map((e) => ({ ...e })),
  };
}
