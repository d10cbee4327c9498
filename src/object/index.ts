export { setAutoload } from "./autoload.ts";
export { cloneDataSectionSpec, cloneMapSpec, cloneObjectSpec, cloneProgramSpec } from "./clone.ts";
export { essentialName } from "./externs.ts";
export { dataSectionOf, findGlobal, getGlobal, setGlobal } from "./globals.ts";
export { INSN_SIZE } from "./insn.ts";
export { type KernelModuleSpec, type KfuncIdEntry, type KfuncIdSet, parseKernelModule } from "./kmod.ts";
export { parseObject } from "./parse.ts";
export {
  type AttachKind,
  attachablePrefixes,
  attachBtfName,
  knownSectionPrefixes,
  matchSection,
  SECTION_DEFS,
  type SectionDef,
  type SectionMatch,
  sectionPrefix,
  stripAutoloadMark,
} from "./sections.ts";
export type * from "./types.ts";
export * from "./uapi.ts";
