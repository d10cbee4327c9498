export { type BtfObject, type BtfValue, codecFor, mapCodec, type ValueCodec } from "./btf-codec.ts";
export { BpfMap, type BpfMapProps, type MapKey } from "./map.ts";
export { Program, type ProgramProps } from "./program.ts";
export { liveObjectCount } from "./registry.ts";
