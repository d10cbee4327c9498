/**
 * The one BTF → C printer, a port of libbpf's `btf_dump.c`. Two entry points share it:
 *
 * - the whole-BTF header (the vmlinux.h role, {@link dumpC}): type ordering, forward declarations, inline
 *   anonymous types, bitfields, padding, packed structs, `___N` names for duplicates (assigned exactly as
 *   bpftool does), with bpftool ≥ 7.5's header layout: `__ksym`/`__weak` defines and
 *   `extern … __weak __ksym;` prototypes for "bpf_kfunc"-tagged FUNCs, guarded by BPF_NO_KFUNC_PROTOTYPES;
 * - single declarations ({@link cDeclaration}, {@link cFuncPrototype}, {@link cDefinition}): module
 *   headers, inspect reports, skeletons; the same declarator code, with the BTF's own names (no `___N`).
 *
 * Works on the flat record view (c-flat.ts) and writes bytes (c-out.ts): monomorphic, allocation-free in
 * the hot loop, which is what V8's cold tiers run fast.
 */
import { BtfError } from "../errors.ts";
import type { Btf } from "./btf.ts";
import {
  type FlatBtf,
  flatOf,
  K_ARRAY,
  K_CONST,
  K_DATASEC,
  K_DECL_TAG,
  K_ENUM,
  K_ENUM64,
  K_FLOAT,
  K_FUNC,
  K_FUNC_PROTO,
  K_FWD,
  K_INT,
  K_PTR,
  K_RESTRICT,
  K_STRUCT,
  K_TYPE_TAG,
  K_TYPEDEF,
  K_UNION,
  K_VAR,
  K_VOLATILE,
} from "./c-flat.ts";
import { FlatLayout } from "./c-flat-layout.ts";
import { NameCounts } from "./c-names.ts";
import { ByteOut } from "./c-out.ts";
import { kfuncTags } from "./kfunc-tags.ts";
import { KIND_NAMES } from "./kinds.ts";

export interface DumpCOptions {
  /**
   * Split BTF only: "own" prints the module's own types plus whatever they need from the base
   * (default); "all" prints base and module types, as `bpftool btf dump` does.
   */
  scope: "own" | "all";
  /** Emit `extern … __weak __ksym;` for FUNCs tagged "bpf_kfunc" (default true). */
  kfuncPrototypes: boolean;
  /** Wrap in `#ifndef __VMLINUX_H__`, the preserve_access_index pragma and the ksym defines (default true). */
  header: boolean;
  /** Sort kfunc prototypes by name like current bpftool (default true); false keeps BTF order. */
  sortKfuncs: boolean;
}

const DEFAULTS: DumpCOptions = { scope: "own", kfuncPrototypes: true, header: true, sortKfuncs: true };

const HEADER = `#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

#ifndef __ksym
#define __ksym __attribute__((section(".ksyms")))
#endif

#ifndef __weak
#define __weak __attribute__((weak))
#endif

#ifndef __bpf_fastcall
#if __has_attribute(bpf_fastcall)
#define __bpf_fastcall __attribute__((bpf_fastcall))
#else
#define __bpf_fastcall
#endif
#endif

`;

const FOOTER = `#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
`;

const utf8 = new TextDecoder("utf-8");

/** Prints BTF as a C header (see {@link DumpCOptions}). */
export function dumpC(btf: Btf, options: Partial<DumpCOptions> = {}): string {
  return utf8.decode(dumpCBytes(btf, options));
}

/**
 * Like {@link dumpC}, as UTF-8 bytes. With `onChunk`, output is handed over in ~1 MiB pieces (each must be
 * consumed before onChunk returns) and the return value is empty.
 */
export function dumpCBytes(
  btf: Btf,
  options: Partial<DumpCOptions> = {},
  onChunk?: (chunk: Uint8Array) => void,
): Uint8Array {
  const o: DumpCOptions = { ...DEFAULTS, ...options };
  const out = new ByteOut(onChunk ? 1 << 20 : 4 << 20, onChunk);
  const p = new CPrinter(flatOf(btf), out, false);
  if (o.header) out.s(HEADER);
  const own = btf.base !== undefined && o.scope === "own";
  for (let id = own ? btf.firstId : 1; id < btf.nextId; id++) {
    p.dumpType(id);
    out.maybeFlush();
  }
  if (o.kfuncPrototypes) p.dumpKfuncs(own ? btf.firstId : 1, o.sortKfuncs, own);
  if (o.header) out.s(FOOTER);
  out.flush();
  return onChunk ? new Uint8Array(0) : out.bytes();
}

// order state
const ORDERING = 1;
const ORDERED = 2;
// emit state
const NOT_EMITTED = 0;
const EMITTING = 1;
const EMITTED = 2;

const MISSING_BASE_TYPES: Record<string, string> = {
  __Poly8_t: "unsigned char",
  __Poly16_t: "unsigned short",
  __Poly64_t: "unsigned long long",
  __Poly128_t: "unsigned __int128",
};

