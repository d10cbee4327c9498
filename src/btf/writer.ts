import { BtfError } from "../errors.ts";
import { type Btf, stringsEnd } from "./btf.ts";
import { growBytes } from "./grow.ts";
import { assembleBtf } from "./header.ts";
import { BTF_KIND, type BtfEnumValue, type BtfType } from "./types.ts";

export interface EncodeBtfOptions {
  /** Encode split BTF on this base: the first type gets id base.nextId, strings continue after the base's. */
  base?: Btf;
  /** Byte order of the output; default: the base's, else little-endian. */
  littleEndian?: boolean;
  /** Name used in error messages. */
  source?: string;
}

const u32Max = 0xffffffff;
const encoder = new TextEncoder();

/** Growable byte buffer with a cached DataView. */
class ByteWriter {
  buf: Uint8Array;
  view: DataView;
  len = 0;
  constructor(
    private readonly le: boolean,
    initial = 4096,
  ) {
    this.buf = new Uint8Array(Math.max(16, initial));
    this.view = new DataView(this.buf.buffer);
  }
  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    this.buf = growBytes(this.buf, this.len, n);
    this.view = new DataView(this.buf.buffer);
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.len, v, this.le);
    this.len += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.len, v, this.le);
    this.len += 4;
  }
  byte(v: number): void {
    this.reserve(1);
    this.buf[this.len++] = v;
  }
  /** A NUL-terminated UTF-8 string. */
  string(s: string): void {
    this.reserve(s.length + 1);
    let ascii = true;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0) throw new RangeError(`string ${JSON.stringify(s)} contains a NUL byte`);
      if (c >= 0x80) {
        ascii = false;
        break;
      }
      this.buf[this.len + i] = c;
    }
    if (ascii) this.len += s.length;
    else {
      const b = encoder.encode(s);
      if (b.includes(0)) throw new RangeError(`string ${JSON.stringify(s)} contains a NUL byte`);
      this.bytes(b);
    }
    this.byte(0);
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
}

/** Deduplicated string section; offsets are global (after the base's strings for split BTF). */
class StringTable {
  private readonly offsets = new Map<string, number>();
  private readonly out: ByteWriter;
  constructor(
    private readonly start: number,
    split: boolean,
  ) {
    this.out = new ByteWriter(true);
    this.offsets.set("", 0);
    // base BTF: offset 0 is the empty string; split BTF: "" is the base's offset 0
    if (!split) this.out.byte(0);
  }
  add(s: string): number {
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    const off = this.start + this.out.len;
    this.out.string(s);
    this.offsets.set(s, off);
    return off;
  }
  get bytes(): Uint8Array {
    return this.out.buf.subarray(0, this.out.len);
  }
}

/**
 * Encodes types into raw BTF (header, type section, deduplicated string section). `types[i]` must have
 * id firstId + i (1 + i, or base.nextId + i for split BTF). Every field is range-checked.
 */
export function encodeBtf(types: readonly BtfType[], options: EncodeBtfOptions = {}): Uint8Array {
  const base = options.base;
  const le = options.littleEndian ?? base?.littleEndian ?? true;
  const enc = new TypeEncoder(options.source ?? "<encodeBtf>", le, base, types.length);
  for (let i = 0; i < types.length; i++) enc.type(types[i]!, enc.firstId + i);

  return assembleBtf(enc.w.buf.subarray(0, enc.w.len), enc.strings.bytes, le);
}

class TypeEncoder {
  readonly w: ByteWriter;
  readonly strings: StringTable;
  readonly firstId: number;
  private readonly nextId: number;
  private t: BtfType | undefined;
  private id = 0;

  constructor(
    private readonly source: string,
    le: boolean,
    base: Btf | undefined,
    count: number,
  ) {
    this.w = new ByteWriter(le, count * 24);
    this.strings = new StringTable(base ? stringsEnd(base) : 0, base !== undefined);
    this.firstId = base ? base.nextId : 1;
    this.nextId = this.firstId + count;
  }

