/**
 * Map keys/values and global variables as JS values, decoded from and encoded to bytes by their BTF type.
 *
 * Rule for integers: 8/16/32-bit ints are numbers; 64-bit ints (and pointers) are numbers while they are
 * exact (|v| <= 2^53 - 1), otherwise bigint; 128-bit ints are bigint. Encoding accepts number or bigint.
 * `bool` → boolean, char arrays → string (up to the first NUL), enums → number, floats → number,
 * structs → plain objects by member name (anonymous struct/union members are flattened, as in C),
 * unions → every member decoded from the same bytes, arrays → JS arrays. Without BTF, values are bytes.
 */

import { UsageError } from "../errors.ts";
import type { Btf } from "./btf.ts";
import { perBtfMaps } from "./per-btf.ts";
import type { BtfType } from "./types.ts";
import { BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED } from "./types.ts";

export type BtfValue = number | bigint | boolean | string | Uint8Array | BtfValue[] | BtfObject;
export interface BtfObject {
  [field: string]: BtfValue;
}

export interface ValueCodec {
  readonly size: number;
  decode(bytes: Uint8Array, offset?: number): BtfValue;
  /** Writes `value` into `out` at `offset`; the caller zero-fills first when it wants defaults. */
  encode(value: BtfValue, out: Uint8Array, offset?: number): void;
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function narrow(v: bigint): number | bigint {
  return v <= SAFE && v >= -SAFE ? Number(v) : v;
}

function toBigInt(v: BtfValue, what: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "boolean") return v ? 1n : 0n;
  throw new UsageError(`${what}: expected an integer, got ${typeof v} ${String(v)}`);
}

/** Raw bytes codec (no BTF, or a type kfunc-kit does not decode). */
export function bytesCodec(size: number): ValueCodec {
  return {
    size,
    decode: (b, o = 0) => new Uint8Array(b.subarray(o, o + size)),
    encode(v, out, o = 0) {
      if (!(v instanceof Uint8Array) || v.byteLength !== size)
        throw new UsageError(`expected a Uint8Array of ${size} bytes`);
      out.set(v, o);
    },
  };
}

const TWO32 = 2 ** 32;
const views = new WeakMap<ArrayBufferLike, DataView>();

let lastBytes: Uint8Array | undefined;
let lastView: DataView | undefined;

/**
 * A cached DataView over the whole ArrayBuffer (offsets below add byteOffset). The last array's is kept
 * apart: a map decodes from the same value buffer every time, and `.buffer` plus the WeakMap's lookup were
 * most of what `BpfMap.get` added to its syscall (it keeps that one array alive until another is decoded).
 */
function bufView(b: Uint8Array): DataView {
  if (b === lastBytes) return lastView!;
  let v = views.get(b.buffer);
  if (!v) {
    v = new DataView(b.buffer);
    views.set(b.buffer, v);
  }
  lastBytes = b;
  lastView = v;
  return v;
}

