/**
 * The typed value codec: BTF-typed bytes ⇄ JS values by the rules of value-shape.ts ("64-bit integers are
 * always bigint"). What the skeletons use, and what `ts-decl.ts` prints types for. Values are checked when
 * they are encoded: a number where a bigint belongs, a string longer than its `char[N]`, a tuple of the
 * wrong length are errors naming the type, not silently truncated.
 *
 * `read`/`write` take a DataView over the whole of `bytes` (hot paths keep one per buffer);
 * `decode`/`encode` make it.
 */
import { UsageError } from "../errors.ts";
import type { Btf } from "./btf.ts";
import { perBtfMaps } from "./per-btf.ts";
import {
  type FieldShape,
  shapeOf,
  shapeOfSize,
  type TypedArrayName,
  type ValueShape,
} from "./value-shape.ts";

export interface TypedCodec<T = unknown> {
  readonly size: number;
  readonly shape: ValueShape;
  /** Decodes `size` bytes at `offset` (copies: the result never aliases `bytes`). */
  decode(bytes: Uint8Array, offset?: number): T;
  /** Writes `value` at `offset`; bytes of padding and absent members are left as they are. */
  encode(value: T, out: Uint8Array, offset?: number): void;
  /** `decode` with a DataView over `bytes` (same byteOffset and length). */
  read(view: DataView, bytes: Uint8Array, offset: number): T;
  write(value: T, view: DataView, bytes: Uint8Array, offset: number): void;
  /**
   * `read` for a struct at an 8-aligned `offset` of 8-aligned bytes, given them also as 64-bit words
   * (unsigned, signed): 64-bit fields become one typed-array load each (a ring-buffer record's decode).
   * Undefined for a type without aligned 64-bit fields.
   */
  readonly readWords?: WordsReader | undefined;
}

type Reader = (v: DataView, b: Uint8Array, o: number) => unknown;
/** `read` with the bytes also as 64-bit words (`o` 8-aligned): see {@link TypedCodec.readWords}. */
export type WordsReader = (
  v: DataView,
  b: Uint8Array,
  o: number,
  q: BigUint64Array,
  qs: BigInt64Array,
) => unknown;
type Writer = (x: unknown, v: DataView, b: Uint8Array, o: number) => void;

const ARRAYS: Record<TypedArrayName, new (n: number) => ArrayLike<number | bigint>> = {
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  BigUint64Array,
  BigInt64Array,
  Float32Array,
  Float64Array,
};

function fail(what: string, expected: string, got: unknown): never {
  const shown =
    typeof got === "bigint" ? `${got}n` : typeof got === "string" ? JSON.stringify(got) : String(got);
  const message = `${what}: expected ${expected}, got ${typeof got} ${shown}`.slice(0, 300);
  if (typeof got === "number" && expected.includes("bigint"))
    throw new UsageError(message, {
      hint: `64-bit integers and pointers are bigint: write ${Number.isInteger(got) ? `${got}n` : "BigInt(x)"}`,
    });
  throw new UsageError(message);
}

const utf8d = new TextDecoder();
const utf8e = new TextEncoder();

function numberRW(size: 1 | 2 | 4, signed: boolean, what: string): [Reader, Writer] {
  // both readings of the bits are accepted (-1 for a u32 is 0xffffffff, as in C)
  const lo = -(2 ** (size * 8 - 1));
  const hi = 2 ** (size * 8) - 1;
  const check = (x: unknown): number => {
    if (typeof x !== "number" || !Number.isInteger(x) || x < lo || x > hi)
      fail(what, `an integer in [${lo}, ${hi}]${signed ? "" : " (unsigned)"}`, x);
    return x;
  };
  switch (size) {
    case 1:
      return [
        signed ? (v, _b, o) => v.getInt8(o) : (v, _b, o) => v.getUint8(o),
        (x, v, _b, o) => v.setUint8(o, check(x) & 0xff),
      ];
    case 2:
      return [
        signed ? (v, _b, o) => v.getInt16(o, true) : (v, _b, o) => v.getUint16(o, true),
        (x, v, _b, o) => v.setUint16(o, check(x) & 0xffff, true),
      ];
    default:
      return [
        signed ? (v, _b, o) => v.getInt32(o, true) : (v, _b, o) => v.getUint32(o, true),
        (x, v, _b, o) => v.setUint32(o, check(x) >>> 0, true),
      ];
  }
}

