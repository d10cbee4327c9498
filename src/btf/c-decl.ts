/**
 * C declarator syntax for BTF types: the inside-out part of C (`int (*fn[4])(void *)`, `char *const p`,
 * `struct { int a; } x`), ported from libbpf's `btf_dump_emit_type_decl`/`btf_dump_emit_type_chain`.
 *
 * `CWriter` feeds single declarations (module headers, inspect reports). The whole-BTF printer
 * (c-printer.ts, vmlinux.h) is a second port of the same btf_dump logic, not built on this one; merging
 * them is open (docs/architecture.md, "Not done yet").
 */
import { BtfError } from "../errors.ts";
import { alignOfOrZero, isPacked, POINTER_SIZE, sizeOfOrZero, type TypeSource } from "./layout.ts";
import type { BtfEnum, BtfFuncProto, BtfRef, BtfStruct, BtfType } from "./types.ts";

/** The part of the `Btf` interface (docs/architecture.md) that the C printer reads. */
export interface CTypeSource extends TypeSource {
  readonly base: CTypeSource | undefined;
  readonly firstId: number;
  readonly nextId: number;
}

const TABS = "\t\t\t\t\t\t\t\t\t\t\t\t\t";

/** libbpf's pfx(): at most 13 tabs of indentation. */
export function indent(lvl: number): string {
  return lvl >= TABS.length ? TABS : TABS.slice(0, lvl);
}

const CHUNK = 1 << 16;

/**
 * Builds C text. Output accumulates in `cur` and moves to `chunks` every ~64 KiB, so the whole header is
 * never one huge rope of tiny strings.
 */
export class CWriter {
  protected readonly btf: CTypeSource;
  /** Drop const/volatile/restrict (libbpf's strip_mods). */
  stripMods = false;
  /** Name anonymous structs/unions/enums instead of defining them inline. */
  skipAnonDefs = false;
  private readonly stack: number[] = [];
  protected cur = "";
  protected readonly chunks: string[] = [];

  constructor(btf: CTypeSource) {
    this.btf = btf;
  }

  w(s: string): void {
    this.cur += s;
    if (this.cur.length > CHUNK) {
      this.chunks.push(this.cur);
      this.cur = "";
    }
  }

  /** Everything written so far, as chunks (the last one may be short). */
  takeChunks(): string[] {
    if (this.cur) this.chunks.push(this.cur);
    this.cur = "";
    return this.chunks.splice(0);
  }

  /** Everything written so far as one string; resets the writer. */
  take(): string {
    const parts = this.takeChunks();
    return parts.length === 1 ? parts[0]! : parts.join("");
  }

  // ---- naming hooks (the printer overrides them) ----

  /** Name of a struct/union/enum/fwd (tag namespace). */
  typeName(_id: number, t: BtfType): string {
    return t.name;
  }
  /** Name of a typedef (ordinary identifier namespace). */
  identName(_id: number, t: BtfType): string {
    return t.name;
  }
  /** Name of an enumerator (shares the identifier namespace with typedefs). */
  enumeratorName(name: string): string {
    return name;
  }

  // ---- definitions ----

  emitStructFwd(id: number, t: BtfStruct): void {
    const name = this.typeName(id, t);
    this.w(t.kind === "STRUCT" ? (name ? `struct ${name}` : "struct") : name ? `union ${name}` : "union");
  }

