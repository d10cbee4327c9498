/**
 * Makes an object's BTF acceptable to the kernel, like libbpf (bpf_object__sanitize_btf, btf_fixup_datasec,
 * the .ksyms rewrite in bpf_object__collect_externs). Pure: the section layout and the kernel's BTF features
 * arrive as arguments.
 */

import { BTF_KIND } from "../btf/types.ts";
import type { ExternSpec } from "../object/types.ts";
import { RawBtf } from "./btf-raw.ts";

export interface BtfFeatureSet {
  /** FUNC / FUNC_PROTO (4.20) */
  func: boolean;
  /** FUNC linkage GLOBAL (5.6) */
  funcGlobal: boolean;
  /** VAR / DATASEC (5.2) */
  datasec: boolean;
  /** FLOAT (5.13) */
  float: boolean;
  /** DECL_TAG (5.16) */
  declTag: boolean;
  /** TYPE_TAG (5.17) */
  typeTag: boolean;
  /** ENUM64 (6.0) */
  enum64: boolean;
}

export const ALL_BTF_FEATURES: BtfFeatureSet = {
  func: true,
  funcGlobal: true,
  datasec: true,
  float: true,
  declTag: true,
  typeTag: true,
  enum64: true,
};

export interface SectionLayout {
  name: string;
  size: number;
  variables: { name: string; offset: number }[];
}

const K = BTF_KIND;

const INT_ENC_32 = 32; // BTF_INT_ENC(0, 0, 32)

function intId(raw: RawBtf): number {
  for (let id = 1; id <= raw.count; id++)
    if (raw.kind(id) === K.INT && raw.u32(id, 8) === 4 && (raw.u32(id, 12) & 0xff) === 32) return id;
  return raw.addType([raw.addString("int"), K.INT << 24, 4, INT_ENC_32]);
}

interface Secinfo {
  type: number;
  offset: number;
  size: number;
}

function readSecinfos(raw: RawBtf, id: number): Secinfo[] {
  const out: Secinfo[] = [];
  for (let i = 0; i < raw.vlen(id); i++)
    out.push({
      type: raw.u32(id, 12 + i * 12),
      offset: raw.u32(id, 16 + i * 12),
      size: raw.u32(id, 20 + i * 12),
    });
  return out;
}

function writeSecinfos(raw: RawBtf, id: number, vs: Secinfo[], size: number): void {
  vs.sort((a, b) => a.offset - b.offset);
  vs.forEach((v, i) => {
    raw.setU32(id, 12 + i * 12, v.type);
    raw.setU32(id, 16 + i * 12, v.offset);
    raw.setU32(id, 20 + i * 12, v.size);
  });
  raw.setU32(id, 8, size);
}

/** `.ksyms`: the kernel accepts no FUNC (and no extern VAR) in a DATASEC: point entries at int-typed dummies. */
function fixKsyms(raw: RawBtf, id: number): void {
  const int = intId(raw);
  const dummyName = raw.addString("dummy_ksym");
  const dummy = raw.addType([dummyName, K.VAR << 24, int, 1]);
  const vs = readSecinfos(raw, id);
  vs.forEach((v, i) => {
    if (raw.kind(v.type) === K.FUNC) {
      const proto = raw.u32(v.type, 8);
      for (let p = 0; p < raw.vlen(proto); p++) {
        // Global functions need named params; reuse the dummy's name like libbpf.
        if (raw.u32(proto, 16 + p * 8) !== 0 && raw.u32(proto, 12 + p * 8) === 0)
          raw.setU32(proto, 12 + p * 8, dummyName);
      }
      raw.setInfo(v.type, K.FUNC, 1);
      v.type = dummy;
    } else {
      raw.setU32(v.type, 8, int);
      raw.setU32(v.type, 12, 1);
    }
    v.offset = i * 4;
    v.size = 4;
  });
  writeSecinfos(raw, id, vs, vs.length * 4);
}

function fixDatasec(raw: RawBtf, id: number, layout: SectionLayout | undefined): void {
  const vs = readSecinfos(raw, id);
  if (layout) {
    for (const v of vs) {
      if (raw.kind(v.type) === K.VAR && raw.u32(v.type, 12) === 2) raw.setU32(v.type, 12, 1);
      const found = layout.variables.find((x) => x.name === raw.name(v.type));
      if (found) v.offset = found.offset;
    }
    writeSecinfos(raw, id, vs, Math.max(layout.size, raw.u32(id, 8)));
    return;
  }
  if (raw.u32(id, 8) !== 0) return;
  // Sections that are not maps (.maps, license): any valid, ordered layout will do.
  let end = 0;
  for (const v of vs) {
    const align = v.size >= 8 ? 8 : v.size >= 4 ? 4 : v.size >= 2 ? 2 : 1;
    v.offset = Math.ceil(end / align) * align;
    end = v.offset + v.size;
  }
  writeSecinfos(raw, id, vs, end);
}

