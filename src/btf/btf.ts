import { BtfError } from "../errors.ts";
import { type DecodeContext, decodeType } from "./decode.ts";
import { parseBtfHeader } from "./header.ts";
import { extraSize, kindNumber } from "./kinds.ts";
import { alignOf, resolveType, sizeOf, skipModifiers } from "./layout.ts";
import { NameIndex } from "./name-index.ts";
import { BTF_KIND, type BtfDeclTag, type BtfType, type BtfTypeKind } from "./types.ts";

/** Parsed BTF (see docs/architecture.md). Types decode lazily on first access and are cached. */
export interface Btf {
  /** File name for errors. */
  readonly source: string;
  /** vmlinux for a module's split BTF. */
  readonly base: Btf | undefined;
  /** First id this BTF owns (1, or base.nextId for split BTF). */
  readonly firstId: number;
  /** Ids [0, nextId) are valid, including the base's. */
  readonly nextId: number;
  readonly littleEndian: boolean;
  /** The raw BTF this was parsed from. */
  readonly bytes: Uint8Array;
  /** Lazily decoded and cached; throws BtfError for a dangling id. */
  typeById(id: number): BtfType;
  /** firstId..nextId-1 */
  ownTypes(): Iterable<BtfType>;
  /** Own types first, then base. */
  findByName(name: string, kind?: BtfTypeKind): BtfType | undefined;
  findAllByName(name: string, kind?: BtfTypeKind): BtfType[];
  /** This BTF's own types named `name` (a split BTF's, without its base's), ascending ids. */
  findOwnByName(name: string, kind?: BtfTypeKind): BtfType[];
  /** Through TYPEDEF/CONST/VOLATILE/RESTRICT/TYPE_TAG. */
  resolve(id: number): BtfType;
  /** Through CONST/VOLATILE/RESTRICT/TYPE_TAG only. */
  skipModifiers(id: number): BtfType;
  sizeof(id: number): number;
  alignof(id: number): number;
  /** DECL_TAGs whose `type` is id. */
  declTagsOf(id: number): BtfDeclTag[];
  string(offset: number): string;
}

export interface ParseBtfOptions {
  /** Base BTF (vmlinux) when `bytes` is split BTF (a module's /sys/kernel/btf/<module> or .BTF section). */
  base?: Btf;
  /** Name used in error messages. */
  source?: string;
}

/** The kernel's BTF_MAX_TYPE. */
export const BTF_MAX_TYPES = 0xfffff;

const VOID: BtfType = Object.freeze({ id: 0, name: "", kind: "VOID" });

const CORRUPT_HINT =
  "the BTF is corrupt or truncated: regenerate it (clang -g for objects, pahole -J for kernel and module BTF)";
const SPLIT_HINT =
  "this looks like split BTF (a kernel module's, whose strings continue vmlinux's): parse it with { base: vmlinux BTF }";

/**
 * Parses raw BTF (either byte order). One pass records where each type's record starts and checks that
 * every record fits and has a known kind; everything else is decoded on demand.
 */
export function parseBtf(bytes: Uint8Array, options: ParseBtfOptions = {}): Btf {
  return new ParsedBtf(bytes, options.source ?? "<memory>", options.base);
}

