export { type BtfObject, type BtfValue, codecFor, mapCodec, type ValueCodec } from "../btf/codec.ts";
export { hostSys, type SysBackend } from "../sys/backend.ts";
export type { MapCreateAttr } from "../sys/bpf-map.ts";
export { BtfLoadFailure, type MapInfo } from "../sys/bpf-obj.ts";
export { type ProgLoadAttr, ProgLoadFailure, type ProgLoadOptions } from "../sys/bpf-prog.ts";
export { Fd } from "../sys/fd.ts";
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
export { type Environment, hostEnvironment } from "./environment.ts";
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
