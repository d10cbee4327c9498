/** Deep copies of specs: editing a clone never changes the original. BTF models are immutable and shared. */
import type { DataSectionSpec, MapSpec, ObjectSpec, ProgramSpec } from "./types.ts";

export function cloneMapSpec(m: MapSpec): MapSpec {
  return {
    ...m,
    type: { ...m.type },
    innerMap: m.innerMap ? cloneMapSpec(m.innerMap) : undefined,
    initialValues: m.initialValues.map((v) => ({ ...v })),
    data: m.data?.slice(),
  };
}

export function cloneProgramSpec(p: ProgramSpec): ProgramSpec {
  return {
    ...p,
    type: { ...p.type },
    expectedAttachType: p.expectedAttachType ? { ...p.expectedAttachType } : undefined,
    instructions: p.instructions.slice(),
    subprograms: p.subprograms.map((s) => ({ ...s })),
    relocations: p.relocations.map((r) => ({ ...r })),
    funcInfo: p.funcInfo.map((f) => ({ ...f })),
    lineInfo: p.lineInfo.map((l) => ({ ...l })),
    coreRelos: p.coreRelos.map((c) => ({ ...c })),
  };
}

export function cloneDataSectionSpec(d: DataSectionSpec): DataSectionSpec {
  return { ...d, bytes: d.bytes.slice(), variables: d.variables.map((v) => ({ ...v })) };
}

/**
 * Deep copy of an ObjectSpec. A data map and its data section keep sharing one buffer in the copy, as in
 * the original (`maps[i].data === dataSections[j].bytes`), so writing a global through either is seen by both.
 */
export function cloneObjectSpec(spec: ObjectSpec): ObjectSpec {
  const dataSections = spec.dataSections.map(cloneDataSectionSpec);
  const maps = spec.maps.map((m) => {
    const c = cloneMapSpec(m);
    const d = m.dataSection === undefined ? undefined : dataSections.find((s) => s.name === m.dataSection);
    if (d && m.data === spec.dataSections.find((s) => s.name === m.dataSection)?.bytes) c.data = d.bytes;
    return c;
  });
  return {
    ...spec,
    programs: spec.programs.map(cloneProgramSpec),
    maps,
    dataSections,
    externs: spec.externs.map((e) => ({ ...e })),
  };
}