  private fail(what: string): never {
    const t = this.t!;
    throw new BtfError(this.source, this.id, `cannot encode ${t.kind.toLowerCase()} '${t.name}': ${what}`, {
      hint: "types must be listed in id order with in-range fields",
    });
  }

  private str(s: string, what: string): number {
    try {
      return this.strings.add(s);
    } catch (e) {
      this.fail(`${what}: ${(e as Error).message}`);
    }
  }

  private u32(v: number, what: string): number {
    if (!Number.isInteger(v) || v < 0 || v > u32Max) this.fail(`${what} ${v} is not a u32`);
    return v;
  }

  /** An integer in [min, max]: NaN and fractions would be silently truncated by the bit operations. */
  private int(v: number, min: number, max: number, what: string): number {
    if (!Number.isInteger(v) || v < min || v > max)
      this.fail(`${what} ${v} is not an integer in ${min}..${max}`);
    return v;
  }

  private ref(v: number, what: string): number {
    if (!Number.isInteger(v) || v < 0 || v >= this.nextId)
      this.fail(`${what} [${v}] is not a type id below ${this.nextId}`);
    return v;
  }

  private vlen(n: number): number {
    if (n > 0xffff) this.fail(`${n} entries, at most 65535 fit in vlen`);
    return n;
  }

  private head(kind: number, vlen: number, kindFlag: boolean, sizeOrType: number): void {
    const w = this.w;
    w.u32(this.str(this.t!.name, "name"));
    w.u32(((kindFlag ? 0x80000000 : 0) | (kind << 24) | vlen) >>> 0);
    w.u32(sizeOrType);
  }

  type(t: BtfType, id: number): void {
    this.t = t;
    this.id = id;
    const w = this.w;
    if (t.id !== id) this.fail(`its id is ${t.id}, but position ${id - this.firstId} gives id ${id}`);
    switch (t.kind) {
      case "VOID":
        this.fail("void (id 0) is implicit and cannot be encoded");
        break;
      case "INT": {
        const bits = this.int(t.bits, 0, 128, "bits");
        const bitOffset = this.int(t.bitOffset, 0, 255, "bit offset");
        const encoding = this.int(t.encoding, 0, 15, "encoding");
        this.head(BTF_KIND.INT, 0, false, this.u32(t.size, "size"));
        w.u32((encoding << 24) | (bitOffset << 16) | bits);
        return;
      }
      case "PTR":
      case "TYPEDEF":
      case "VOLATILE":
      case "CONST":
      case "RESTRICT":
      case "TYPE_TAG":
        this.head(BTF_KIND[t.kind], 0, false, this.ref(t.type, "target"));
        return;
      case "ARRAY":
        this.head(BTF_KIND.ARRAY, 0, false, 0);
        w.u32(this.ref(t.type, "element type"));
        w.u32(this.ref(t.indexType, "index type"));
        w.u32(this.u32(t.nelems, "nelems"));
        return;
      case "STRUCT":
      case "UNION": {
        const ms = t.members;
        this.head(BTF_KIND[t.kind], this.vlen(ms.length), t.kindFlag, this.u32(t.size, "size"));
        for (let j = 0; j < ms.length; j++) {
          const m = ms[j]!;
          w.u32(this.str(m.name, `member ${j} name`));
          w.u32(this.ref(m.type, `member ${j} type`));
          if (t.kindFlag) {
            const size = this.int(m.bitfieldSize, 0, 255, `member ${j} bitfield size`);
            const off = this.int(m.bitOffset, 0, 0xffffff, `member ${j} bit offset (24 bits with kindFlag)`);
            w.u32(((size << 24) | off) >>> 0);
          } else {
            if (m.bitfieldSize !== 0) this.fail(`member ${j} is a bitfield but kindFlag is false`);
            w.u32(this.u32(m.bitOffset, `member ${j} offset`));
          }
        }
        return;
      }
      case "ENUM":
      case "ENUM64":
        this.enumType(t.kind === "ENUM64", t.signed, t.size, t.values);
        return;
      case "FWD":
        this.head(BTF_KIND.FWD, 0, t.union, 0);
        return;
      case "FUNC":
        this.head(
          BTF_KIND.FUNC,
          this.int(t.linkage, 0, 0xffff, "linkage"),
          false,
          this.ref(t.type, "prototype"),
        );
        return;
      case "FUNC_PROTO": {
        const ps = t.params;
        this.head(BTF_KIND.FUNC_PROTO, this.vlen(ps.length), false, this.ref(t.returnType, "return type"));
        for (let j = 0; j < ps.length; j++) {
          w.u32(this.str(ps[j]!.name, `parameter ${j} name`));
          w.u32(this.ref(ps[j]!.type, `parameter ${j} type`));
        }
        return;
      }
      case "VAR":
        this.head(BTF_KIND.VAR, 0, false, this.ref(t.type, "type"));
        w.u32(this.u32(t.linkage, "linkage"));
        return;
      case "DATASEC": {
        const vs = t.vars;
        this.head(BTF_KIND.DATASEC, this.vlen(vs.length), false, this.u32(t.size, "size"));
        for (let j = 0; j < vs.length; j++) {
          w.u32(this.ref(vs[j]!.type, `variable ${j}`));
          w.u32(this.u32(vs[j]!.offset, `variable ${j} offset`));
          w.u32(this.u32(vs[j]!.size, `variable ${j} size`));
        }
        return;
      }
      case "FLOAT":
        this.head(BTF_KIND.FLOAT, 0, false, this.u32(t.size, "size"));
        return;
      case "DECL_TAG":
        this.head(BTF_KIND.DECL_TAG, 0, false, this.ref(t.type, "tagged type"));
        w.i32(this.int(t.componentIdx, -1, 0xffff, "component index"));
        return;
      default:
        this.fail(`unknown kind ${(t as { kind: string }).kind}`);
    }
  }