const PAD_NAMES = ["long", "int", "short", "char"];
/** typeDecl's `nameOf`: no type's name (use nameOff), or the JS string in `nameStr`. */
const NO_NAME = -1;
const NAME_STR = -2;
/** Pointer size for single declarations (eBPF and x86-64); whole dumps find it from `long`. */
const POINTER_SIZE = 8;
/** Deepest type nesting followed (real BTF stays far below; loops in hostile BTF hit it). */
const MAX_DEPTH = 1000;
/** Largest hole filled with padding members (2 MiB): hostile sizes would print for hours. */
const MAX_PAD_BITS = 1 << 24;

/** markReferenced: 1 when a kind's third header word is a referenced type, 2 when it is only checked. */
const REF_HEADER = new Uint8Array(32);
/** markReferenced: where a kind's referenced types start in its extra data (words), and their stride (0: none). */
const REF_FIRST = new Uint8Array(32);
const REF_STRIDE = new Uint8Array(32);
for (const k of [K_PTR, K_TYPEDEF, K_VOLATILE, K_CONST, K_RESTRICT, K_TYPE_TAG, K_FUNC, K_VAR, K_DECL_TAG])
  REF_HEADER[k] = 1;
REF_HEADER[K_FUNC_PROTO] = 2;
// ARRAY: type and index type (two words); STRUCT/UNION members and FUNC_PROTO params: their type; DATASEC: var ids
for (const [k, first, stride] of [
  [K_ARRAY, 0, 1],
  [K_STRUCT, 1, 3],
  [K_UNION, 1, 3],
  [K_FUNC_PROTO, 1, 2],
  [K_DATASEC, 0, 3],
] as const) {
  REF_FIRST[k] = first;
  REF_STRIDE[k] = stride;
}

function isMod(k: number): boolean {
  return k === K_CONST || k === K_VOLATILE || k === K_RESTRICT || k === K_TYPE_TAG;
}

class CPrinter {
  private readonly f: FlatBtf;
  private readonly w: Uint32Array;
  private readonly at: Uint32Array;
  private readonly o: ByteOut;
  private readonly layout: FlatLayout;
  private readonly order: Uint8Array;
  private readonly emit: Uint8Array;
  private readonly fwdEmitted: Uint8Array;
  private readonly referenced: Uint8Array;
  /** 1: name resolved, 2: resolved to a `___N` name (in uniqueNames). */
  private readonly nameResolved: Uint8Array;
  private readonly uniqueNames = new Map<number, string>();
  private readonly typeNames: NameCounts;
  private readonly identNames: NameCounts;
  private queue = new Int32Array(1024);
  private qn = 0;
  private stack = new Int32Array(1024);
  private sp = 0;
  private readonly padBits: number[];
  /** Single declarations: the BTF's own names, no ordering state, references checked as they are met. */
  private readonly decl: boolean;
  /** Whole dumps: ids of the DECL_TAGs on a whole type (component_idx -1), in id order. */
  private readonly declTags: number[] = [];
  /** The declarator name when typeDecl's `nameOf` is NAME_STR. */
  private nameStr = "";

  constructor(f: FlatBtf, out: ByteOut, decl: boolean) {
    this.f = f;
    this.w = f.w;
    this.at = f.at;
    this.o = out;
    this.decl = decl;
    const n = decl ? 0 : f.nextId;
    this.referenced = new Uint8Array(n);
    const ptrSize = decl ? POINTER_SIZE : this.markReferenced();
    this.layout = new FlatLayout(f, ptrSize);
    this.padBits = [ptrSize * 8, 32, 16, 8];
    this.order = new Uint8Array(n);
    this.emit = new Uint8Array(n);
    this.fwdEmitted = new Uint8Array(n);
    this.nameResolved = new Uint8Array(n);
    if (!decl) {
      this.order[0] = ORDERED;
      this.emit[0] = EMITTED;
    }
    this.typeNames = new NameCounts(f, n >>> 1);
    this.identNames = new NameCounts(f, n >>> 1);
  }

  /**
   * btf_dump_mark_referenced for every type; also validates references, finds the pointer size and collects
   * the kfunc block's DECL_TAG candidates. One loop over ~126k vmlinux types, run before V8 has optimised
   * anything: where a kind keeps its references comes from tables ({@link REF_HEADER}, {@link REF_FIRST},
   * {@link REF_STRIDE}), so the loop has one shape for every kind instead of a switch V8 must learn case by case.
   */
  private markReferenced(): number {
    const { w, at, f, referenced } = this;
    const n = f.nextId;
    let ptrSize = 0;
    for (let id = 1; id < n; id++) {
      const a = at[id]!;
      const info = w[a + 1]!;
      const kind = (info >>> 24) & 0x1f;
      const header = REF_HEADER[kind]!;
      if (header !== 0) {
        const t = w[a + 2]!;
        if (t >= n) f.ref(t, id);
        // FUNC_PROTO's return type is checked, not marked (libbpf marks only its params)
        if (header === 1) referenced[t] = 1;
      }
      const stride = REF_STRIDE[kind]!;
      if (stride !== 0) {
        const count = kind === K_ARRAY ? 2 : info & 0xffff;
        let p = a + 3 + REF_FIRST[kind]!;
        for (let i = 0; i < count; i++, p += stride) {
          const t = w[p]!;
          if (t >= n) f.ref(t, id);
          referenced[t] = 1;
        }
      }
      if (kind === K_INT) {
        if (ptrSize === 0 && w[a + 2] === 8) {
          const name = f.str(w[a]!);
          if (name === "long int" || name === "long unsigned int") ptrSize = 8;
        }
      } else if (kind === K_DECL_TAG && (w[a + 3]! | 0) === -1) this.declTags.push(id);
    }
    return ptrSize || 8;
  }

