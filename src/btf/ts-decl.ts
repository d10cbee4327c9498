/**
 * BTF → TypeScript declarations, beside the C printer: the static types of what the typed value codec
 * (value-codec.ts) returns, read from the same classification (value-shape.ts), so they cannot disagree.
 *
 * Names (docs/skeleton.md, "identifier mapping"):
 * - a named struct/union/enum keeps its C name (`struct event` → `interface event`); an anonymous one
 *   reached through a typedef takes the typedef's name (`typedef struct { … } event_t` → `event_t`);
 *   other anonymous types are written inline (`{ a: number }`, enums as their number/bigint type);
 * - struct, union, enum and typedef names share one TypeScript namespace (C has two): when two different
 *   types want one name, the first in BTF id order keeps it and the next ones are `name___2`, `name___3`…,
 *   bpftool's rule for duplicates (btf_dump_resolve_name; {@link UniqueNames});
 * - a name that TypeScript reserves (`string`, `number`, `Array`, keywords…) or that the caller reserves
 *   (the skeleton's own identifiers) gets a trailing `_` (`string_`).
 * - members keep their C names (every C identifier is a valid TS property name); each carries its C
 *   declaration as a doc comment (c-printer.ts's cDeclaration).
 */
import type { Btf } from "./btf.ts";
import { cDeclaration } from "./c-printer.ts";
import type { BtfEnum, BtfType } from "./types.ts";
import { MAX_TUPLE, shapeOf, type ValueShape } from "./value-shape.ts";

/** Identifiers a generated TS type may not take: keywords and the global types generated code uses. */
export const TS_RESERVED: ReadonlySet<string> = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false finally for " +
    "function if import in instanceof new null return super switch this throw true try typeof var void while with " +
    "implements interface let package private protected public static yield await any unknown never undefined " +
    "number bigint string boolean symbol object type of as is keyof readonly infer declare module namespace " +
    "Object Array ReadonlyArray Record Partial Readonly Promise Symbol String Number Boolean BigInt Error Map Set " +
    "Uint8Array Int8Array Uint16Array Int16Array Uint32Array Int32Array BigUint64Array BigInt64Array " +
    "Float32Array Float64Array ArrayBuffer DataView Disposable AsyncIterable AsyncGenerator Iterable Generator"
  ).split(" "),
);

/**
 * Unique names for one namespace, by bpftool's rule: the first occurrence keeps the name, the Nth one is
 * `name___N`. (The C printer counts names the same way, over the string table's bytes: c-names.ts.)
 */
export class UniqueNames {
  readonly #counts = new Map<string, number>();
  readonly #taken = new Set<string>();

