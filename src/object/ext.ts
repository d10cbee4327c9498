/**
 * The part of `.BTF.ext` (src/btf parseBtfExt's BtfExt) the object layer re-indexes per program: records
 * per ELF section name, with instruction offsets in BYTES from the start of that section.
 */
import type { CoreReloKindName } from "./types.ts";

export interface ExtFuncInfo {
  insnOff: number;
  typeId: number;
}
export interface ExtLineInfo {
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  lineCol: number;
}
export interface ExtCoreRelo {
  insnOff: number;
  typeId: number;
  accessStr: string;
  kind: number;
}
export interface ExtRecords {
  funcInfo: Map<string, ExtFuncInfo[]>;
  lineInfo: Map<string, ExtLineInfo[]>;
  coreRelos: Map<string, ExtCoreRelo[]>;
}

export const CORE_RELO_KINDS: readonly CoreReloKindName[] = [
  "FIELD_BYTE_OFFSET",
  "FIELD_BYTE_SIZE",
  "FIELD_EXISTS",
  "FIELD_SIGNED",
  "FIELD_LSHIFT_U64",
  "FIELD_RSHIFT_U64",
  "TYPE_ID_LOCAL",
  "TYPE_ID_TARGET",
  "TYPE_EXISTS",
  "TYPE_SIZE",
  "ENUMVAL_EXISTS",
  "ENUMVAL_VALUE",
  "TYPE_MATCHES",
];