  // ---- names (btf_dump_resolve_name) ----

  private resolve(id: number, map: NameCounts): void {
    if (this.decl || this.nameResolved[id]) return;
    this.nameResolved[id] = 1;
    const off = this.w[this.at[id]!]!;
    if (off === 0) return;
    const k = this.f.kind(id);
    if (k === K_FWD || (k === K_ENUM && this.f.vlen(id) === 0)) return;
    const n = map.add(off);
    if (n > 1) {
      this.uniqueNames.set(id, `${this.f.str(off)}___${n}`);
      this.nameResolved[id] = 2;
    }
  }

  /** Writes the (unique) name of a struct/union/enum/fwd, or nothing for an anonymous one. */
  private typeName(id: number): void {
    this.resolve(id, this.typeNames);
    this.writeName(id);
  }

  private identName(id: number): void {
    this.resolve(id, this.identNames);
    this.writeName(id);
  }

  private writeName(id: number): void {
    if (this.nameResolved[id] === 2) this.o.s(this.uniqueNames.get(id)!);
    else this.rawName(this.w[this.at[id]!]!);
  }

  private rawName(off: number): void {
    if (off === 0) return;
    const start = this.f.locate(off);
    this.o.cstr(this.f.locBytes, start);
  }

  private hasName(id: number): boolean {
    return this.w[this.at[id]!] !== 0;
  }

  // ---- ordering (btf_dump_order_type) ----

  dumpType(id: number): void {
    this.qn = 0;
    this.orderType(id, false);
    for (let i = 0; i < this.qn; i++) this.emitType(this.queue[i]!, 0);
  }

  private enqueue(id: number): void {
    if (this.qn === this.queue.length) {
      const q = new Int32Array(this.queue.length * 2);
      q.set(this.queue);
      this.queue = q;
    }
    this.queue[this.qn++] = id;
  }