/** Words after a record's 12-byte header: fixed per kind (-1: unknown kind), plus per vlen entry. */
const FIXED_WORDS = new Int8Array(32).fill(-1);
const VLEN_WORDS = new Uint8Array(32);
for (let k = 1; k < 32; k++) {
  const fixed = extraSize(k, 0);
  if (fixed < 0) continue;
  FIXED_WORDS[k] = fixed >>> 2;
  VLEN_WORDS[k] = (extraSize(k, 1) - fixed) >>> 2;
}
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The record-offset pass over a host-order, 4-byte-aligned type section as 32-bit words (V8 runs this
 * fast even before it optimises: no DataView calls, no switch). Returns the type count, or -1 when the
 * section is not in that form or has a bad record (the caller's checked walk then reports it).
 */
function indexWords(
  bytes: Uint8Array,
  typeStart: number,
  typeLen: number,
  le: boolean,
  offsets: Uint32Array,
  kinds: Uint8Array,
): number {
  if (le !== HOST_LE || (bytes.byteOffset + typeStart) % 4 !== 0 || typeLen % 4 !== 0) return -1;
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset + typeStart, typeLen >>> 2);
  const nw = words.length;
  const cap = offsets.length;
  let n = 0;
  let p = 0;
  while (p < nw) {
    if (p + 3 > nw || n === cap) return -1;
    const info = words[p + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const fixed = FIXED_WORDS[kind]!;
    if (fixed < 0) return -1;
    const next = p + 3 + fixed + VLEN_WORDS[kind]! * (info & 0xffff);
    if (next > nw) return -1;
    offsets[n] = typeStart + p * 4;
    kinds[n] = kind;
    n++;
    p = next;
  }
  return n;
}

/** Byte offsets (in `btf.bytes`) of each own type's record, by id - firstId, when parseBtf made `btf`. */
export function recordOffsets(btf: Btf): Uint32Array | undefined {
  return btf instanceof ParsedBtf ? btf.offsets : undefined;
}

/** End (exclusive) of the global string offset space of a BTF: for split BTF, offsets continue after the base. */
export function stringsEnd(btf: Btf): number {
  if (btf instanceof ParsedBtf) return btf.strEnd;
  return btfStrEndFromBytes(btf);
}

function btfStrEndFromBytes(btf: Btf): number {
  const h = parseBtfHeader(btf.bytes, btf.source);
  return (btf.base ? stringsEnd(btf.base) : 0) + h.strLen;
}

class ParsedBtf implements Btf, DecodeContext {
  readonly base: Btf | undefined;
  readonly firstId: number;
  readonly nextId: number;
  readonly littleEndian: boolean;
  readonly view: DataView;
  readonly le: boolean;
  /** Global string offset where this BTF's own string section starts. */
  readonly strBase: number;
  readonly strEnd: number;
  /** This BTF's own string section. */
  readonly strings: Uint8Array;
  /** Byte offset (in `bytes`) of each own type's record, indexed by id - firstId. */
  readonly offsets: Uint32Array;
  readonly kinds: Uint8Array;
  private readonly cache: (BtfType | undefined)[];
  private names: NameIndex | undefined;
  private declTags: Map<number, number[]> | undefined;

  constructor(
    readonly bytes: Uint8Array,
    readonly source: string,
    base: Btf | undefined,
  ) {
    const h = parseBtfHeader(bytes, source);
    this.base = base;
    this.littleEndian = this.le = h.littleEndian;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.strBase = base ? stringsEnd(base) : 0;
    this.strEnd = this.strBase + h.strLen;
    this.strings = bytes.subarray(h.strStart, h.strStart + h.strLen);
    if (h.strLen > 0 && this.strings[h.strLen - 1] !== 0)
      this.fail(
        undefined,
        `string section does not end with a NUL byte (offset ${h.strStart + h.strLen - 1})`,
      );
    if (!base && (h.strLen === 0 || this.strings[0] !== 0))
      this.fail(
        undefined,
        "string section must start with an empty string (offset 0 must be a NUL byte)",
        h.strLen > 0 ? SPLIT_HINT : CORRUPT_HINT,
      );
    if (base && base.littleEndian !== h.littleEndian)
      this.fail(
        undefined,
        "split BTF and its base BTF have different byte orders",
        "pass the base this BTF was generated against (the same kernel's vmlinux BTF)",
      );
    this.firstId = base ? base.nextId : 1;

    const view = this.view;
    const le = h.littleEndian;
    const end = h.typeStart + h.typeLen;
    const cap = Math.floor(h.typeLen / 12);
    const offsets = new Uint32Array(cap);
    const kinds = new Uint8Array(cap);
    // the common case (host-order, aligned: vmlinux) walks 32-bit words; anything odd, or an error, falls
    // through to the DataView walk below, which names the problem
    let n = indexWords(bytes, h.typeStart, h.typeLen, le, offsets, kinds);
    let off = n < 0 ? h.typeStart : end;
    if (n < 0) n = 0;
    while (off < end) {
      const id = this.firstId + n;
      if (off + 12 > end)
        this.fail(
          id,
          `record at offset ${off} is truncated: ${end - off} bytes left in the type section, need 12`,
        );
      const info = view.getUint32(off + 4, le);
      const kind = (info >>> 24) & 0x1f;
      const extra = extraSize(kind, info & 0xffff);
      if (extra < 0 || kind === 0)
        this.fail(
          id,
          `unknown BTF kind ${kind} at offset ${off + 4}`,
          "is this BTF from a newer kernel or pahole?",
        );
      const next = off + 12 + extra;
      if (next > end)
        this.fail(
          id,
          `record at offset ${off} needs ${12 + extra} bytes but the type section ends at ${end} (truncated or bad vlen?)`,
        );
      offsets[n] = off;
      kinds[n] = kind;
      n++;
      off = next;
    }
    if (this.firstId + n > BTF_MAX_TYPES + 1)
      this.fail(undefined, `${this.firstId + n - 1} types exceed the kernel's limit of ${BTF_MAX_TYPES}`);
    this.offsets = offsets.subarray(0, n);
    this.kinds = kinds.subarray(0, n);
    this.nextId = this.firstId + n;
    this.cache = new Array(n);
  }

  private fail(id: number | undefined, what: string, hint?: string): never {
    throw new BtfError(this.source, id, what, { hint: hint ?? CORRUPT_HINT });
  }

  /** Hint for an id or string offset past the end: evidence of split BTF parsed without its base? */
  private pastEndHint(): string {
    return this.base
      ? CORRUPT_HINT
      : `${CORRUPT_HINT}; if this is a module's split BTF, pass { base: vmlinux BTF }`;
  }

  typeById(id: number): BtfType {
    const i = id - this.firstId;
    if (i >= 0 && i < this.offsets.length) {
      const cached = this.cache[i];
      if (cached) return cached;
      const t = decodeType(this, id, this.offsets[i]!);
      this.cache[i] = t;
      return t;
    }
    if (id === 0) return VOID;
    if (this.base && Number.isInteger(id) && id > 0 && id < this.firstId) return this.base.typeById(id);
    return this.fail(
      id,
      `no such type: ids are 0..${this.nextId - 1}`,
      "was this id taken from another BTF (vmlinux vs a module), or is the BTF truncated?",
    );
  }

  *ownTypes(): Iterable<BtfType> {
    for (let id = this.firstId; id < this.nextId; id++) yield this.typeById(id);
  }

  // DecodeContext
  name(offset: number, id: number, what: string, index = -1): string {
    const s = this.stringOrUndefined(offset);
    if (s === undefined)
      this.fail(
        id,
        `${item(what, index)}: string offset ${offset} out of range (strings end at ${this.strEnd})`,
        this.pastEndHint(),
      );
    if (s === null) this.fail(id, `${item(what, index)}: string at offset ${offset} is not valid UTF-8`);
    return s;
  }

  ref(target: number, id: number, what: string, index = -1): number {
    if (target >= this.nextId)
      this.fail(
        id,
        `${item(what, index)} refers to type [${target}], which does not exist (ids are 0..${this.nextId - 1})`,
        this.pastEndHint(),
      );
    return target;
  }

  string(offset: number): string {
    const s = this.stringOrUndefined(offset);
    if (s === undefined)
      this.fail(
        undefined,
        `string offset ${offset} out of range (strings end at ${this.strEnd})`,
        "string offsets come from this BTF's types or its .BTF.ext",
      );
    if (s === null) this.fail(undefined, `string at offset ${offset} is not valid UTF-8`);
    return s;
  }

  /** undefined: out of range; null: not valid UTF-8. */
  private stringOrUndefined(offset: number): string | null | undefined {
    if (offset < this.strBase) {
      if (!this.base || offset < 0 || !Number.isInteger(offset)) return undefined;
      return this.base.string(offset);
    }
    const local = offset - this.strBase;
    const s = this.strings;
    if (local >= s.length || !Number.isInteger(local)) return undefined;
    // the section ends with NUL (checked in the constructor), so indexOf always finds one
    return decodeString(s, local, s.indexOf(0, local));
  }

  /** The bytes and local offset of a global string offset (for the name index). */
  stringBytes(offset: number): [Uint8Array, number] | undefined {
    if (offset >= this.strBase) {
      const local = offset - this.strBase;
      return local < this.strings.length ? [this.strings, local] : undefined;
    }
    const b = this.base;
    return b instanceof ParsedBtf ? b.stringBytes(offset) : undefined;
  }

  nameOffsetOf(id: number): number {
    return this.view.getUint32(this.offsets[id - this.firstId]!, this.le);
  }

  private nameIndex(): NameIndex {
    this.names ??= new NameIndex(this);
    return this.names;
  }

  /**
   * Own ids named `name` (of kind k, or any for -1), ascending, through the name index. (Answering the first
   * lookups by scanning the records instead, to spare a process with few lookups the index, lost: a load
   * with CO-RE or kfuncs makes more than the handful of lookups at which ~20 ms scans under TCG outweigh
   * the index, so a first load paid for the scans and then for the index anyway.)
   */
  private lookup(name: string, k: number, firstOnly: boolean): number[] {
    const index = this.nameIndex();
    if (!firstOnly) return index.all(name, k);
    const id = index.first(name, k);
    return id === undefined ? [] : [id];
  }

  findByName(name: string, kind?: BtfTypeKind): BtfType | undefined {
    if (name === "") return undefined;
    const k = kind === undefined ? -1 : kindNumber(kind);
    const id = this.lookup(name, k, true)[0];
    if (id !== undefined) return this.typeById(id);
    return this.base?.findByName(name, kind);
  }

  findAllByName(name: string, kind?: BtfTypeKind): BtfType[] {
    const out = this.findOwnByName(name, kind);
    if (this.base && name !== "") out.push(...this.base.findAllByName(name, kind));
    return out;
  }

  findOwnByName(name: string, kind?: BtfTypeKind): BtfType[] {
    if (name === "") return [];
    const k = kind === undefined ? -1 : kindNumber(kind);
    return this.lookup(name, k, false).map((id) => this.typeById(id));
  }

  resolve(id: number): BtfType {
    return resolveType(this, id);
  }

  skipModifiers(id: number): BtfType {
    return skipModifiers(this, id);
  }

  sizeof(id: number): number {
    return sizeOf(this, id);
  }

  alignof(id: number): number {
    return alignOf(this, id);
  }

  declTagsOf(id: number): BtfDeclTag[] {
    if (!this.declTags) {
      const map = new Map<number, number[]>();
      for (let i = 0; i < this.kinds.length; i++) {
        if (this.kinds[i] !== BTF_KIND.DECL_TAG) continue;
        const target = this.view.getUint32(this.offsets[i]! + 8, this.le);
        const list = map.get(target);
        if (list) list.push(this.firstId + i);
        else map.set(target, [this.firstId + i]);
      }
      this.declTags = map;
    }
    const own = (this.declTags.get(id) ?? []).map((t) => this.typeById(t) as BtfDeclTag);
    if (this.base && id < this.firstId) own.push(...this.base.declTagsOf(id));
    return own;
  }
}

/** "member name" + 3 → "member 3 name"; "variable" + 2 → "variable 2". */
function item(what: string, index: number): string {
  if (index < 0) return what;
  const sp = what.lastIndexOf(" ");
  return sp < 0 ? `${what} ${index}` : `${what.slice(0, sp)} ${index}${what.slice(sp)}`;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes a string of the string section; null when the bytes are not valid UTF-8. */
function decodeString(b: Uint8Array, start: number, end: number): string | null {
  if (end - start <= 64) {
    let ascii = true;
    for (let i = start; i < end; i++)
      if (b[i]! >= 0x80) {
        ascii = false;
        break;
      }
    if (ascii) return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
  }
  try {
    return utf8.decode(b.subarray(start, end));
  } catch {
    return null;
  }
}

export type { ParsedBtf };