/** Integer codec by size (no BigInt on the common paths: numbers that fit stay numbers). */
export function intCodec(size: number, signed = false): ValueCodec {
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8 && size !== 16) return bytesCodec(size);
  return {
    size,
    decode(b, o = 0) {
      const d = bufView(b);
      const at = b.byteOffset + o;
      switch (size) {
        case 1:
          return signed ? d.getInt8(at) : d.getUint8(at);
        case 2:
          return signed ? d.getInt16(at, true) : d.getUint16(at, true);
        case 4:
          return signed ? d.getInt32(at, true) : d.getUint32(at, true);
        case 8: {
          const lo = d.getUint32(at, true);
          const hi = d.getUint32(at + 4, true);
          if (hi < 0x200000) return hi * TWO32 + lo;
          return narrow(signed ? d.getBigInt64(at, true) : d.getBigUint64(at, true));
        }
        default: {
          const lo = d.getBigUint64(at, true);
          const hi = signed ? d.getBigInt64(at + 8, true) : d.getBigUint64(at + 8, true);
          return (hi << 64n) | lo;
        }
      }
    },
    encode(v, out, o = 0) {
      const d = bufView(out);
      const at = out.byteOffset + o;
      if (typeof v === "number" && Number.isInteger(v) && size <= 4) {
        if (size === 1) d.setUint8(at, v & 0xff);
        else if (size === 2) d.setUint16(at, v & 0xffff, true);
        else d.setUint32(at, v >>> 0, true);
        return;
      }
      if (
        typeof v === "number" &&
        size === 8 &&
        v >= 0 &&
        v <= Number.MAX_SAFE_INTEGER &&
        Number.isInteger(v)
      ) {
        d.setUint32(at, v % TWO32, true);
        d.setUint32(at + 4, Math.floor(v / TWO32), true);
        return;
      }
      const n = toBigInt(v, `int${size * 8}`);
      switch (size) {
        case 1:
          d.setUint8(at, Number(BigInt.asUintN(8, n)));
          return;
        case 2:
          d.setUint16(at, Number(BigInt.asUintN(16, n)), true);
          return;
        case 4:
          d.setUint32(at, Number(BigInt.asUintN(32, n)), true);
          return;
        case 8:
          d.setBigUint64(at, BigInt.asUintN(64, n), true);
          return;
        default:
          d.setBigUint64(at, BigInt.asUintN(64, n), true);
          d.setBigUint64(at + 8, BigInt.asUintN(64, n >> 64n), true);
      }
    },
  };
}

function isChar(btf: Btf, id: number): boolean {
  const t = btf.resolve(id);
  return t.kind === "INT" && t.size === 1 && ((t.encoding & BTF_INT_CHAR) !== 0 || t.name === "char");
}

interface Field {
  name: string;
  byteOffset: number;
  bitOffset: number;
  bits: number;
  codec: ValueCodec;
  signed: boolean;
}

function fieldsOf(btf: Btf, t: BtfType & { kind: "STRUCT" | "UNION" }, base: number, out: Field[]): void {
  for (const m of t.members) {
    const mt = btf.resolve(m.type);
    const bitOff = base + m.bitOffset;
    if (!m.name && (mt.kind === "STRUCT" || mt.kind === "UNION")) {
      fieldsOf(btf, mt, bitOff, out);
      continue;
    }
    const signed = mt.kind === "INT" ? (mt.encoding & BTF_INT_SIGNED) !== 0 : mt.kind === "ENUM" && mt.signed;
    out.push({
      name: m.name || `_${out.length}`,
      byteOffset: Math.floor(bitOff / 8),
      bitOffset: bitOff,
      bits: t.kindFlag ? m.bitfieldSize : 0,
      codec: codecFor(btf, m.type),
      signed,
    });
  }
}

function readBits(b: Uint8Array, o: number, f: Field): number | bigint {
  let v = 0n;
  const first = Math.floor(f.bitOffset / 8);
  const last = Math.floor((f.bitOffset + f.bits - 1) / 8);
  for (let i = last; i >= first; i--) v = (v << 8n) | BigInt(b[o + i]!);
  v = (v >> BigInt(f.bitOffset - first * 8)) & ((1n << BigInt(f.bits)) - 1n);
  if (f.signed && v >> BigInt(f.bits - 1)) v -= 1n << BigInt(f.bits);
  return narrow(v);
}

function writeBits(out: Uint8Array, o: number, f: Field, value: bigint): void {
  const first = Math.floor(f.bitOffset / 8);
  const last = Math.floor((f.bitOffset + f.bits - 1) / 8);
  let word = 0n;
  for (let i = last; i >= first; i--) word = (word << 8n) | BigInt(out[o + i]!);
  const shift = BigInt(f.bitOffset - first * 8);
  const mask = ((1n << BigInt(f.bits)) - 1n) << shift;
  word = (word & ~mask) | ((BigInt.asUintN(f.bits, value) << shift) & mask);
  for (let i = first; i <= last; i++) {
    out[o + i] = Number(word & 0xffn);
    word >>= 8n;
  }
}