  emitStructDef(id: number, t: BtfStruct, lvl: number): void {
    const isStruct = t.kind === "STRUCT";
    const btf = this.btf;
    const packed = isStruct ? isPacked(btf, t) : false;
    const name = this.typeName(id, t);
    this.w(isStruct ? (name ? `struct ${name} {` : "struct {") : name ? `union ${name} {` : "union {");
    const members = t.members;
    const n = members.length;
    let off = 0;
    let prevBitfield = false;
    const pfx = indent(lvl + 1);
    for (let i = 0; i < n; i++) {
      const m = members[i]!;
      let mSize = m.bitfieldSize;
      const mOff = m.bitOffset;
      const mAlign = packed ? 1 : alignOfOrZero(btf, m.type);
      const inBitfield = prevBitfield && mSize !== 0;
      if (off < mOff) this.emitBitPadding(off, mOff, mAlign, inBitfield, lvl + 1);
      this.w("\n");
      this.w(pfx);
      this.emitTypeDecl(m.type, m.name, lvl + 1);
      if (mSize) {
        this.w(`: ${mSize};`);
        off = mOff + mSize;
        prevBitfield = true;
      } else {
        mSize = sizeOfOrZero(btf, m.type);
        off = mOff + mSize * 8;
        prevBitfield = false;
        this.w(";");
      }
    }
    if (isStruct && off < t.size * 8)
      this.emitBitPadding(off, t.size * 8, alignOfOrZero(btf, id), false, lvl + 1);
    if (n || t.size) {
      this.w("\n");
      this.w(indent(lvl));
      this.w("}");
    } else this.w("}");
    if (packed) this.w(" __attribute__((packed))");
  }

  /** libbpf's btf_dump_emit_bit_padding: fill [cur, next) bits with anonymous `type: N;` members. */
  private emitBitPadding(cur: number, next: number, nextAlign: number, inBitfield: boolean, lvl: number) {
    const ptrBits = POINTER_SIZE * 8;
    const padNames = ["long", "int", "short", "char"];
    const padBits = [ptrBits, 32, 16, 8];
    let newOff = 0;
    let bits = 0;
    let type = "";
    for (let i = 0; i < 4; i++) {
      bits = padBits[i]!;
      type = padNames[i]!;
      newOff = roundUp(cur, bits);
      if (newOff <= next) break;
    }
    const pfx = indent(lvl);
    if (newOff > cur && newOff <= next) {
      if (
        inBitfield ||
        (newOff === next && roundUp(cur, nextAlign * 8) !== newOff) ||
        (newOff !== next && next - newOff <= newOff - cur)
      )
        this.w(`\n${pfx}${type}: ${inBitfield ? newOff - cur : 0};`);
      cur = newOff;
    }
    while (cur !== next) {
      const rest = Math.min(next - cur, bits);
      if (rest === bits) {
        this.w(`\n${pfx}${type}: ${bits};`);
        cur += rest;
        continue;
      }
      for (let i = 3; i >= 0; i--) {
        type = padNames[i]!;
        bits = padBits[i]!;
        if (bits < rest) continue;
        this.w(`\n${pfx}${type}: ${rest};`);
        cur += rest;
        break;
      }
    }
  }

  emitEnumFwd(id: number, t: BtfEnum): void {
    this.w(`enum ${this.typeName(id, t)}`);
  }

  emitEnumDef(id: number, t: BtfEnum, lvl: number): void {
    const name = this.typeName(id, t);
    this.w(name ? `enum ${name}` : "enum");
    const values = t.values;
    if (values.length === 0) return;
    this.w(" {");
    const pfx = `\n${indent(lvl + 1)}`;
    const is64 = t.kind === "ENUM64";
    let hasHigh = false;
    for (const v of values) {
      const vname = this.enumeratorName(v.name);
      if (is64) {
        const big = t.signed ? BigInt.asIntN(64, BigInt(v.value)) : BigInt.asUintN(64, BigInt(v.value));
        if (BigInt.asUintN(64, big) >> 32n !== 0n) hasHigh = true;
        this.w(`${pfx}${vname} = ${big}${t.signed ? "LL" : "ULL"},`);
      } else {
        const n = Number(v.value);
        this.w(`${pfx}${vname} = ${t.signed ? n | 0 : n >>> 0},`);
      }
    }
    this.w(`\n${indent(lvl)}}`);
    if (t.size === 1) this.w(" __attribute__((mode(byte)))");
    else if (t.size === 8 && POINTER_SIZE === 8 && (!is64 || !hasHigh))
      this.w(" __attribute__((mode(word)))");
  }

