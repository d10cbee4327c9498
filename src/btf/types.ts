/**
 * The BTF type model (kernel `include/uapi/linux/btf.h`). Types are plain data; ids are numbers.
 * Id 0 is `void`. In split BTF (a module's BTF on a vmlinux base) ids continue after the base's last id.
 */
export const BTF_KIND = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

export type BtfKindName = keyof typeof BTF_KIND;

/** INT encoding bits (BTF_INT_SIGNED etc.). */
export const BTF_INT_SIGNED = 1;
export const BTF_INT_CHAR = 2;
export const BTF_INT_BOOL = 4;

/** FUNC linkage (BTF_FUNC_STATIC …) and VAR linkage. */
export const BTF_FUNC_STATIC = 0;
export const BTF_FUNC_GLOBAL = 1;
export const BTF_FUNC_EXTERN = 2;
export const BTF_VAR_STATIC = 0;
export const BTF_VAR_GLOBAL_ALLOCATED = 1;
export const BTF_VAR_GLOBAL_EXTERN = 2;

interface Base {
  /** This type's id (in split BTF: a global id, continuing after the base). */
  id: number;
  /** Name, "" for anonymous. */
  name: string;
}

export interface BtfInt extends Base {
  kind: "INT";
  size: number;
  /** BTF_INT_SIGNED | BTF_INT_CHAR | BTF_INT_BOOL */
  encoding: number;
  bitOffset: number;
  bits: number;
}
export interface BtfPtr extends Base {
  kind: "PTR";
  type: number;
}
export interface BtfArray extends Base {
  kind: "ARRAY";
  type: number;
  indexType: number;
  nelems: number;
}
export interface BtfMember {
  name: string;
  type: number;
  /** Offset in bits from the start of the struct. */
  bitOffset: number;
  /** Bitfield size in bits, 0 when not a bitfield (only meaningful when the struct's kindFlag is set). */
  bitfieldSize: number;
}
export interface BtfStruct extends Base {
  kind: "STRUCT" | "UNION";
  size: number;
  /** kind_flag: member offsets encode bitfield sizes. */
  kindFlag: boolean;
  members: BtfMember[];
}
export interface BtfEnumValue {
  name: string;
  /** ENUM: a 32-bit value (signed or unsigned per `signed`); ENUM64: may be a bigint beyond 2^53. */
  value: number | bigint;
}
export interface BtfEnum extends Base {
  kind: "ENUM" | "ENUM64";
  size: number;
  /** kind_flag: values are signed. */
  signed: boolean;
  values: BtfEnumValue[];
}
export interface BtfFwd extends Base {
  kind: "FWD";
  /** true: `union x;`, false: `struct x;` */
  union: boolean;
}
export interface BtfRef extends Base {
  kind: "TYPEDEF" | "VOLATILE" | "CONST" | "RESTRICT" | "TYPE_TAG";
  type: number;
}
export interface BtfFunc extends Base {
  kind: "FUNC";
  /** The FUNC_PROTO. */
  type: number;
  /** BTF_FUNC_STATIC | BTF_FUNC_GLOBAL | BTF_FUNC_EXTERN */
  linkage: number;
}
export interface BtfParam {
  name: string;
  /** 0 with an empty name as the last param means "..." (variadic). */
  type: number;
}
export interface BtfFuncProto extends Base {
  kind: "FUNC_PROTO";
  returnType: number;
  params: BtfParam[];
}
export interface BtfVar extends Base {
  kind: "VAR";
  type: number;
  /** BTF_VAR_STATIC | BTF_VAR_GLOBAL_ALLOCATED | BTF_VAR_GLOBAL_EXTERN */
  linkage: number;
}
export interface BtfVarSecinfo {
  /** The VAR (or FUNC, for .ksyms) type id. */
  type: number;
  offset: number;
  size: number;
}
export interface BtfDatasec extends Base {
  kind: "DATASEC";
  size: number;
  vars: BtfVarSecinfo[];
}
export interface BtfFloat extends Base {
  kind: "FLOAT";
  size: number;
}
export interface BtfDeclTag extends Base {
  kind: "DECL_TAG";
  type: number;
  /** -1: the tag applies to the type itself; otherwise a member/param index. */
  componentIdx: number;
}
export interface BtfVoid extends Base {
  kind: "VOID";
}

export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfPtr
  | BtfArray
  | BtfStruct
  | BtfEnum
  | BtfFwd
  | BtfRef
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag;

export type BtfTypeKind = BtfType["kind"];
