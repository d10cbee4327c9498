import { BtfError } from "../errors.ts";
import { type Btf, parseBtf } from "./btf.ts";
import type { BtfType } from "./types.ts";
import { encodeBtf } from "./writer.ts";

/** A type without its id (the builder assigns ids). */
export type BtfTypeInit = BtfType extends infer T ? (T extends BtfType ? Omit<T, "id"> : never) : never;

export interface BtfBuilderOptions {
  /** Build split BTF on this base (ids start at base.nextId). */
  base?: Btf;
  littleEndian?: boolean;
  source?: string;
}

/**
 * A small mutable BTF: add types (returns their ids), replace a type in place (same id), encode.
 * The loader uses it to sanitize an object's BTF for older kernels (e.g. DECL_TAG → INT, FLOAT → STRUCT).
 *
 *   const b = new BtfBuilder();
 *   const int = b.add({ kind: "INT", name: "int", size: 4, encoding: BTF_INT_SIGNED, bitOffset: 0, bits: 32 });
 *   const ptr = b.add({ kind: "PTR", name: "", type: int });
 *   const bytes = b.encode();
 */
export class BtfBuilder {
  readonly base: Btf | undefined;
  readonly firstId: number;
  private readonly list: BtfType[] = [];
  private readonly options: BtfBuilderOptions;

  constructor(options: BtfBuilderOptions = {}) {
    this.options = options;
    this.base = options.base;
    this.firstId = options.base ? options.base.nextId : 1;
  }

  /** A builder holding a copy of every own type of `btf` (same ids; split BTF keeps its base). */
  static from(btf: Btf): BtfBuilder {
    const b = new BtfBuilder({
      ...(btf.base ? { base: btf.base } : {}),
      littleEndian: btf.littleEndian,
      source: btf.source,
    });
    for (const t of btf.ownTypes()) b.list.push(structuredClone(t));
    return b;
  }

  /** Ids [0, nextId) are valid. */
  get nextId(): number {
    return this.firstId + this.list.length;
  }

  /** The builder's own types, in id order. */
  get types(): readonly BtfType[] {
    return this.list;
  }

  /** Appends a type and returns its id. */
  add(type: BtfTypeInit): number {
    const id = this.nextId;
    this.list.push({ ...type, id } as BtfType);
    return id;
  }

  /** The type with this id (own types; base ids come from the base). */
  get(id: number): BtfType {
    const own = this.list[id - this.firstId];
    if (own) return own;
    if (this.base && id >= 0 && id < this.firstId) return this.base.typeById(id);
    if (id === 0) return { id: 0, name: "", kind: "VOID" };
    throw new BtfError(
      this.options.source ?? "<BtfBuilder>",
      id,
      `no such type: ids are 0..${this.nextId - 1}`,
      { hint: "use an id returned by add(), or one of the base's" },
    );
  }

  /** Replaces an own type, keeping its id. */
  set(id: number, type: BtfTypeInit): void {
    const i = id - this.firstId;
    if (i < 0 || i >= this.list.length)
      throw new BtfError(
        this.options.source ?? "<BtfBuilder>",
        id,
        `cannot replace: only own types ${this.firstId}..${this.nextId - 1} can be replaced`,
        { hint: "base types are read-only; add a new type instead" },
      );
    this.list[i] = { ...type, id } as BtfType;
  }

  /** Raw BTF bytes (split BTF when the builder has a base). */
  encode(): Uint8Array {
    return encodeBtf(this.list, {
      ...(this.base ? { base: this.base } : {}),
      ...(this.options.littleEndian === undefined ? {} : { littleEndian: this.options.littleEndian }),
      ...(this.options.source === undefined ? {} : { source: this.options.source }),
    });
  }

  /** Encodes and parses again: a read-only Btf of the current state. */
  build(): Btf {
    return parseBtf(this.encode(), {
      ...(this.base ? { base: this.base } : {}),
      source: this.options.source ?? "<BtfBuilder>",
    });
  }
}