  emitFwdDef(id: number, t: BtfType & { kind: "FWD" }): void {
    this.w(t.union ? `union ${this.typeName(id, t)}` : `struct ${this.typeName(id, t)}`);
  }

  emitTypedefDef(id: number, t: BtfType & { kind: "TYPEDEF" }, lvl: number): void {
    const name = this.identName(id, t);
    // old GCC emits `typedef void __gnuc_va_list`
    if (t.type === 0 && name === "__gnuc_va_list") {
      this.w("typedef __builtin_va_list __gnuc_va_list");
      return;
    }
    this.w("typedef ");
    this.emitTypeDecl(t.type, name, lvl);
  }

  // ---- declarations ----

  /** Writes `<type> <fname>` in C declarator syntax (fname may be ""). */
  emitTypeDecl(id: number, fname: string, lvl: number): void {
    const stack = this.stack;
    const start = stack.length;
    for (let depth = 0; ; depth++) {
      if (depth > 1000) throw new BtfError(this.btf.source, id, "declaration chain too long (a loop?)");
      const t = this.btf.typeById(id);
      const k = t.kind;
      if (!(this.stripMods && (k === "CONST" || k === "VOLATILE" || k === "RESTRICT" || k === "TYPE_TAG")))
        stack.push(id);
      if (id === 0) break;
      if (
        k === "PTR" ||
        k === "CONST" ||
        k === "VOLATILE" ||
        k === "RESTRICT" ||
        k === "TYPE_TAG" ||
        k === "ARRAY"
      )
        id = t.type;
      else if (k === "FUNC_PROTO") id = t.returnType;
      else break; // INT, FLOAT, ENUM, FWD, STRUCT, UNION, TYPEDEF (and anything unexpected)
    }
    this.emitChain(start, stack.length, fname, lvl);
    stack.length = start;
  }

  /** Emits const/volatile/restrict on top of the frame; returns the new top. */
  private emitMods(start: number, cnt: number): number {
    const stack = this.stack;
    while (cnt > start) {
      const k = this.btf.typeById(stack[cnt - 1]!).kind;
      if (k === "VOLATILE") this.w("volatile ");
      else if (k === "CONST") this.w("const ");
      else if (k === "RESTRICT") this.w("restrict ");
      else return cnt;
      cnt--;
    }
    return cnt;
  }

  private dropMods(start: number, cnt: number): number {
    const stack = this.stack;
    while (cnt > start) {
      const k = this.btf.typeById(stack[cnt - 1]!).kind;
      if (k !== "VOLATILE" && k !== "CONST" && k !== "RESTRICT" && k !== "TYPE_TAG") return cnt;
      cnt--;
    }
    return cnt;
  }

  private emitName(name: string, lastWasPtr: boolean): void {
    if (name) this.w(lastWasPtr ? name : ` ${name}`);
  }

