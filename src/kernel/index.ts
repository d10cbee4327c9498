export { type BtfObject, type BtfValue, codecFor, mapCodec, type ValueCodec } from "../btf/codec.ts";
export * from "./attach/index.ts";
export {
  Collection,
  getGlobal,
  type LoadOptions,
  loadCollection,
  loadCollectionSync,
  loadObjectFile,
  setGlobal,
} from "./collection.ts";
export { checkFeature, type Feature, supports } from "./features.ts";
export { GlobalData, Variable } from "./global-data.ts";
export { loadModuleBtfs, type ModuleBtf, ModuleBtfSet, vmlinuxBtf } from "./kernel-btf.ts";
export { KernelObject } from "./kernel-object.ts";
export { LoadSession } from "./load-session.ts";
export { BpfMap, type BpfMapProps, type MapKey } from "./map.ts";
export { Program, type ProgramProps } from "./program.ts";
export {
  closeAllLive,
  type ExitHandlerOptions,
  installExitHandlers,
  liveObjectCount,
} from "./registry.ts";
export { formatVerifierLog, type SourceLine, sourceLineFor } from "./verifier-error.ts";
