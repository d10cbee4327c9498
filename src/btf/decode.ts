import { BTF_KIND, type BtfMember, type BtfType } from "./types.ts";

/** What decoding one record needs from its BTF. */
export interface DecodeContext {
  readonly view: DataView;
  readonly le: boolean;
  /**
   * Name at a (global) string offset; throws BtfError naming `id` and `what` (with ` <index> ` inserted
   * before its last word when index >= 0: "member 3 name") when out of range. Messages are built only then.
   */
  name(offset: number, id: number, what: string, index?: number): string;
  /** Checks a referenced type id; throws BtfError naming `id` and `what` (as for name) when it dangles. */
  ref(target: number, id: number, what: string, index?: number): number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Decodes the record of type `id` at byte offset `off` of the context's view. */
export function decodeType(c: DecodeContext, id: number, off: number): BtfType {
  const v = c.view;
  const le = c.le;
  const info = v.getUint32(off + 4, le);
  const kind = (info >>> 24) & 0x1f;
  const vlen = info & 0xffff;
  const kindFlag = info >>> 31 === 1;
  const sizeOrType = v.getUint32(off + 8, le);
  const name = c.name(v.getUint32(off, le), id, "name");
  const p = off + 12;
  switch (kind) {
    case BTF_KIND.INT: {
      const data = v.getUint32(p, le);
      return {
        id,
        name,
        kind: "INT",
        size: sizeOrType,
        encoding: (data >>> 24) & 0x0f,
        bitOffset: (data >>> 16) & 0xff,
        bits: data & 0xff,
      };
    }
    case BTF_KIND.PTR:
      return { id, name, kind: "PTR", type: c.ref(sizeOrType, id, "pointee") };
    case BTF_KIND.ARRAY:
      return {
        id,
        name,
        kind: "ARRAY",
        type: c.ref(v.getUint32(p, le), id, "element type"),
        indexType: c.ref(v.getUint32(p + 4, le), id, "index type"),
        nelems: v.getUint32(p + 8, le),
      };
    case BTF_KIND.STRUCT:
    case BTF_KIND.UNION: {
      const members: BtfMember[] = new Array(vlen);
      for (let i = 0; i < vlen; i++) {
        const m = p + i * 12;
        const offset = v.getUint32(m + 8, le);
        members[i] = {
          name: c.name(v.getUint32(m, le), id, "member name", i),
          type: c.ref(v.getUint32(m + 4, le), id, "member type", i),
          bitOffset: kindFlag ? offset & 0xffffff : offset,
          bitfieldSize: kindFlag ? offset >>> 24 : 0,
        };
      }
      return {
        id,
        name,
        kind: kind === BTF_KIND.STRUCT ? "STRUCT" : "UNION",
        size: sizeOrType,
        kindFlag,
        members,
      };
    }
    case BTF_KIND.ENUM: {
      const values = new Array(vlen);
      for (let i = 0; i < vlen; i++) {
        const e = p + i * 8;
        values[i] = {
          name: c.name(v.getUint32(e, le), id, "enumerator name", i),
          value: kindFlag ? v.getInt32(e + 4, le) : v.getUint32(e + 4, le),
        };
      }
      return { id, name, kind: "ENUM", size: sizeOrType, signed: kindFlag, values };
    }
    case BTF_KIND.ENUM64: {
      const values = new Array(vlen);
      for (let i = 0; i < vlen; i++) {
        const e = p + i * 12;
        const lo = BigInt(v.getUint32(e + 4, le));
        const hi = BigInt(v.getUint32(e + 8, le));
        let big = (hi << 32n) | lo;
        if (kindFlag) big = BigInt.asIntN(64, big);
        values[i] = {
          name: c.name(v.getUint32(e, le), id, "enumerator name", i),
          value: big <= MAX_SAFE && big >= -MAX_SAFE ? Number(big) : big,
        };
      }
      return { id, name, kind: "ENUM64", size: sizeOrType, signed: kindFlag, values };
    }
    case BTF_KIND.FWD:
      return { id, name, kind: "FWD", union: kindFlag };
    case BTF_KIND.TYPEDEF:
      return { id, name, kind: "TYPEDEF", type: c.ref(sizeOrType, id, "target") };
    case BTF_KIND.VOLATILE:
      return { id, name, kind: "VOLATILE", type: c.ref(sizeOrType, id, "target") };
    case BTF_KIND.CONST:
      return { id, name, kind: "CONST", type: c.ref(sizeOrType, id, "target") };
    case BTF_KIND.RESTRICT:
      return { id, name, kind: "RESTRICT", type: c.ref(sizeOrType, id, "target") };
    case BTF_KIND.TYPE_TAG:
      return { id, name, kind: "TYPE_TAG", type: c.ref(sizeOrType, id, "target") };
    case BTF_KIND.FUNC:
      return { id, name, kind: "FUNC", type: c.ref(sizeOrType, id, "prototype"), linkage: vlen };
    case BTF_KIND.FUNC_PROTO: {
      const params = new Array(vlen);
      for (let i = 0; i < vlen; i++) {
        const e = p + i * 8;
        params[i] = {
          name: c.name(v.getUint32(e, le), id, "parameter name", i),
          type: c.ref(v.getUint32(e + 4, le), id, "parameter type", i),
        };
      }
      return { id, name, kind: "FUNC_PROTO", returnType: c.ref(sizeOrType, id, "return type"), params };
    }
    case BTF_KIND.VAR:
      return { id, name, kind: "VAR", type: c.ref(sizeOrType, id, "type"), linkage: v.getUint32(p, le) };
    case BTF_KIND.DATASEC: {
      const vars = new Array(vlen);
      for (let i = 0; i < vlen; i++) {
        const e = p + i * 12;
        vars[i] = {
          type: c.ref(v.getUint32(e, le), id, "variable", i),
          offset: v.getUint32(e + 4, le),
          size: v.getUint32(e + 8, le),
        };
      }
      return { id, name, kind: "DATASEC", size: sizeOrType, vars };
    }
    case BTF_KIND.FLOAT:
      return { id, name, kind: "FLOAT", size: sizeOrType };
    case BTF_KIND.DECL_TAG:
      return {
        id,
        name,
        kind: "DECL_TAG",
        type: c.ref(sizeOrType, id, "tagged type"),
        componentIdx: v.getInt32(p, le),
      };
    default:
      // parseBtf rejects unknown kinds in its first pass; this is unreachable for its records.
      throw new RangeError(`unknown BTF kind ${kind}`);
  }
}
