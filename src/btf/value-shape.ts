/**
 * How a BTF type looks as a JS value in the typed mode ("64-bit integers are always bigint"): one
 * classification read by both the typed value codec (value-codec.ts) and the TypeScript printer
 * (ts-decl.ts), so the static type printed for a type is, by construction, what decoding it returns.
 *
 * | BTF | JS value | TS type |
 * |---|---|---|
 * | 8/16/32-bit int, char (not in an array) | number | `number` |
 * | 64/128-bit int, pointer | bigint | `bigint` |
 * | `bool` (`_Bool`) | boolean | `boolean` |
 * | float, double | number | `number` |
 * | enum (≤ 4 bytes) / 8-byte enum, ENUM64 | number / bigint | the enum's name |
 * | `char[N]` | string (to the first NUL; at most N UTF-8 bytes when encoding) | `string` |
 * | array of 8…64-bit ints, pointers, floats | a typed array (`Uint32Array`, `BigUint64Array`…) | same |
 * | array of anything else | a fixed-length tuple (N ≤ 32) or an array | `[T, T]` / `T[]` |
 * | struct, union | an object by member name; anonymous members flattened; padding skipped | interface |
 * | bitfield | number (width ≤ 53 bits), else bigint | `number` / `bigint` |
 * | anything else (void, FWD, FUNC_PROTO, long double) | the raw bytes | `Uint8Array` |
 */
import { BtfError } from "../errors.ts";
import type { Btf } from "./btf.ts";
import { perBtfMaps } from "./per-btf.ts";
import { BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, type BtfStruct } from "./types.ts";

export type TypedArrayName =
  | "Uint8Array"
  | "Int8Array"
  | "Uint16Array"
  | "Int16Array"
  | "Uint32Array"
  | "Int32Array"
  | "BigUint64Array"
  | "BigInt64Array"
  | "Float32Array"
  | "Float64Array";

/** Largest array printed and decoded as a fixed-length tuple; longer ones are plain arrays. */
export const MAX_TUPLE = 32;

export type ValueShape =
  | { kind: "number"; size: 1 | 2 | 4; signed: boolean }
  | { kind: "bigint"; size: 8 | 16; signed: boolean }
  | { kind: "boolean"; size: number }
  | { kind: "float"; size: 4 | 8 }
  /** `typeId` is the ENUM/ENUM64 (resolved); 8-byte enums are bigint. */
  | { kind: "enum"; size: number; signed: boolean; big: boolean; typeId: number }
  | { kind: "string"; size: number }
  | { kind: "typedArray"; array: TypedArrayName; count: number; size: number }
  | { kind: "tuple"; elem: ValueShape; elemTypeId: number; count: number; stride: number; size: number }
  /** `typeId` is the STRUCT/UNION (resolved). */
  | { kind: "struct"; typeId: number; union: boolean; fields: FieldShape[]; size: number }
  | { kind: "bytes"; size: number };

export interface FieldShape {
  /** Member name (anonymous struct/union members are flattened into their parent's fields). */
  name: string;
  /** The member's declared type id (typedefs kept: the printer may name them). */
  typeId: number;
  /** Bits from the start of the outermost struct. */
  bitOffset: number;
  /** Bitfield width, 0 for an ordinary member. */
  bits: number;
  /** The value's shape (for a bitfield: number or bigint by width). */
  shape: ValueShape;
}

const ELEMENT_ARRAYS: Record<string, TypedArrayName> = {
  number1u: "Uint8Array",
  number1s: "Int8Array",
  number2u: "Uint16Array",
  number2s: "Int16Array",
  number4u: "Uint32Array",
  number4s: "Int32Array",
  bigint8u: "BigUint64Array",
  bigint8s: "BigInt64Array",
};

/** True for the plain C `char` (what `char[N]` strings are made of). */
export function isCharType(btf: Btf, id: number): boolean {
  const t = btf.resolve(id);
  return t.kind === "INT" && t.size === 1 && ((t.encoding & BTF_INT_CHAR) !== 0 || t.name === "char");
}