  private emitChain(start: number, cnt: number, fname: string, lvl: number): void {
    const stack = this.stack;
    let lastWasPtr = true;
    while (cnt > start) {
      const id = stack[--cnt]!;
      if (id === 0) {
        cnt = this.emitMods(start, cnt);
        this.w("void");
        lastWasPtr = false;
        continue;
      }
      const t = this.btf.typeById(id);
      switch (t.kind) {
        case "INT":
        case "FLOAT":
          cnt = this.emitMods(start, cnt);
          this.w(t.name);
          break;
        case "STRUCT":
        case "UNION":
          cnt = this.emitMods(start, cnt);
          if (t.name === "" && !this.skipAnonDefs) this.emitStructDef(id, t, lvl);
          else this.emitStructFwd(id, t);
          break;
        case "ENUM":
        case "ENUM64":
          cnt = this.emitMods(start, cnt);
          if (t.name === "" && !this.skipAnonDefs) this.emitEnumDef(id, t, lvl);
          else this.emitEnumFwd(id, t);
          break;
        case "FWD":
          cnt = this.emitMods(start, cnt);
          this.emitFwdDef(id, t);
          break;
        case "TYPEDEF":
          cnt = this.emitMods(start, cnt);
          this.w(this.identName(id, t));
          break;
        case "PTR":
          this.w(lastWasPtr ? "*" : " *");
          break;
        case "VOLATILE":
          this.w(" volatile");
          break;
        case "CONST":
          this.w(" const");
          break;
        case "RESTRICT":
          this.w(" restrict");
          break;
        case "TYPE_TAG":
          cnt = this.emitMods(start, cnt);
          this.w(typeTagAttribute(t));
          break;
        case "ARRAY": {
          cnt = this.dropMods(start, cnt);
          if (cnt === start) {
            this.emitName(fname, lastWasPtr);
            this.w(`[${t.nelems}]`);
            return;
          }
          const multidim = this.btf.typeById(stack[cnt - 1]!).kind === "ARRAY";
          if (fname && !lastWasPtr) this.w(" ");
          if (!multidim) this.w("(");
          this.emitChain(start, cnt, fname, lvl);
          if (!multidim) this.w(")");
          this.w(`[${t.nelems}]`);
          return;
        }
        case "FUNC_PROTO": {
          cnt = this.dropMods(start, cnt);
          if (cnt > start) {
            this.w(" (");
            this.emitChain(start, cnt, fname, lvl);
            this.w(")");
          } else this.emitName(fname, lastWasPtr);
          this.emitParams(t, lvl);
          return;
        }
        default:
          throw new BtfError(this.btf.source, id, `unexpected ${t.kind} in a type declaration`, {
            hint: "only types (not FUNC, VAR, DATASEC or DECL_TAG) have a C declaration",
          });
      }
      lastWasPtr = t.kind === "PTR";
    }
    this.emitName(fname, lastWasPtr);
  }

  /** `(int a, char *b)`; `(void)` for none; a trailing void param is `...`. */
  emitParams(t: BtfFuncProto, lvl: number): void {
    const params = t.params;
    const n = params.length;
    if (n === 0 || (n === 1 && params[0]!.type === 0)) {
      this.w("(void)");
      return;
    }
    this.w("(");
    for (let i = 0; i < n; i++) {
      const p = params[i]!;
      if (i > 0) this.w(", ");
      if (i === n - 1 && p.type === 0) {
        this.w("...");
        break;
      }
      this.emitTypeDecl(p.type, p.name, lvl);
    }
    this.w(")");
  }
}

/**
 * A TYPE_TAG as C: `btf_type_tag("x")`. Tags whose text is itself an attribute that changes code generation
 * (`address_space(1)`, the `__arena` tag, encoded with kind_flag) are printed as that attribute when the
 * model says so.
 */
function typeTagAttribute(t: BtfRef): string {
  if ((t as { kindFlag?: boolean }).kindFlag) return ` __attribute__((${t.name}))`;
  return ` __attribute__((btf_type_tag("${t.name}")))`;
}

function roundUp(x: number, to: number): number {
  return Math.ceil(x / to) * to;
}

/**
 * The C declaration of type `typeId` naming `name` (or an abstract declarator without one):
 * `cDeclaration(btf, id, "handler")` → `void (*handler)(int, void *)`; anonymous structs/unions/enums are
 * written inline. Works for every kind that is a type (not FUNC, VAR, DATASEC, DECL_TAG).
 */
export function cDeclaration(btf: CTypeSource, typeId: number, name = ""): string {
  checkId(btf, typeId);
  const w = new CWriter(btf);
  w.emitTypeDecl(typeId, name, 0);
  return w.take();
}

/**
 * The C prototype of a FUNC, with typedef names and the parameter names from its FUNC_PROTO:
 * `u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)` (no trailing `;`).
 */
export function cFuncPrototype(btf: CTypeSource, funcId: number): string {
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
  const w = new CWriter(btf);
  w.emitTypeDecl(f.type, f.name, 0);
  return w.take();
}

function checkId(btf: CTypeSource, id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= btf.nextId)
    throw new BtfError(btf.source, id, `no such type id (valid: 0..${btf.nextId - 1})`, {
      hint: "use an id from this BTF (findByName / typeById)",
    });
}