  /** Registers one more user of `name`; returns the name it gets. */
  add(name: string): string {
    const n = (this.#counts.get(name) ?? 0) + 1;
    this.#counts.set(name, n);
    let out = n === 1 ? name : `${name}___${n}`;
    while (this.#taken.has(out)) out = `${out}_`;
    this.#taken.add(out);
    return out;
  }
}

export interface TsDeclOptions {
  /** More identifiers the declarations must not use (they get a trailing `_`). */
  reserved?: Iterable<string>;
}

/** One enum as a value: `export const <name> = { A: 0, B: 1 } as const`. */
export interface TsEnumConst {
  name: string;
  typeId: number;
  /** [enumerator, TS literal] in BTF order (`0`, `-1`, `18446744073709551615n`). */
  values: Array<[string, string]>;
}

const INDENT = "  ";

/**
 * Prints TS types for BTF types. Ask for type expressions with {@link typeOf} (which remembers the named
 * types they use), then print every used named type with {@link declarations}.
 */
export class TsDeclPrinter {
  readonly btf: Btf;
  /** TS name of every named (or typedef-named) struct/union/enum, assigned in BTF id order. */
  readonly #names = new Map<number, string>();
  readonly #used = new Set<number>();

  constructor(btf: Btf, options: TsDeclOptions = {}) {
    this.btf = btf;
    const reserved = new Set([...TS_RESERVED, ...(options.reserved ?? [])]);
    const names = new UniqueNames();
    for (const r of reserved) names.add(r);
    const own = (t: BtfType) =>
      t.kind === "STRUCT" || t.kind === "UNION" || t.kind === "ENUM" || t.kind === "ENUM64";
    const wanted = new Map<number, string>();
    for (let id = 1; id < btf.nextId; id++) {
      const t = btf.typeById(id);
      if (own(t) && t.name) wanted.set(id, t.name);
      else if (t.kind === "TYPEDEF" && t.name) {
        const target = btf.skipModifiers(t.type);
        if (own(target) && !target.name && !wanted.has(target.id)) wanted.set(target.id, t.name);
      }
    }
    for (const id of [...wanted.keys()].sort((a, b) => a - b)) {
      const n = wanted.get(id)!;
      this.#names.set(id, names.add(reserved.has(n) ? `${n}_` : n));
    }
  }

  /** The TS name of a struct/union/enum id (resolved through typedefs and modifiers), if it has one. */
  nameOf(id: number): string | undefined {
    return this.#names.get(this.btf.resolve(id).id);
  }

  /** The TS type of a value of type `id` (what the typed codec decodes it to). */
  typeOf(id: number, lvl = 0): string {
    return this.#shapeType(shapeOf(this.btf, id), lvl);
  }

  #shapeType(s: ValueShape, lvl: number): string {
    switch (s.kind) {
      case "number":
      case "float":
        return "number";
      case "bigint":
        return "bigint";
      case "boolean":
        return "boolean";
      case "string":
        return "string";
      case "bytes":
        return "Uint8Array";
      case "typedArray":
        return s.array;
      case "enum": {
        const name = this.#names.get(s.typeId);
        if (!name) return s.big ? "bigint" : "number";
        this.#used.add(s.typeId);
        return name;
      }
      case "tuple": {
        const elem = this.#shapeType(s.elem, lvl);
        if (s.count > MAX_TUPLE) return `${/[|&\s]/.test(elem) ? `(${elem})` : elem}[]`;
        return `[${new Array<string>(s.count).fill(elem).join(", ")}]`;
      }
      case "struct": {
        const name = this.#names.get(s.typeId);
        if (name) {
          if (!this.#used.has(s.typeId)) {
            this.#used.add(s.typeId);
            // members' named types are declared too
            this.#body(s, 0);
          }
          return name;
        }
        return this.#body(s, lvl);
      }
    }
  }

  /** `{ … }` for a struct shape, members with their C declarations as doc comments. */
  #body(s: ValueShape & { kind: "struct" }, lvl: number): string {
    if (s.fields.length === 0) return "{}";
    const pad = INDENT.repeat(lvl + 1);
    const lines = ["{"];
    for (const f of s.fields) {
      const c = cDeclaration(this.btf, f.typeId, f.name) + (f.bits ? `: ${f.bits}` : "");
      lines.push(`${pad}/** \`${c.replace(/\s+/g, " ").replace(/\*\//g, "* /")}\` */`);
      const t = f.bits
        ? f.shape.kind === "bigint"
          ? "bigint"
          : "number"
        : this.#shapeType(f.shape, lvl + 1);
      lines.push(`${pad}${f.name}: ${t};`);
    }
    lines.push(`${INDENT.repeat(lvl)}}`);
    return lines.join("\n");
  }

  /** Named enums used so far, as values (for `export const`). */
  enumConsts(): TsEnumConst[] {
    const out: TsEnumConst[] = [];
    for (const id of [...this.#used].sort((a, b) => a - b)) {
      const t = this.btf.typeById(id);
      if (t.kind !== "ENUM" && t.kind !== "ENUM64") continue;
      out.push({
        name: this.#names.get(id)!,
        typeId: id,
        values: t.values.map((v) => [v.name, enumLiteral(t, v.value)]),
      });
    }
    return out;
  }

  /**
   * `export interface …` / `export type …` for every named type used so far, in BTF id order. Enums are
   * their literal values or any other number (C enums are open); their names are the `enumConsts()`.
   */
  declarations(): string {
    const out: string[] = [];
    for (const id of [...this.#used].sort((a, b) => a - b)) {
      const t = this.btf.typeById(id);
      const name = this.#names.get(id)!;
      if (t.kind === "ENUM" || t.kind === "ENUM64") {
        const big = t.size === 8;
        const lits = [...new Set(t.values.map((v) => enumLiteral(t, v.value)))];
        const other = big ? "(bigint & {})" : "(number & {})";
        out.push(
          `/** \`enum ${t.name || name}\`: one of the enumerators (see the \`${name}\` object), or another value (C enums are open) */\n` +
            `export type ${name} = ${[...lits, other].join(" | ")};`,
        );
        continue;
      }
      const s = shapeOf(this.btf, id);
      if (s.kind !== "struct") continue;
      const kind = s.union ? "union" : "struct";
      out.push(
        `/** \`${kind} ${t.name || name}\` (${s.size} bytes)${s.union ? ": every member decoded from the same bytes" : ""} */\n` +
          `export interface ${name} ${this.#body(s, 0)}`,
      );
    }
    return out.join("\n\n");
  }
}

function enumLiteral(t: BtfEnum, value: number | bigint): string {
  if (t.size === 8) {
    const b = t.signed ? BigInt.asIntN(64, BigInt(value)) : BigInt.asUintN(64, BigInt(value));
    return `${b}n`;
  }
  const bits = t.size * 8;
  const n = Number(value);
  if (t.signed) return String(bits === 32 ? n | 0 : n);
  return String(bits === 32 ? n >>> 0 : n);
}