/**
 * Returns BTF bytes the running kernel accepts: DATASEC sizes and variable offsets from the ELF layout,
 * `.ksyms`/`.kconfig` rewritten, and kinds the kernel lacks replaced by same-sized ones it has.
 */
export function sanitizeBtf(
  bytes: Uint8Array,
  source: string,
  sections: SectionLayout[],
  externs: ExternSpec[],
  features: BtfFeatureSet = ALL_BTF_FEATURES,
  staticFuncs: ReadonlySet<string> = new Set(),
): Uint8Array {
  const raw = new RawBtf(bytes, source);
  // libbpf's mark_btf_static: hidden global subprograms are verified like static ones
  if (staticFuncs.size > 0)
    for (let id = 1; id <= raw.count; id++)
      if (raw.kind(id) === K.FUNC && raw.vlen(id) === 1 && staticFuncs.has(raw.name(id)))
        raw.setInfo(id, K.FUNC, 0);
  const layouts = new Map(sections.map((s) => [s.name, s]));
  const kconfig = externs.filter((e) => e.kind === "kconfig");
  if (kconfig.length > 0 && !layouts.has(".kconfig")) {
    const size = Math.max(...kconfig.map((e) => e.offset + e.size));
    layouts.set(".kconfig", {
      name: ".kconfig",
      size,
      variables: kconfig.map((e) => ({ name: e.name, offset: e.offset })),
    });
  }
  const n = raw.count;
  for (let id = 1; id <= n; id++) {
    if (raw.kind(id) !== K.DATASEC) continue;
    const name = raw.name(id);
    if (name === ".ksyms") fixKsyms(raw, id);
    else fixDatasec(raw, id, layouts.get(name));
  }
  let enum64Placeholder = 0;
  let paramName = 0;
  for (let id = 1; id <= raw.count; id++) {
    const kind = raw.kind(id);
    const vlen = raw.vlen(id);
    if (!features.datasec && kind === K.VAR) {
      raw.setInfo(id, K.INT, 0);
      raw.setU32(id, 8, 1);
      raw.setU32(id, 12, 8);
    } else if (!features.datasec && kind === K.DATASEC) {
      // DATASEC → STRUCT: secinfo {type, offset, size} becomes member {name, type, bit offset}.
      for (let i = 0; i < vlen; i++) {
        const varId = raw.u32(id, 12 + i * 12);
        const off = raw.u32(id, 16 + i * 12);
        // libbpf order: the member's type is the VAR itself (by now an INT), named like the variable.
        raw.setU32(id, 12 + i * 12, raw.u32(varId, 0));
        raw.setU32(id, 16 + i * 12, varId);
        raw.setU32(id, 20 + i * 12, off * 8);
      }
      raw.setU32(id, 0, 0);
      raw.setInfo(id, K.STRUCT, vlen);
    } else if (!features.func && kind === K.FUNC_PROTO) {
      // Params become enum values {name, val}: the kernel wants every enum value named.
      paramName ||= raw.addString("param");
      for (let i = 0; i < vlen; i++) if (raw.u32(id, 12 + i * 8) === 0) raw.setU32(id, 12 + i * 8, paramName);
      raw.setInfo(id, K.ENUM, vlen);
      raw.setU32(id, 8, 4);
    } else if (!features.func && kind === K.FUNC) {
      raw.setInfo(id, K.TYPEDEF, 0);
    } else if (!features.funcGlobal && kind === K.FUNC) {
      raw.setInfo(id, K.FUNC, 0);
    } else if (!features.float && kind === K.FLOAT) {
      raw.setU32(id, 0, 0);
      raw.setInfo(id, K.STRUCT, 0);
    } else if (!features.declTag && kind === K.DECL_TAG) {
      raw.setU32(id, 0, 0);
      raw.setInfo(id, K.INT, 0);
      raw.setU32(id, 8, 1);
      raw.setU32(id, 12, 8);
    } else if (!features.typeTag && kind === K.TYPE_TAG) {
      raw.setU32(id, 0, 0);
      raw.setInfo(id, K.CONST, 0);
    } else if (!features.enum64 && kind === K.ENUM) {
      // Signed enums (kind_flag) came with ENUM64 in 6.0; older kernels reject the flag.
      raw.setInfo(id, K.ENUM, vlen);
    } else if (!features.enum64 && kind === K.ENUM64) {
      if (!enum64Placeholder)
        enum64Placeholder = raw.addType([raw.addString("enum64_placeholder"), K.INT << 24, 1, 8]);
      const size = raw.u32(id, 8);
      raw.setInfo(id, K.UNION, vlen);
      raw.setU32(id, 8, size);
      for (let i = 0; i < vlen; i++) {
        raw.setU32(id, 16 + i * 12, enum64Placeholder);
        raw.setU32(id, 20 + i * 12, 0);
      }
    }
  }
  return raw.encode();
}