/** The codec for a BTF type id (cached per Btf). */
export function codecFor(btf: Btf, id: number): ValueCodec {
  const cache = codecCache(btf);
  const hit = cache.get(id);
  if (hit) return hit;
  const c = build(btf, id);
  cache.set(id, c);
  return c;
}
const codecCache = perBtfMaps<number, ValueCodec>();

function build(btf: Btf, id: number): ValueCodec {
  const t = btf.resolve(id);
  switch (t.kind) {
    case "INT": {
      if (t.encoding & BTF_INT_BOOL && t.size === 1)
        return {
          size: 1,
          decode: (b, o = 0) => b[o] !== 0,
          encode: (v, out, o = 0) => {
            out[o] = v ? 1 : 0;
          },
        };
      return intCodec(t.size, (t.encoding & BTF_INT_SIGNED) !== 0);
    }
    case "ENUM":
    case "ENUM64":
      return intCodec(t.size, t.signed);
    case "PTR":
      return intCodec(8);
    case "FLOAT":
      if (t.size !== 4 && t.size !== 8) return bytesCodec(t.size);
      return {
        size: t.size,
        decode: (b, o = 0) => (t.size === 4 ? view(b).getFloat32(o, true) : view(b).getFloat64(o, true)),
        encode: (v, out, o = 0) => {
          const n = Number(v);
          if (t.size === 4) view(out).setFloat32(o, n, true);
          else view(out).setFloat64(o, n, true);
        },
      };
    case "ARRAY": {
      const size = btf.sizeof(id);
      if (isChar(btf, t.type)) {
        return {
          size,
          decode(b, o = 0) {
            const s = b.subarray(o, o + size);
            const end = s.indexOf(0);
            return new TextDecoder().decode(end < 0 ? s : s.subarray(0, end));
          },
          encode(v, out, o = 0) {
            const enc = typeof v === "string" ? new TextEncoder().encode(v) : (v as Uint8Array);
            out.fill(0, o, o + size);
            out.set(enc.subarray(0, size), o);
          },
        };
      }
      const elem = codecFor(btf, t.type);
      const stride = t.nelems > 0 ? size / t.nelems : 0;
      return {
        size,
        decode(b, o = 0) {
          const a: BtfValue[] = [];
          for (let i = 0; i < t.nelems; i++) a.push(elem.decode(b, o + i * stride));
          return a;
        },
        encode(v, out, o = 0) {
          if (!Array.isArray(v)) throw new UsageError(`array '${t.name}': expected an array`);
          for (let i = 0; i < Math.min(v.length, t.nelems); i++) elem.encode(v[i]!, out, o + i * stride);
        },
      };
    }
    case "STRUCT":
    case "UNION": {
      const fields: Field[] = [];
      fieldsOf(btf, t, 0, fields);
      return {
        size: t.size,
        decode(b, o = 0) {
          const obj: BtfObject = {};
          for (const f of fields)
            obj[f.name] = f.bits ? readBits(b, o, f) : f.codec.decode(b, o + f.byteOffset);
          return obj;
        },
        encode(v, out, o = 0) {
          if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array)
            throw new UsageError(`struct '${t.name}': expected an object`);
          const obj = v as BtfObject;
          for (const f of fields) {
            const fv = obj[f.name];
            if (fv === undefined) continue;
            if (f.bits) writeBits(out, o, f, toBigInt(fv, f.name));
            else f.codec.encode(fv, out, o + f.byteOffset);
          }
        },
      };
    }
    default:
      return bytesCodec(btf.sizeof(id));
  }
}

/** Codec for a map key/value: from BTF when the type id is known, else an int codec by size. */
export function mapCodec(btf: Btf | undefined, typeId: number, size: number): ValueCodec {
  if (btf && typeId) {
    const c = codecFor(btf, typeId);
    if (c.size === size) return c;
  }
  return intCodec(size);
}