function bigintRW(size: 8 | 16, signed: boolean, what: string): [Reader, Writer] {
  const bits = BigInt(size * 8);
  const min = -(1n << (bits - 1n));
  const max = (1n << bits) - 1n;
  const check = (x: unknown): bigint => {
    if (typeof x !== "bigint") fail(what, "a bigint", x);
    if (x < min || x > max) fail(what, `a bigint in [${min}, ${max}]`, x);
    return x;
  };
  if (size === 8)
    return [
      signed ? (v, _b, o) => v.getBigInt64(o, true) : (v, _b, o) => v.getBigUint64(o, true),
      (x, v, _b, o) => v.setBigUint64(o, BigInt.asUintN(64, check(x)), true),
    ];
  return [
    (v, _b, o) => {
      const low = v.getBigUint64(o, true);
      const high = signed ? v.getBigInt64(o + 8, true) : v.getBigUint64(o + 8, true);
      return (high << 64n) | low;
    },
    (x, v, _b, o) => {
      const n = BigInt.asUintN(128, check(x));
      v.setBigUint64(o, BigInt.asUintN(64, n), true);
      v.setBigUint64(o + 8, n >> 64n, true);
    },
  ];
}

function rw(s: ValueShape, what: string): [Reader, Writer] {
  switch (s.kind) {
    case "number":
      return numberRW(s.size, s.signed, what);
    case "bigint":
      return bigintRW(s.size, s.signed, what);
    case "enum":
      return s.big ? bigintRW(8, s.signed, what) : numberRW(s.size as 1 | 2 | 4, s.signed, what);
    case "boolean":
      return [
        (_v, b, o) => b[o] !== 0,
        (x, _v, b, o) => {
          if (typeof x !== "boolean") fail(what, "a boolean", x);
          b.fill(0, o, o + s.size);
          b[o] = x ? 1 : 0;
        },
      ];
    case "float":
      return s.size === 4
        ? [
            (v, _b, o) => v.getFloat32(o, true),
            (x, v, _b, o) => v.setFloat32(o, typeof x === "number" ? x : fail(what, "a number", x), true),
          ]
        : [
            (v, _b, o) => v.getFloat64(o, true),
            (x, v, _b, o) => v.setFloat64(o, typeof x === "number" ? x : fail(what, "a number", x), true),
          ];
    case "string": {
      const size = s.size;
      return [
        (_v, b, o) => {
          const end = b.indexOf(0, o);
          return utf8d.decode(b.subarray(o, end < 0 || end > o + size ? o + size : end));
        },
        (x, _v, b, o) => {
          if (typeof x !== "string") fail(what, `a string of at most ${size} bytes`, x);
          const bytes = utf8e.encode(x);
          if (bytes.byteLength > size)
            fail(what, `a string of at most ${size} UTF-8 bytes (char[${size}])`, x);
          b.fill(0, o, o + size);
          b.set(bytes, o);
        },
      ];
    }
    case "typedArray": {
      const Ctor = ARRAYS[s.array];
      const { count, size } = s;
      return [
        (_v, b, o) => {
          const out = new Ctor(count);
          new Uint8Array((out as Uint8Array).buffer).set(b.subarray(o, o + size));
          return out;
        },
        (x, _v, b, o) => {
          if (!(x instanceof Ctor) || (x as Uint8Array).length !== count)
            fail(what, `a ${s.array} of ${count} elements`, x);
          const t = x as Uint8Array;
          b.set(new Uint8Array(t.buffer, t.byteOffset, size), o);
        },
      ];
    }
    case "tuple": {
      const [r, w] = rw(s.elem, `${what}[]`);
      const { count, stride } = s;
      return [
        (v, b, o) => {
          const out: unknown[] = new Array(count);
          for (let i = 0; i < count; i++) out[i] = r(v, b, o + i * stride);
          return out;
        },
        (x, v, b, o) => {
          if (!Array.isArray(x) || x.length !== count) fail(what, `an array of ${count} elements`, x);
          for (let i = 0; i < count; i++) w(x[i], v, b, o + i * stride);
        },
      ];
    }
    case "struct":
      return structRW(s.fields, what);
    case "bytes": {
      const size = s.size;
      return [
        (_v, b, o) => b.slice(o, o + size),
        (x, _v, b, o) => {
          if (!(x instanceof Uint8Array) || x.byteLength !== size)
            fail(what, `a Uint8Array of ${size} bytes`, x);
          b.set(x, o);
        },
      ];
    }
  }
}

