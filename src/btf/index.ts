export { BTF_MAX_TYPES, type Btf, type ParseBtfOptions, parseBtf, stringsEnd } from "./btf.ts";
export { BTF_MAGIC, type BtfHeader, parseBtfHeader } from "./header.ts";
export { MAX_TYPE_DEPTH, POINTER_SIZE } from "./layout.ts";
export * from "./types.ts";
