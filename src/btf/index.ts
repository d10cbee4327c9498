/** kfunc-kit/btf: the BTF model, parser (plain and split), .BTF.ext, writer and builder, C printer, kfunc discovery and dumps. */
export { BTF_MAX_TYPES, type Btf, type ParseBtfOptions, parseBtf, stringsEnd } from "./btf.ts";
export { BtfBuilder, type BtfBuilderOptions, type BtfTypeInit } from "./builder.ts";
export {
  cDeclaration,
  cDefinition,
  cFuncPrototype,
  type DumpCOptions,
  dumpC,
  dumpCBytes,
} from "./c-printer.ts";
export { type BtfJson, dumpJson, parseBtfJson } from "./dump-json.ts";
export { dumpRaw, rawLine } from "./dump-raw.ts";
export {
  BPF_CORE,
  BPF_CORE_ENUMVAL_EXISTS,
  BPF_CORE_ENUMVAL_VALUE,
  BPF_CORE_FIELD_BYTE_OFFSET,
  BPF_CORE_FIELD_BYTE_SIZE,
  BPF_CORE_FIELD_EXISTS,
  BPF_CORE_FIELD_LSHIFT_U64,
  BPF_CORE_FIELD_RSHIFT_U64,
  BPF_CORE_FIELD_SIGNED,
  BPF_CORE_TYPE_EXISTS,
  BPF_CORE_TYPE_ID_LOCAL,
  BPF_CORE_TYPE_ID_TARGET,
  BPF_CORE_TYPE_MATCHES,
  BPF_CORE_TYPE_SIZE,
  type BpfCoreReloKind,
  type BpfCoreReloKindName,
  type BtfExt,
  type CoreRelo,
  coreReloKindName,
  type FuncInfo,
  type LineInfo,
  parseBtfExt,
} from "./ext.ts";
export { BTF_MAGIC, type BtfHeader, parseBtfHeader } from "./header.ts";
export { FASTCALL_DECL_TAG, KFUNC_DECL_TAG } from "./kfunc-tags.ts";
export { findKfuncs, hasKfuncTags, type KfuncInfo } from "./kfuncs.ts";
export { MAX_TYPE_DEPTH, POINTER_SIZE } from "./layout.ts";
export { TS_RESERVED, type TsDeclOptions, TsDeclPrinter, type TsEnumConst, UniqueNames } from "./ts-decl.ts";
export * from "./types.ts";
export { codecOfShape, type TypedCodec, typedCodecFor, typedSizeCodec } from "./value-codec.ts";
export {
  type FieldShape,
  isCharType,
  MAX_TUPLE,
  shapeOf,
  shapeOfSize,
  type TypedArrayName,
  type ValueShape,
} from "./value-shape.ts";
export { type EncodeBtfOptions, encodeBtf } from "./writer.ts";