function bitsRW(f: FieldShape, what: string): [Reader, Writer] {
  const first = Math.floor(f.bitOffset / 8);
  const last = Math.floor((f.bitOffset + f.bits - 1) / 8);
  const shift = BigInt(f.bitOffset - first * 8);
  const width = BigInt(f.bits);
  const mask = ((1n << width) - 1n) << shift;
  const signed = f.shape.kind === "number" || f.shape.kind === "bigint" ? f.shape.signed : false;
  const asNumber = f.shape.kind === "number";
  const min = signed ? -(1n << (width - 1n)) : 0n;
  const max = (1n << width) - 1n;
  return [
    (_v, b, o) => {
      let word = 0n;
      for (let i = last; i >= first; i--) word = (word << 8n) | BigInt(b[o + i]!);
      let x = (word & mask) >> shift;
      if (signed && x >> (width - 1n)) x -= 1n << width;
      return asNumber ? Number(x) : x;
    },
    (x, _v, b, o) => {
      let n: bigint;
      if (asNumber) {
        if (typeof x !== "number" || !Number.isInteger(x))
          fail(what, `an integer (${f.bits}-bit bitfield)`, x);
        n = BigInt(x);
      } else {
        if (typeof x !== "bigint") fail(what, `a bigint (${f.bits}-bit bitfield)`, x);
        n = x;
      }
      if (n < (signed ? min : -(1n << (width - 1n))) || n > max)
        fail(what, `a value that fits ${f.bits} bits`, x);
      let word = 0n;
      for (let i = last; i >= first; i--) word = (word << 8n) | BigInt(b[o + i]!);
      word = (word & ~mask) | ((BigInt.asUintN(f.bits, n) << shift) & mask);
      for (let i = first; i <= last; i++) {
        b[o + i] = Number(word & 0xffn);
        word >>= 8n;
      }
    },
  ];
}

function structParts(fields: FieldShape[], what: string) {
  const pairs = fields.map((f) =>
    f.bits ? bitsRW(f, `${what}.${f.name}`) : rw(f.shape, `${what}.${f.name}`),
  );
  return {
    names: fields.map((f) => f.name),
    // bitfields read relative to the outermost struct: their offset is already in bitOffset
    offsets: fields.map((f) => (f.bits ? 0 : Math.floor(f.bitOffset / 8))),
    readers: pairs.map((p) => p[0]),
    writers: pairs.map((p) => p[1]),
  };
}

function structRW(fields: FieldShape[], what: string): [Reader, Writer] {
  const { names, offsets: fieldOffset, readers, writers } = structParts(fields, what);
  const n = fields.length;
  return [
    compileStructReader(fields, fieldOffset, readers),
    (x, v, b, o) => {
      if (typeof x !== "object" || x === null || Array.isArray(x) || ArrayBuffer.isView(x))
        fail(what, "an object", x);
      const obj = x as Record<string, unknown>;
      for (let i = 0; i < n; i++) {
        const fv = obj[names[i]!];
        if (fv !== undefined) writers[i]!(fv, v, b, o + fieldOffset[i]!);
      }
    },
  ];
}

/**
 * A struct's decoder for records at 8-aligned offsets of 8-aligned data (ring-buffer records): its aligned
 * 64-bit fields are loads from `q`/`qs`, the same bytes as BigUint64Array/BigInt64Array (see
 * {@link RecordViewData}); undefined when the struct has no such field.
 */
function structWordsReader(s: ValueShape, what: string): WordsReader | undefined {
  if (s.kind !== "struct") return undefined;
  if (!s.fields.some((f) => !f.bits && f.bitOffset % 64 === 0 && wordArray(f.shape))) return undefined;
  const { offsets, readers } = structParts(s.fields, what);
  return compileStructReader(s.fields, offsets, readers, true) as WordsReader;
}

/** A DataView getter call for shapes that are one read, else undefined. */
function inlineRead(s: ValueShape, at: string): string | undefined {
  switch (s.kind) {
    case "number":
      return `v.get${s.signed ? "Int" : "Uint"}${s.size * 8}(${at}${s.size > 1 ? ", true" : ""})`;
    case "bigint":
      return s.size === 8 ? `v.getBig${s.signed ? "Int" : "Uint"}64(${at}, true)` : undefined;
    case "enum":
      return s.big
        ? `v.getBig${s.signed ? "Int" : "Uint"}64(${at}, true)`
        : `v.get${s.signed ? "Int" : "Uint"}${s.size * 8}(${at}${s.size > 1 ? ", true" : ""})`;
    case "float":
      return `v.getFloat${s.size * 8}(${at}, true)`;
    case "boolean":
      return `b[${at}] !== 0`;
    default:
      return undefined;
  }
}