  /** 1: strong link (must be defined first), 0: weak (a forward declaration will do). */
  private orderType(id: number, throughPtr: boolean, depth = 0): number {
    const state = this.order[id]!;
    if (state === ORDERED) return 1;
    if (depth > MAX_DEPTH) throw this.loop(id);
    const a = this.at[id]!;
    const w = this.w;
    const info = w[a + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const named = w[a] !== 0;
    if (state === ORDERING) {
      if ((kind === K_STRUCT || kind === K_UNION) && throughPtr && named) return 0;
      throw new BtfError(this.f.source, id, "unsatisfiable type cycle", {
        hint: "a struct embeds itself by value; the BTF is malformed",
      });
    }
    switch (kind) {
      case K_INT:
      case K_FLOAT:
        this.order[id] = ORDERED;
        return 0;
      case K_PTR: {
        const r = this.orderType(w[a + 2]!, true, depth + 1);
        this.order[id] = ORDERED;
        return r;
      }
      case K_ARRAY:
        return this.orderType(w[a + 3]!, false, depth + 1);
      case K_STRUCT:
      case K_UNION: {
        if (throughPtr && named) return 0;
        this.order[id] = ORDERING;
        const vlen = info & 0xffff;
        const order = this.order;
        for (let i = 0; i < vlen; i++) {
          const mt = w[a + 3 + 3 * i + 1]!;
          if (order[mt] !== ORDERED) this.orderType(mt, false, depth + 1);
        }
        if (named) this.enqueue(id);
        this.order[id] = ORDERED;
        return 1;
      }
      case K_ENUM:
      case K_ENUM64:
      case K_FWD:
        if (named || !this.referenced[id]) this.enqueue(id);
        this.order[id] = ORDERED;
        return 1;
      case K_TYPEDEF: {
        const strong = this.orderType(w[a + 2]!, throughPtr, depth + 1);
        if (throughPtr && !strong) return 0;
        this.enqueue(id);
        this.order[id] = ORDERED;
        return 1;
      }
      case K_VOLATILE:
      case K_CONST:
      case K_RESTRICT:
      case K_TYPE_TAG:
        return this.orderType(w[a + 2]!, throughPtr, depth + 1);
      case K_FUNC_PROTO: {
        let strong = this.orderType(w[a + 2]!, throughPtr, depth + 1) > 0;
        const vlen = info & 0xffff;
        for (let i = 0; i < vlen; i++)
          if (this.orderType(w[a + 3 + 2 * i + 1]!, throughPtr, depth + 1) > 0) strong = true;
        return strong ? 1 : 0;
      }
      default:
        this.order[id] = ORDERED;
        return 0;
    }
  }

  // ---- emission (btf_dump_emit_type) ----

  private loop(id: number): BtfError {
    return new BtfError(this.f.source, id, "type references nest too deep (a reference loop?)", {
      hint: "the BTF is malformed; regenerate it",
    });
  }

  private isBlacklisted(id: number): boolean {
    const off = this.w[this.at[id]!]!;
    if (off === 0) return false;
    const local = this.f.locate(off);
    // cheap reject before the full compare: "__b…"
    if (this.f.locBytes[local + 2] !== 98) return false;
    return this.f.strEquals(off, "__builtin_va_list");
  }

  private emitType(id: number, contId: number, depth = 0): void {
    const state = this.emit[id]!;
    if (state === EMITTED) return;
    if (depth > MAX_DEPTH) throw this.loop(id);
    const a = this.at[id]!;
    const w = this.w;
    const info = w[a + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const o = this.o;
    if (state === EMITTING) {
      if (this.fwdEmitted[id]) return;
      if (kind === K_STRUCT || kind === K_UNION) {
        if (id === contId || w[a] === 0) return;
        this.structFwd(id, kind);
        o.s(";\n\n");
        this.fwdEmitted[id] = 1;
      } else if (kind === K_TYPEDEF) {
        if (!this.isBlacklisted(id)) {
          this.typedefDef(id, 0);
          o.s(";\n\n");
        }
        this.fwdEmitted[id] = 1;
      }
      return;
    }
    switch (kind) {
      case K_INT: {
        if (w[a] !== 0) {
          this.resolve(id, this.typeNames);
          const name = this.uniqueNames.get(id) ?? this.f.name(id);
          const alias = MISSING_BASE_TYPES[name];
          if (alias) o.s(`typedef ${alias} ${name};\n\n`);
        }
        this.emit[id] = EMITTED;
        break;
      }
      case K_ENUM:
      case K_ENUM64:
        if (contId === 0) {
          this.enumDef(id, 0);
          o.s(";\n\n");
        }
        this.emit[id] = EMITTED;
        break;
      case K_PTR:
      case K_VOLATILE:
      case K_CONST:
      case K_RESTRICT:
      case K_TYPE_TAG:
        this.emitType(w[a + 2]!, contId, depth + 1);
        break;
      case K_ARRAY:
        this.emitType(w[a + 3]!, contId, depth + 1);
        break;
      case K_FWD:
        this.fwdDef(id);
        o.s(";\n\n");
        this.emit[id] = EMITTED;
        break;
      case K_TYPEDEF:
        this.emit[id] = EMITTING;
        this.emitType(w[a + 2]!, id, depth + 1);
        if (!this.fwdEmitted[id] && !this.isBlacklisted(id)) {
          this.typedefDef(id, 0);
          o.s(";\n\n");
        }
        this.emit[id] = EMITTED;
        break;
      case K_STRUCT:
      case K_UNION: {
        this.emit[id] = EMITTING;
        const named = w[a] !== 0;
        if (contId === 0 || !named) {
          const cont = named ? id : contId;
          const vlen = info & 0xffff;
          const emit = this.emit;
          for (let i = 0; i < vlen; i++) {
            const mt = w[a + 3 + 3 * i + 1]!;
            if (emit[mt] !== EMITTED) this.emitType(mt, cont, depth + 1);
          }
        } else if (!this.fwdEmitted[id] && id !== contId) {
          this.structFwd(id, kind);
          o.s(";\n\n");
          this.fwdEmitted[id] = 1;
        }
        if (contId === 0) {
          this.structDef(id, 0);
          o.s(";\n\n");
          this.emit[id] = EMITTED;
        } else this.emit[id] = NOT_EMITTED;
        break;
      }
      case K_FUNC_PROTO: {
        this.emitType(w[a + 2]!, contId, depth + 1);
        const vlen = info & 0xffff;
        for (let i = 0; i < vlen; i++) this.emitType(w[a + 3 + 2 * i + 1]!, contId, depth + 1);
        break;
      }
      default:
        break;
    }
  }

  // ---- definitions ----

  private structFwd(id: number, kind: number): void {
    const o = this.o;
    o.s(kind === K_STRUCT ? "struct" : "union");
    if (this.hasName(id)) {
      o.byte(32);
      this.typeName(id);
    }
  }

  private structDef(id: number, lvl: number): void {
    // anonymous structs nest by level; one that contains itself by value would recurse forever
    if (lvl > MAX_DEPTH) throw this.loop(id);
    const w = this.w;
    const a = this.at[id]!;
    const info = w[a + 1]!;
    const isStruct = ((info >>> 24) & 0x1f) === K_STRUCT;
    const kflag = info >>> 31 === 1;
    const vlen = info & 0xffff;
    const size = w[a + 2]!;
    const layout = this.layout;
    const packed = isStruct && layout.isPacked(id);
    const o = this.o;
    this.structFwd(id, isStruct ? K_STRUCT : K_UNION);
    o.s(" {");
    let off = 0;
    let prevBitfield = false;
    for (let i = 0; i < vlen; i++) {
      const m = a + 3 + 3 * i;
      const mType = w[m + 1]!;
      const raw = w[m + 2]!;
      const mOff = kflag ? raw & 0xffffff : raw;
      let mSize = kflag ? raw >>> 24 : 0;
      const inBitfield = prevBitfield && mSize !== 0;
      if (off < mOff) this.bitPadding(off, mOff, packed ? 1 : layout.alignOf(mType), inBitfield, lvl + 1);
      o.byte(10);
      o.tabs(lvl + 1);
      this.memberDecl(mType, w[m]!, lvl + 1);
      if (mSize) {
        o.s(": ");
        o.uint(mSize);
        o.byte(59);
        off = mOff + mSize;
        prevBitfield = true;
      } else {
        mSize = layout.sizeOf(mType);
        off = mOff + mSize * 8;
        prevBitfield = false;
        o.byte(59);
      }
    }
    if (isStruct && off < size * 8) this.bitPadding(off, size * 8, layout.alignOf(id), false, lvl + 1);
    if (vlen || size) {
      o.byte(10);
      o.tabs(lvl);
    }
    o.byte(125);
    if (packed) o.s(" __attribute__((packed))");
  }

  /**
   * A member's declaration: the common shapes (`int x`, `u32 x`, `struct s x`, `struct s *p`, `u8 *p`)
   * directly, everything else through typeDecl. Same output and naming side effects as typeDecl.
   */
  private memberDecl(id: number, nameOff: number, lvl: number): void {
    const w = this.w;
    const at = this.at;
    const o = this.o;
    if (id >= this.f.nextId) this.f.ref(id, 0);
    const a = at[id]!;
    const k = (w[a + 1]! >>> 24) & 0x1f;
    let ptr = false;
    let t = id;
    let tk = k;
    if (k === K_PTR) {
      t = w[a + 2]!;
      if (t === 0 || t >= this.f.nextId) {
        this.typeDecl(id, nameOff, NO_NAME, lvl);
        return;
      }
      tk = (w[at[t]! + 1]! >>> 24) & 0x1f;
      ptr = true;
    }
    if (tk === K_TYPEDEF) this.identName(t);
    else if (tk === K_INT || tk === K_FLOAT) this.rawName(w[at[t]!]!);
    else if ((tk === K_STRUCT || tk === K_UNION) && w[at[t]!] !== 0) this.structFwd(t, tk);
    else {
      this.typeDecl(id, nameOff, NO_NAME, lvl);
      return;
    }
    if (ptr) {
      o.byte(32);
      o.byte(42);
      this.rawName(nameOff);
    } else if (nameOff !== 0) {
      o.byte(32);
      this.rawName(nameOff);
    }
  }

  private bitPadding(cur: number, next: number, nextAlign: number, inBitfield: boolean, lvl: number): void {
    if (next - cur > MAX_PAD_BITS)
      throw new BtfError(this.f.source, undefined, `a ${(next - cur) / 8}-byte hole between struct members`, {
        hint: "the BTF is malformed (member offsets or struct size); regenerate it",
      });
    const padBits = this.padBits;
    const _o = this.o;
    let newOff = 0;
    let bits = 0;
    let type = "";
    for (let i = 0; i < 4; i++) {
      bits = padBits[i]!;
      type = PAD_NAMES[i]!;
      newOff = Math.ceil(cur / bits) * bits;
      if (newOff <= next) break;
    }
    if (newOff > cur && newOff <= next) {
      if (
        inBitfield ||
        (newOff === next && Math.ceil(cur / (nextAlign * 8)) * (nextAlign * 8) !== newOff) ||
        (newOff !== next && next - newOff <= newOff - cur)
      ) {
        this.pad(type, inBitfield ? newOff - cur : 0, lvl);
      }
      cur = newOff;
    }
    while (cur !== next) {
      const rest = Math.min(next - cur, bits);
      if (rest === bits) {
        this.pad(type, bits, lvl);
        cur += rest;
        continue;
      }
      for (let i = 3; i >= 0; i--) {
        type = PAD_NAMES[i]!;
        bits = padBits[i]!;
        if (bits < rest) continue;
        this.pad(type, rest, lvl);
        cur += rest;
        break;
      }
    }
  }

  private pad(type: string, bits: number, lvl: number): void {
    const o = this.o;
    o.byte(10);
    o.tabs(lvl);
    o.s(type);
    o.s(": ");
    o.uint(bits);
    o.byte(59);
  }

  private enumDef(id: number, lvl: number): void {
    const w = this.w;
    const a = this.at[id]!;
    const info = w[a + 1]!;
    const is64 = ((info >>> 24) & 0x1f) === K_ENUM64;
    const signed = info >>> 31 === 1;
    const vlen = info & 0xffff;
    const size = w[a + 2]!;
    const o = this.o;
    o.s("enum");
    if (w[a] !== 0) {
      o.byte(32);
      this.typeName(id);
    }
    if (vlen === 0) return;
    o.s(" {");
    let hasHigh = false;
    const stride = is64 ? 3 : 2;
    for (let i = 0; i < vlen; i++) {
      const e = a + 3 + stride * i;
      const n = this.decl ? 1 : this.identNames.add(w[e]!);
      o.byte(10);
      o.tabs(lvl + 1);
      this.rawName(w[e]!);
      if (n > 1) {
        o.s("___");
        o.uint(n);
      }
      o.s(" = ");
      if (is64) {
        const lo = w[e + 1]!;
        const hi = w[e + 2]!;
        if (hi !== 0) hasHigh = true;
        if (hi === 0 && (!signed || lo < 0x80000000)) o.uint(lo);
        else {
          const v = (BigInt(hi) << 32n) | BigInt(lo);
          o.s(`${signed ? BigInt.asIntN(64, v) : v}`);
        }
        o.s(signed ? "LL," : "ULL,");
      } else {
        const v = w[e + 1]!;
        if (signed && v >= 0x80000000) {
          o.byte(45);
          o.uint(0x100000000 - v);
        } else o.uint(v);
        o.byte(44);
      }
    }
    o.byte(10);
    o.tabs(lvl);
    o.byte(125);
    if (size === 1) o.s(" __attribute__((mode(byte)))");
    else if (size === 8 && this.layout.ptrSize === 8 && (!is64 || !hasHigh))
      o.s(" __attribute__((mode(word)))");
  }

  private fwdDef(id: number): void {
    this.o.s(this.f.kflag(id) ? "union " : "struct ");
    this.typeName(id);
  }

  private typedefDef(id: number, lvl: number): void {
    const a = this.at[id]!;
    if (this.w[a + 2] === 0 && this.f.strEquals(this.w[a]!, "__gnuc_va_list")) {
      this.o.s("typedef __builtin_va_list __gnuc_va_list");
      return;
    }
    this.o.s("typedef ");
    this.resolve(id, this.identNames);
    this.typeDecl(this.w[a + 2]!, 0, id, lvl);
  }

  // ---- declarations (btf_dump_emit_type_decl / _type_chain) ----

  /**
   * Writes `<type> <name>`. The name is a string offset (`nameOff`, 0 for none) when `nameOf` is NO_NAME,
   * the JS string `nameStr` when it is NAME_STR, else the resolved name of type `nameOf` (a typedef's own).
   */
  private typeDecl(id: number, nameOff: number, nameOf: number, lvl: number): void {
    const start = this.sp;
    const w = this.w;
    const at = this.at;
    for (let depth = 0; ; depth++) {
      if (depth > 1000) throw new BtfError(this.f.source, id, "declaration chain too long (a loop?)");
      if (this.sp === this.stack.length) {
        const st = new Int32Array(this.stack.length * 2);
        st.set(this.stack);
        this.stack = st;
      }
      this.stack[this.sp++] = id;
      if (id === 0) break;
      if (id >= this.f.nextId) this.f.ref(id, this.stack[this.sp - 2] ?? id);
      const a = at[id]!;
      const k = (w[a + 1]! >>> 24) & 0x1f;
      if (k === K_PTR || isMod(k) || k === K_FUNC_PROTO) id = w[a + 2]!;
      else if (k === K_ARRAY) id = w[a + 3]!;
      else break;
    }
    this.chain(start, this.sp, nameOff, nameOf, lvl);
    this.sp = start;
  }

  private declName(nameOff: number, nameOf: number, lastWasPtr: boolean): void {
    if (nameOf === NAME_STR) {
      if (this.nameStr === "") return;
      if (!lastWasPtr) this.o.byte(32);
      this.o.s(this.nameStr);
    } else if (nameOf !== NO_NAME) {
      if (!lastWasPtr) this.o.byte(32);
      this.writeName(nameOf);
    } else if (nameOff !== 0) {
      if (!lastWasPtr) this.o.byte(32);
      this.rawName(nameOff);
    }
  }

  private mods(start: number, cnt: number): number {
    const stack = this.stack;
    const o = this.o;
    while (cnt > start) {
      const k = this.f.kind(stack[cnt - 1]!);
      if (k === K_VOLATILE) o.s("volatile ");
      else if (k === K_CONST) o.s("const ");
      else if (k === K_RESTRICT) o.s("restrict ");
      else return cnt;
      cnt--;
    }
    return cnt;
  }

  private dropMods(start: number, cnt: number): number {
    while (cnt > start && isMod(this.f.kind(this.stack[cnt - 1]!))) cnt--;
    return cnt;
  }

  private chain(start: number, cnt: number, nameOff: number, nameOf: number, lvl: number): void {
    const stack = this.stack;
    const o = this.o;
    const w = this.w;
    let lastWasPtr = true;
    const hasName = nameOf === NAME_STR ? this.nameStr !== "" : nameOf !== NO_NAME || nameOff !== 0;
    while (cnt > start) {
      const id = stack[--cnt]!;
      if (id === 0) {
        cnt = this.mods(start, cnt);
        o.s("void");
        lastWasPtr = false;
        continue;
      }
      const a = this.at[id]!;
      const info = w[a + 1]!;
      const kind = (info >>> 24) & 0x1f;
      switch (kind) {
        case K_INT:
        case K_FLOAT:
          cnt = this.mods(start, cnt);
          this.rawName(w[a]!);
          break;
        case K_STRUCT:
        case K_UNION:
          cnt = this.mods(start, cnt);
          if (w[a] === 0) this.structDef(id, lvl);
          else this.structFwd(id, kind);
          break;
        case K_ENUM:
        case K_ENUM64:
          cnt = this.mods(start, cnt);
          if (w[a] === 0) this.enumDef(id, lvl);
          else {
            o.s("enum ");
            this.typeName(id);
          }
          break;
        case K_FWD:
          cnt = this.mods(start, cnt);
          this.fwdDef(id);
          break;
        case K_TYPEDEF:
          cnt = this.mods(start, cnt);
          this.identName(id);
          break;
        case K_PTR:
          o.s(lastWasPtr ? "*" : " *");
          break;
        case K_VOLATILE:
          o.s(" volatile");
          break;
        case K_CONST:
          o.s(" const");
          break;
        case K_RESTRICT:
          o.s(" restrict");
          break;
        case K_TYPE_TAG:
          cnt = this.mods(start, cnt);
          if (info >>> 31) {
            o.s(" __attribute__((");
            this.rawName(w[a]!);
            o.s("))");
          } else {
            o.s(' __attribute__((btf_type_tag("');
            this.rawName(w[a]!);
            o.s('")))');
          }
          break;
        case K_ARRAY: {
          const nelems = w[a + 5]!;
          cnt = this.dropMods(start, cnt);
          if (cnt === start) {
            this.declName(nameOff, nameOf, lastWasPtr);
            o.byte(91);
            o.uint(nelems);
            o.byte(93);
            return;
          }
          const multidim = this.f.kind(stack[cnt - 1]!) === K_ARRAY;
          if (hasName && !lastWasPtr) o.byte(32);
          if (!multidim) o.byte(40);
          this.chain(start, cnt, nameOff, nameOf, lvl);
          if (!multidim) o.byte(41);
          o.byte(91);
          o.uint(nelems);
          o.byte(93);
          return;
        }
        case K_FUNC_PROTO: {
          cnt = this.dropMods(start, cnt);
          if (cnt > start) {
            o.s(" (");
            this.chain(start, cnt, nameOff, nameOf, lvl);
            o.byte(41);
          } else this.declName(nameOff, nameOf, lastWasPtr);
          this.params(id, lvl);
          return;
        }
        default:
          throw new BtfError(
            this.f.source,
            id,
            `unexpected ${KIND_NAMES[kind] ?? `kind ${kind}`} in a type declaration`,
            {
              hint:
                kind === K_FUNC || kind === K_VAR || kind === K_DATASEC || kind === K_DECL_TAG
                  ? "only types (not FUNC, VAR, DATASEC or DECL_TAG) have a C declaration"
                  : "the BTF is malformed; regenerate it",
            },
          );
      }
      lastWasPtr = kind === K_PTR;
    }
    this.declName(nameOff, nameOf, lastWasPtr);
  }

  private params(id: number, lvl: number): void {
    const w = this.w;
    const a = this.at[id]!;
    const vlen = w[a + 1]! & 0xffff;
    const o = this.o;
    if (vlen === 0 || (vlen === 1 && w[a + 4] === 0)) {
      o.s("(void)");
      return;
    }
    o.byte(40);
    for (let i = 0; i < vlen; i++) {
      const p = a + 3 + 2 * i;
      if (i > 0) o.s(", ");
      if (i === vlen - 1 && w[p + 1] === 0) {
        o.s("...");
        break;
      }
      this.typeDecl(w[p + 1]!, w[p]!, NO_NAME, lvl);
    }
    o.byte(41);
  }

  // ---- single declarations ----

  /** Starts a single declaration afresh (a previous one may have thrown halfway). */
  private begin(): void {
    this.o.pos = 0;
    this.sp = 0;
    this.nameStr = "";
  }

  /** `<type id> <name>` in declarator syntax, as a string. */
  declaration(id: number, name: string): string {
    this.begin();
    this.nameStr = name;
    this.typeDecl(id, 0, NAME_STR, 0);
    this.nameStr = "";
    return this.take();
  }

  /** A FUNC's prototype with its own name and its parameters' names. */
  prototype(funcId: number): string {
    this.begin();
    this.typeDecl(this.f.sizeOrType(funcId), this.f.nameOff(funcId), NO_NAME, 0);
    return this.take();
  }

  /** The definition of a named struct/union/enum/typedef, without the `;`; "" for other kinds. */
  definition(id: number): string {
    this.begin();
    const k = this.f.kind(id);
    if (k === K_STRUCT || k === K_UNION) this.structDef(id, 0);
    else if (k === K_ENUM || k === K_ENUM64) this.enumDef(id, 0);
    else if (k === K_TYPEDEF) this.typedefDef(id, 0);
    return this.take();
  }

  private take(): string {
    const s = utf8.decode(this.o.bytes());
    this.o.pos = 0;
    return s;
  }

  // ---- kfunc prototypes (bpftool's dump_btf_kfuncs) ----

  dumpKfuncs(first: number, sort: boolean, declareDeps: boolean): void {
    const f = this.f;
    const tags = kfuncTags(f, first, this.declTags);
    const kfuncs = tags.kfuncs.map((id) => ({ id, name: f.name(id) }));
    const fastcall = new Set(tags.fastcall);
    if (sort) kfuncs.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    if (declareDeps) for (const k of kfuncs) this.declareProto(f.sizeOrType(k.id));
    const o = this.o;
    o.s("\n/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n");
    for (const k of kfuncs) {
      o.s(fastcall.has(k.id) ? "extern __bpf_fastcall " : "extern ");
      this.typeDecl(f.sizeOrType(k.id), f.nameOff(k.id), NO_NAME, 0);
      o.s(" __weak __ksym;\n");
    }
    o.s("#endif\n\n");
  }

  /**
   * With scope "own", a kfunc prototype may name base types nothing else pulled in: define what is used
   * by value or through a typedef, forward-declare named structs/unions used through pointers.
   */
  private declareProto(protoId: number): void {
    const f = this.f;
    if (f.kind(protoId) !== K_FUNC_PROTO) return;
    const w = this.w;
    const a = this.at[protoId]!;
    this.declareUse(w[a + 2]!);
    const vlen = w[a + 1]! & 0xffff;
    for (let i = 0; i < vlen; i++) this.declareUse(w[a + 3 + 2 * i + 1]!);
  }

  private declareUse(id: number): void {
    const f = this.f;
    let throughPtr = false;
    for (let depth = 0; depth < 64 && id !== 0; depth++) {
      const k = f.kind(id);
      if (k === K_PTR) {
        throughPtr = true;
        id = f.sizeOrType(id);
      } else if (isMod(k)) id = f.sizeOrType(id);
      else if (k === K_ARRAY) id = this.w[f.extra(id)]!;
      else if (k === K_STRUCT || k === K_UNION) {
        if (throughPtr && this.hasName(id)) {
          if (this.emit[id] !== EMITTED && !this.fwdEmitted[id]) {
            this.structFwd(id, k);
            this.o.s(";\n\n");
            this.fwdEmitted[id] = 1;
          }
        } else this.dumpType(id);
        return;
      } else if (k === K_FUNC_PROTO) {
        this.declareProto(id);
        return;
      } else {
        if (k === K_TYPEDEF || k === K_ENUM || k === K_ENUM64 || k === K_FWD) this.dumpType(id);
        return;
      }
    }
  }
}

const declPrinters = new WeakMap<FlatBtf, CPrinter>();

/** The single-declaration printer of a BTF (memoised: its layout caches are per BTF). */
function declPrinter(btf: Btf): CPrinter {
  const f = flatOf(btf);
  let p = declPrinters.get(f);
  if (!p) {
    p = new CPrinter(f, new ByteOut(1 << 12), true);
    declPrinters.set(f, p);
  }
  return p;
}

function checkId(btf: Btf, id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= btf.nextId)
    throw new BtfError(btf.source, id, `no such type id (valid: 0..${btf.nextId - 1})`, {
      hint: "use an id from this BTF (findByName / typeById)",
    });
}

/**
 * The C declaration of type `typeId` naming `name` (or an abstract declarator without one):
 * `cDeclaration(btf, id, "handler")` → `void (*handler)(int, void *)`; anonymous structs/unions/enums are
 * written inline. Works for every kind that is a type (not FUNC, VAR, DATASEC, DECL_TAG).
 */
export function cDeclaration(btf: Btf, typeId: number, name = ""): string {
  checkId(btf, typeId);
  return declPrinter(btf).declaration(typeId, name);
}

/**
 * The C prototype of a FUNC, with typedef names and the parameter names from its FUNC_PROTO:
 * `u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)` (no trailing `;`).
 */
export function cFuncPrototype(btf: Btf, funcId: number): string {
  checkId(btf, funcId);
  const f = btf.typeById(funcId);
  if (f.kind !== "FUNC")
    throw new BtfError(btf.source, funcId, `'${f.name}' is a ${f.kind}, not a FUNC`, {
      hint: "pass the id of a FUNC type (e.g. from findKfuncs or findByName(name, 'FUNC'))",
    });
  const proto = btf.typeById(f.type);
  if (proto.kind !== "FUNC_PROTO")
    throw new BtfError(btf.source, funcId, `FUNC '${f.name}' points at a ${proto.kind}, not a FUNC_PROTO`, {
      hint: "the BTF is malformed; regenerate it",
    });
  return declPrinter(btf).prototype(funcId);
}

/**
 * The C definition of a named STRUCT, UNION, ENUM/ENUM64 or TYPEDEF, without the trailing `;`:
 * `struct point {\n\tint x;\n\tint y;\n}`. Members name other types by tag (`struct s *next`); anonymous
 * member types are written inline. Other kinds give "".
 */
export function cDefinition(btf: Btf, typeId: number): string {
  checkId(btf, typeId);
  return declPrinter(btf).definition(typeId);
}