/** The value shape of type `id` (cached per Btf). */
export function shapeOf(btf: Btf, id: number): ValueShape {
  const cache = shapeCache(btf);
  let s = cache.get(id);
  if (!s) {
    s = classify(btf, id, 0);
    cache.set(id, s);
  }
  return s;
}
const shapeCache = perBtfMaps<number, ValueShape>();

const MAX_DEPTH = 64;

function classify(btf: Btf, id: number, depth: number): ValueShape {
  if (depth > MAX_DEPTH) throw new BtfError(btf.source, id, "types nest too deep for a value (a loop?)");
  const t = btf.resolve(id);
  switch (t.kind) {
    case "INT": {
      if ((t.encoding & BTF_INT_BOOL) !== 0) return { kind: "boolean", size: t.size };
      const signed = (t.encoding & BTF_INT_SIGNED) !== 0;
      if (t.size === 1 || t.size === 2 || t.size === 4) return { kind: "number", size: t.size, signed };
      if (t.size === 8 || t.size === 16) return { kind: "bigint", size: t.size, signed };
      return { kind: "bytes", size: t.size };
    }
    case "PTR":
      return { kind: "bigint", size: 8, signed: false };
    case "ENUM":
    case "ENUM64":
      if (t.size !== 1 && t.size !== 2 && t.size !== 4 && t.size !== 8)
        return { kind: "bytes", size: t.size };
      return { kind: "enum", size: t.size, signed: t.signed, big: t.size === 8, typeId: t.id };
    case "FLOAT":
      return t.size === 4 || t.size === 8 ? { kind: "float", size: t.size } : { kind: "bytes", size: t.size };
    case "ARRAY": {
      const size = btf.sizeof(id);
      if (isCharType(btf, t.type)) return { kind: "string", size };
      const elem = classify(btf, t.type, depth + 1);
      const count = t.nelems;
      const stride = count > 0 ? size / count : btf.sizeof(t.type);
      const array = typedArrayFor(elem);
      if (array) return { kind: "typedArray", array, count, size };
      return { kind: "tuple", elem, elemTypeId: t.type, count, stride, size };
    }
    case "STRUCT":
    case "UNION": {
      const fields: FieldShape[] = [];
      collectFields(btf, t, 0, fields, depth);
      return { kind: "struct", typeId: t.id, union: t.kind === "UNION", fields, size: t.size };
    }
    default:
      return { kind: "bytes", size: t.kind === "VOID" || t.kind === "FUNC_PROTO" ? 0 : btf.sizeof(id) };
  }
}

function typedArrayFor(s: ValueShape): TypedArrayName | undefined {
  if (s.kind === "float") return s.size === 4 ? "Float32Array" : "Float64Array";
  if (s.kind === "number" || (s.kind === "bigint" && s.size === 8))
    return ELEMENT_ARRAYS[`${s.kind}${s.size}${s.signed ? "s" : "u"}`];
  return undefined;
}

function collectFields(btf: Btf, t: BtfStruct, base: number, out: FieldShape[], depth: number): void {
  for (const m of t.members) {
    const mt = btf.resolve(m.type);
    const bitOffset = base + m.bitOffset;
    if (!m.name) {
      // anonymous struct/union: its members are the parent's (as in C); anything else is padding
      if (mt.kind === "STRUCT" || mt.kind === "UNION") collectFields(btf, mt, bitOffset, out, depth + 1);
      continue;
    }
    const bits = t.kindFlag ? m.bitfieldSize : 0;
    let shape = classify(btf, m.type, depth + 1);
    if (bits) {
      const signed =
        (shape.kind === "number" || shape.kind === "bigint" || shape.kind === "enum") && shape.signed;
      shape = bits <= 53 ? { kind: "number", size: 4, signed } : { kind: "bigint", size: 8, signed };
    }
    out.push({ name: m.name, typeId: m.type, bitOffset, bits, shape });
  }
}

/** The shape of a value known only by its size (a map declared with `__uint(key_size, 4)`, no BTF). */
export function shapeOfSize(size: number): ValueShape {
  if (size === 1 || size === 2 || size === 4) return { kind: "number", size, signed: false };
  if (size === 8 || size === 16) return { kind: "bigint", size, signed: false };
  return { kind: "bytes", size };
}