/** The record view's word array for a 64-bit integer field, if it is one. */
function wordArray(s: ValueShape): "#q" | "#qs" | undefined {
  const big = (s.kind === "bigint" && s.size === 8) || (s.kind === "enum" && s.big);
  return big ? (s.signed ? "#qs" : "#q") : undefined;
}

/**
 * The struct decoder as one object literal (`{ "pid": v.getUint32(o + 0, true), … }`), compiled once per
 * type: objects of one shape get one hidden class and the reads inline, which is what lets typed ring-buffer
 * records keep up (a loop assigning keys one by one was ~10× slower). Keys are JSON-quoted and offsets are
 * numbers, so the source holds nothing taken verbatim from the object file.
 */
function compileStructReader(
  fields: FieldShape[],
  offsets: number[],
  readers: Reader[],
  words = false,
): Reader {
  const props = fields.map((f, i) => {
    const at = `o + ${offsets[i]}`;
    const word = words && !f.bits && offsets[i]! % 8 === 0 ? wordArray(f.shape) : undefined;
    if (word) return `${JSON.stringify(f.name)}: ${word === "#q" ? "q" : "qs"}[(${at}) >>> 3]`;
    const inline = f.bits ? undefined : inlineRead(f.shape, at);
    return `${JSON.stringify(f.name)}: ${inline ?? `r[${i}](v, b, ${at})`}`;
  });
  const make = new Function(
    "r",
    `"use strict"; return function read(v, b, o, q, qs) { return { ${props.join(", ")} }; };`,
  );
  return make(readers) as Reader;
}

function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** The typed codec of type `id` (cached per Btf). `what` names the value in error messages. */
export function typedCodecFor<T = unknown>(btf: Btf, id: number, what?: string): TypedCodec<T> {
  const cache = typedCodecCache(btf);
  const key = `${id}\0${what ?? ""}`;
  let c = cache.get(key);
  if (!c) {
    c = codecOfShape(shapeOf(btf, id), what ?? `type [${id}]`);
    cache.set(key, c);
  }
  return c as TypedCodec<T>;
}
const typedCodecCache = perBtfMaps<string, TypedCodec>();

/** A typed codec for a shape (what typedCodecFor builds). */
export function codecOfShape(shape: ValueShape, what: string): TypedCodec {
  const [read, write] = rw(shape, what);
  const size = shape.size;
  return {
    size,
    shape,
    read,
    write,
    readWords: structWordsReader(shape, what),
    decode: (bytes, offset = 0) => {
      if (offset + size > bytes.byteLength) fail(what, `${size} bytes at offset ${offset}`, bytes);
      return read(viewOf(bytes), bytes, offset);
    },
    encode: (value, out, offset = 0) => {
      if (offset + size > out.byteLength) fail(what, `room for ${size} bytes at offset ${offset}`, out);
      write(value, viewOf(out), out, offset);
    },
  };
}

/** A typed codec for a value known only by its size (see shapeOfSize). */
export function typedSizeCodec(size: number, what: string): TypedCodec {
  return codecOfShape(shapeOfSize(size), what);
}

/** What every record view has besides its fields (a field of the same name wins: see {@link RecordView}). */
export interface RecordViewMethods<T> {
  /** The record decoded into a plain object, to keep after the view has moved on. */
  toObject(): T;
  /** A copy of the record's bytes (its whole length, which may be longer than the struct). */
  copy(): Uint8Array;
}

/**
 * One record of struct type `T` read in place: a getter per field that reads it from the current record when
 * called (a 64-bit field becomes a bigint only when read), no object per record. Valid only until the
 * consumer moves on; `toObject()` keeps one. Nested structs, arrays and strings are decoded copies.
 */
export type RecordView<T> = Readonly<T> & Omit<RecordViewMethods<T>, keyof T>;

/**
 * Where a view reads, set by the consumer that moves it: the record's bytes, a DataView over them, and its
 * offset. The record's length is in the 8-byte ring-buffer header just before it (`length | flags`, u32).
 * The keys start with `#`, which no C identifier can, so they never clash with a field; they are string
 * literals at every use so that V8 compiles them as plain property accesses.
 */
export interface RecordViewState extends RecordViewData {
  "#at": number;
}

/**
 * The bytes a view reads, three ways: bytes, a DataView, and 64-bit words (unsigned and signed). The words
 * are why a u64 field costs one typed-array load and a bigint (~3 ns) instead of `getBigUint64` (~9 ns);
 * they need the data to start 8-aligned, as a ring buffer's data area and its records do.
 */