  private enumType(is64: boolean, signed: boolean, size: number, values: BtfEnumValue[]): void {
    const w = this.w;
    this.head(
      is64 ? BTF_KIND.ENUM64 : BTF_KIND.ENUM,
      this.vlen(values.length),
      signed,
      this.u32(size, "size"),
    );
    for (let j = 0; j < values.length; j++) {
      const e = values[j]!;
      w.u32(this.str(e.name, `enumerator ${j} name`));
      const v = e.value;
      if (!is64) {
        const ok =
          typeof v === "number"
            ? Number.isInteger(v) && (signed ? v >= -0x80000000 && v <= 0x7fffffff : v >= 0 && v <= u32Max)
            : signed
              ? v >= -(1n << 31n) && v < 1n << 31n
              : v >= 0n && v <= 0xffffffffn;
        if (!ok)
          this.fail(
            `enumerator ${j} value ${v} does not fit a ${signed ? "signed" : "unsigned"} 32-bit ENUM`,
          );
        w.u32(Number(v) >>> 0);
        continue;
      }
      if (typeof v === "number" && Number.isSafeInteger(v) && (v >= 0 || signed)) {
        // fast path: no bigint for values below 2^53
        const lo = v >>> 0;
        const hi = Math.floor(v / 0x100000000) >>> 0;
        w.u32(lo);
        w.u32(hi);
        continue;
      }
      let b: bigint;
      try {
        b = BigInt(v);
      } catch {
        this.fail(`enumerator ${j} value ${v} is not an integer`);
      }
      const lo = signed ? -(1n << 63n) : 0n;
      const hi = signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
      if (b < lo || b > hi) this.fail(`enumerator ${j} value ${v} does not fit 64 bits`);
      const u = BigInt.asUintN(64, b);
      w.u32(Number(u & 0xffffffffn));
      w.u32(Number(u >> 32n));
    }
  }
}