export interface RecordViewData {
  "#data": Uint8Array;
  "#dv": DataView;
  "#q": BigUint64Array;
  "#qs": BigInt64Array;
}

/** `data` as a view reads it; `dv` when the caller already has one over the same bytes. */
export function recordViewData(data: Uint8Array, dv: DataView = viewOf(data)): RecordViewData {
  if (data.byteOffset % 8 !== 0)
    throw new Error(`record view data must start 8-aligned (byteOffset ${data.byteOffset})`);
  const words = data.byteLength >>> 3;
  return {
    "#data": data,
    "#dv": dv,
    "#q": new BigUint64Array(data.buffer, data.byteOffset, words),
    "#qs": new BigInt64Array(data.buffer, data.byteOffset, words),
  };
}

/** Points view `s` at `d` (a {@link recordViewData}). */
export function pointRecordView(s: RecordViewState, d: RecordViewData): void {
  s["#data"] = d["#data"];
  s["#dv"] = d["#dv"];
  s["#q"] = d["#q"];
  s["#qs"] = d["#qs"];
}

class RecordViewBase implements RecordViewState {
  "#data"!: Uint8Array;
  "#dv"!: DataView;
  "#q"!: BigUint64Array;
  "#qs"!: BigInt64Array;
  "#at" = 0;
  constructor(data: Uint8Array) {
    pointRecordView(this, recordViewData(data));
  }
  copy(): Uint8Array {
    const at = this["#at"];
    return this["#data"].slice(at, at + (this["#dv"].getUint32(at - 8, true) & 0x3fffffff));
  }
}

export type RecordViewClass = new (data: Uint8Array) => RecordViewState & RecordViewMethods<unknown>;

/**
 * The class of reused record views for struct `codec`, compiled once per codec like the struct decoder: one
 * getter per field, one hidden class, reads that inline. The consumer that moves a view sets its offset per
 * record, and points it at a zero-padded copy (with a header) when a record is shorter than the struct, so a
 * getter never reads past its record. Field getters live on the class, `toObject`/`copy` on its base: a
 * field of the same name shadows the method, as {@link RecordView}'s type says.
 */
export function recordViewClass(codec: TypedCodec, what: string): RecordViewClass {
  const cached = VIEW_CLASSES.get(codec);
  if (cached) return cached;
  const s = codec.shape;
  if (s.kind !== "struct")
    throw new UsageError(
      `${what}: a typed record view needs a struct or union record type, not a ${s.kind}`,
      {
        hint: "use consume(cb), which decodes each record into a value",
      },
    );
  const readers: Reader[] = [];
  const getters = s.fields.map((f) => {
    // bitfields read relative to the outermost struct: their offset is already in bitOffset
    const at = f.bits ? 'this["#at"]' : `this["#at"] + ${Math.floor(f.bitOffset / 8)}`;
    const word = f.bits || f.bitOffset % 64 !== 0 ? undefined : wordArray(f.shape);
    // #at is 8-aligned (a ring-buffer record) and below 2^32 (a ring's data area, mapped twice, is smaller)
    if (word) return `get ${JSON.stringify(f.name)}() { return this["${word}"][(${at}) >>> 3]; }`;
    let body = f.bits ? undefined : inlineRead(f.shape, at);
    if (body === undefined) {
      readers.push(f.bits ? bitsRW(f, `${what}.${f.name}`)[0] : rw(f.shape, `${what}.${f.name}`)[0]);
      body = `r[${readers.length - 1}](v, this["#data"], ${at})`;
    } else body = body.replace(/^b\[/, 'this["#data"][');
    return `get ${JSON.stringify(f.name)}() { const v = this["#dv"]; return ${body}; }`;
  });
  const read = codec.read;
  class WithMethods extends RecordViewBase {
    toObject(): unknown {
      return read(this["#dv"], this["#data"], this["#at"]);
    }
  }
  // keys are JSON-quoted and offsets are numbers: the source holds nothing taken verbatim from the object
  const make = new Function(
    "r",
    "Base",
    `"use strict"; return class RecordView extends Base { ${getters.join(" ")} };`,
  );
  const Cls = make(readers, WithMethods) as RecordViewClass;
  VIEW_CLASSES.set(codec, Cls);
  return Cls;
}
const VIEW_CLASSES = new WeakMap<TypedCodec, RecordViewClass>();
