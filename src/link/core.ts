/**
 * CO-RE relocations (libbpf src/relo_core.c): parse the local access spec, find target candidates by
 * essential name (`task_struct___old` → `task_struct`), match fields by name through anonymous members,
 * compute the kind's value and patch the instruction. A failed relocation poisons the instruction
 * (`call 0xbad2310`) so the verifier only complains if it is reachable. Pure: target BTFs are arguments.
 */

import { BPF_CLASS, BPF_SIZE, callHelper, Insns } from "../asm/index.ts";
import { BPF_CORE } from "../btf/ext.ts";
import type { Btf, BtfMember, BtfType, BtfTypeKind } from "../btf/index.ts";
import { BTF_INT_SIGNED } from "../btf/index.ts";
import { RelocationError } from "../errors.ts";
import type { CoreReloSpec } from "../object/types.ts";
import { typesCompatible } from "./kfunc-resolve.ts";

export const CORE_POISON_IMM = 0xbad2310;

/** The CO-RE relocation kinds (`enum bpf_core_relo_kind`): one table, from the BTF.ext parser. */
export const CORE_KIND = BPF_CORE;

const isFieldKind = (k: number) => k <= CORE_KIND.FIELD_RSHIFT_U64;
const isEnumKind = (k: number) => k === CORE_KIND.ENUMVAL_EXISTS || k === CORE_KIND.ENUMVAL_VALUE;

export function essentialName(name: string): string {
  const i = name.lastIndexOf("___");
  return i > 0 ? name.slice(0, i) : name;
}

interface Access {
  /** Type id the access is applied to (in its BTF). */
  typeId: number;
  /** Member index for structs, element index for arrays. */
  idx: number;
  /** Member name (named member accesses), "" for array accesses. */
  name: string;
}

interface Spec {
  btf: Btf;
  rootId: number;
  /** Named accesses (anonymous intermediate members skipped), as used for matching. */
  access: Access[];
  bitOffset: number;
  /** The accessed field's member (for bitfield info), undefined for array elements/root. */
  member: BtfMember | undefined;
  /** The accessed field's type id. */
  fieldTypeId: number;
  /** For enum kinds: the value. */
  enumValue?: number | bigint;
}

function parseLocal(btf: Btf, relo: CoreReloSpec): Spec {
  const idx = relo.accessStr.split(":").map((s) => Number.parseInt(s, 10));
  if (idx.some((n) => Number.isNaN(n) || n < 0)) throw new Error(`invalid access string '${relo.accessStr}'`);
  const spec: Spec = {
    btf,
    rootId: relo.typeId,
    access: [],
    bitOffset: 0,
    member: undefined,
    fieldTypeId: relo.typeId,
  };
  if (!isFieldKind(relo.kind)) {
    if (isEnumKind(relo.kind)) {
      const t = btf.resolve(relo.typeId);
      if (t.kind !== "ENUM" && t.kind !== "ENUM64") throw new Error("enum relocation on a non-enum type");
      const v = t.values[idx[0]!];
      if (!v) throw new Error(`enum value index ${idx[0]} out of range`);
      spec.access.push({ typeId: t.id, idx: idx[0]!, name: v.name });
      spec.enumValue = v.value;
    }
    return spec;
  }
  let id = relo.typeId;
  spec.bitOffset = idx[0]! * btf.sizeof(id) * 8;
  spec.access.push({ typeId: id, idx: idx[0]!, name: "" });
  for (let i = 1; i < idx.length; i++) {
    const t = btf.resolve(id);
    const n = idx[i]!;
    if (t.kind === "STRUCT" || t.kind === "UNION") {
      const m = t.members[n];
      if (!m) throw new Error(`member index ${n} out of range in '${t.name}'`);
      spec.bitOffset += m.bitOffset;
      if (m.name) spec.access.push({ typeId: t.id, idx: n, name: m.name });
      spec.member = m;
      id = m.type;
    } else if (t.kind === "ARRAY") {
      spec.bitOffset += n * btf.sizeof(t.type) * 8;
      spec.access.push({ typeId: t.id, idx: n, name: "" });
      spec.member = undefined;
      id = t.type;
    } else {
      throw new Error(`access ${n} into a ${t.kind}`);
    }
  }
  spec.fieldTypeId = id;
  return spec;
}

/** libbpf bpf_core_fields_are_compat. */
function fieldsCompatible(lb: Btf, lid: number, tb: Btf, tid: number, depth = 0): boolean {
  if (depth > 32) return false;
  const l = lb.resolve(lid);
  const t = tb.resolve(tid);
  const composite = (k: string) => k === "STRUCT" || k === "UNION";
  const anyEnum = (k: string) => k === "ENUM" || k === "ENUM64";
  if (composite(l.kind) && composite(t.kind)) return true;
  if (anyEnum(l.kind) && anyEnum(t.kind)) return true;
  if (l.kind !== t.kind) return false;
  switch (l.kind) {
    case "PTR":
    case "FLOAT":
    case "FWD":
      return true;
    case "INT":
      return t.kind === "INT" && l.bitOffset === 0 && t.bitOffset === 0;
    case "ARRAY":
      return t.kind === "ARRAY" && fieldsCompatible(lb, l.type, tb, t.type, depth + 1);
    default:
      return false;
  }
}

/** Finds `name` in target composite `t`, through anonymous members; accumulates the bit offset. */
function matchMember(
  tb: Btf,
  t: BtfType & { kind: "STRUCT" | "UNION" },
  name: string,
  bitBase: number,
): { member: BtfMember; bitOffset: number; parentId: number } | undefined {
  for (const m of t.members) {
    const off = bitBase + m.bitOffset;
    if (m.name === name) return { member: m, bitOffset: off, parentId: t.id };
    if (!m.name) {
      const mt = tb.resolve(m.type);
      if (mt.kind === "STRUCT" || mt.kind === "UNION") {
        const r = matchMember(tb, mt, name, off);
        if (r) return r;
      }
    }
  }
  return undefined;
}

/** A target spec at candidate type `candId`, before any access is matched. */
function candidateRoot(tb: Btf, candId: number): Spec {
  return { btf: tb, rootId: candId, access: [], bitOffset: 0, member: undefined, fieldTypeId: candId };
}

function matchField(local: Spec, tb: Btf, candId: number): Spec | undefined {
  const out = candidateRoot(tb, candId);
  const first = local.access[0]!;
  out.bitOffset = first.idx * tb.sizeof(candId) * 8;
  let id = candId;
  for (let i = 1; i < local.access.length; i++) {
    const a = local.access[i]!;
    const t = tb.resolve(id);
    const la = local.btf.resolve(a.typeId);
    if (la.kind === "ARRAY") {
      if (t.kind !== "ARRAY") return undefined;
      if (t.nelems > 0 && a.idx >= t.nelems) return undefined;
      out.bitOffset += a.idx * tb.sizeof(t.type) * 8;
      out.member = undefined;
      id = t.type;
    } else {
      if (t.kind !== "STRUCT" && t.kind !== "UNION") return undefined;
      const m = matchMember(tb, t, a.name, 0);
      if (!m) return undefined;
      const localMember = (la as BtfType & { kind: "STRUCT" }).members[a.idx]!;
      if (!fieldsCompatible(local.btf, localMember.type, tb, m.member.type)) return undefined;
      out.bitOffset += m.bitOffset;
      out.member = m.member;
      id = m.member.type;
    }
    out.access.push({ typeId: t.id, idx: a.idx, name: a.name });
  }
  out.fieldTypeId = id;
  return out;
}

function matchEnum(local: Spec, tb: Btf, candId: number): Spec | undefined {
  const t = tb.resolve(candId);
  if (t.kind !== "ENUM" && t.kind !== "ENUM64") return undefined;
  const want = essentialName(local.access[0]!.name);
  const v = t.values.find((x) => essentialName(x.name) === want);
  if (!v) return undefined;
  return {
    ...candidateRoot(tb, candId),
    enumValue: v.value,
  };
}

interface FieldValue {
  value: number;
  /** Byte size of the load for FIELD_BYTE_OFFSET size adjustment. */
  byteSize: number;
  bitfield: boolean;
}

function fieldValue(spec: Spec, kind: number, parentKindFlag: boolean): FieldValue {
  const btf = spec.btf;
  const mt = btf.resolve(spec.fieldTypeId);
  const bitSize = spec.member && parentKindFlag ? spec.member.bitfieldSize : 0;
  const bitfield = bitSize > 0 || (mt.kind === "INT" && mt.bits !== mt.size * 8);
  const bitSz = bitfield ? bitSize || (mt.kind === "INT" ? mt.bits : 0) : 0;
  let byteSz = btf.sizeof(spec.fieldTypeId);
  let byteOff: number;
  if (!bitfield) byteOff = Math.floor(spec.bitOffset / 8);
  else {
    byteOff = Math.floor(spec.bitOffset / 8 / byteSz) * byteSz;
    while (spec.bitOffset + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) throw new Error("bitfield straddles an 8-byte boundary");
      byteSz *= 2;
      byteOff = Math.floor(spec.bitOffset / 8 / byteSz) * byteSz;
    }
  }
  let value: number;
  switch (kind) {
    case CORE_KIND.FIELD_BYTE_OFFSET:
      value = byteOff;
      break;
    case CORE_KIND.FIELD_BYTE_SIZE:
      value = byteSz;
      break;
    case CORE_KIND.FIELD_EXISTS:
      value = 1;
      break;
    case CORE_KIND.FIELD_SIGNED:
      value =
        ((mt.kind === "ENUM" || mt.kind === "ENUM64") && mt.signed) ||
        (mt.kind === "INT" && (mt.encoding & BTF_INT_SIGNED) !== 0)
          ? 1
          : 0;
      break;
    case CORE_KIND.FIELD_LSHIFT_U64:
      value = bitfield ? 64 - (spec.bitOffset + bitSz - byteOff * 8) : 64 - byteSz * 8;
      break;
    default:
      value = bitfield ? 64 - bitSz : 64 - byteSz * 8;
  }
  return { value, byteSize: byteSz, bitfield };
}

function parentKindFlag(spec: Spec): boolean {
  const last = spec.access[spec.access.length - 1];
  if (!last) return false;
  const t = spec.btf.resolve(last.typeId);
  return (t.kind === "STRUCT" || t.kind === "UNION") && t.kindFlag;
}

export interface CoreTargets {
  vmlinux: Btf;
  /** `vmlinux.findAllByName(name, kind)`, possibly cached (see `KernelBtfs.vmlinuxTypesByName`). */
  vmlinuxTypesByName?(name: string, kind: BtfTypeKind): BtfType[];
  /** Module BTFs, consulted only when vmlinux has no candidate. */
  modules(): { btf: Btf }[];
}

/** Candidate cache: essential name + kind → target type ids, per target BTF. */
export class CandidateCache {
  readonly #cache = new Map<string, { btf: Btf; id: number }[]>();
  constructor(readonly targets: CoreTargets) {}

  find(local: Btf, localId: number): { btf: Btf; id: number }[] {
    const lt = local.typeById(localId);
    const name = essentialName(lt.name);
    const key = `${lt.kind}:${name}`;
    const hit = this.#cache.get(key);
    if (hit) return hit;
    const collect = (btf: Btf, own: boolean) =>
      (
        (btf === this.targets.vmlinux && this.targets.vmlinuxTypesByName?.(name, lt.kind)) ||
        (own ? btf.findOwnByName(name, lt.kind) : btf.findAllByName(name, lt.kind))
      ).map((t) => ({ btf, id: t.id }));
    let out: { btf: Btf; id: number }[] = [];
    if (name) {
      out = collect(this.targets.vmlinux, false);
      // Flavored target names (`task_struct___x`) are not in kernel BTF; exact essential names only.
      if (out.length === 0) for (const m of this.targets.modules()) out.push(...collect(m.btf, true));
    }
    this.#cache.set(key, out);
    return out;
  }
}

export interface CoreResult {
  relo: CoreReloSpec;
  /** The computed value, undefined when the instruction was poisoned. */
  value: number | bigint | undefined;
  poisoned: boolean;
  reason?: string;
}

function patch(
  insns: Insns,
  i: number,
  value: number | bigint,
  relo: CoreReloSpec,
  adjustSize: number | undefined,
): void {
  const code = insns.code(i);
  const cls = code & 7;
  if (insns.isLdImm64(i)) {
    const v = BigInt(value);
    insns.setImm(i, Number(BigInt.asIntN(32, v)));
    insns.setImm(i + 1, Number(BigInt.asIntN(32, v >> 32n)));
    return;
  }
  if (cls === BPF_CLASS.ALU || cls === BPF_CLASS.ALU64) {
    // ALU / ALU64 with an immediate
    insns.setImm(i, Number(value));
    return;
  }
  if (cls === BPF_CLASS.LDX || cls === BPF_CLASS.ST || cls === BPF_CLASS.STX) {
    // LDX / ST / STX: the offset
    const v = Number(value);
    if (v > 0x7fff) throw new Error(`offset ${v} does not fit the instruction`);
    insns.setOff(i, v);
    if (adjustSize !== undefined && cls === BPF_CLASS.LDX) {
      const sizeBits: Record<number, number> = {
        1: BPF_SIZE.B,
        2: BPF_SIZE.H,
        4: BPF_SIZE.W,
        8: BPF_SIZE.DW,
      };
      const bits = sizeBits[adjustSize];
      if (bits !== undefined) insns.setCode(i, (code & ~BPF_SIZE.DW) | bits);
    }
    return;
  }
  throw new Error(`instruction opcode 0x${code.toString(16)} cannot take a CO-RE ${relo.kindName} value`);
}

function poison(insns: Insns, i: number): void {
  const ld = insns.isLdImm64(i);
  for (const j of ld ? [i, i + 1] : [i]) {
    insns.set(j, callHelper(CORE_POISON_IMM));
  }
}

/**
 * Computes and applies one CO-RE relocation to `bytes` (the program's instructions) in place.
 * Failures to find the target poison the instruction; malformed records throw RelocationError.
 */
export function applyCoreRelo(
  bytes: Uint8Array,
  local: Btf,
  relo: CoreReloSpec,
  cands: CandidateCache,
  section: string,
): CoreResult {
  const insns = new Insns(bytes);
  const i = relo.insnIndex;
  const wrap = (e: unknown): never => {
    throw new RelocationError(
      section,
      i,
      undefined,
      `CO-RE ${relo.kindName} '${relo.accessStr}' on type [${relo.typeId}]: ${(e as Error).message}`,
    );
  };
  let localSpec: Spec;
  try {
    localSpec = parseLocal(local, relo);
  } catch (e) {
    return wrap(e);
  }
  if (relo.kind === CORE_KIND.TYPE_ID_LOCAL) {
    patch(insns, i, relo.typeId, relo, undefined);
    return { relo, value: relo.typeId, poisoned: false };
  }
  const candidates = cands.find(local, relo.typeId);
  let target: Spec | undefined;
  for (const c of candidates) {
    if (isFieldKind(relo.kind)) target = matchField(localSpec, c.btf, c.id);
    else if (isEnumKind(relo.kind)) target = matchEnum(localSpec, c.btf, c.id);
    else if (typesCompatible(local, relo.typeId, c.btf, c.id))
      target = { btf: c.btf, rootId: c.id, access: [], bitOffset: 0, member: undefined, fieldTypeId: c.id };
    if (target) break;
  }
  let value: number | bigint;
  let adjust: number | undefined;
  try {
    if (!target) {
      if (
        relo.kind === CORE_KIND.FIELD_EXISTS ||
        relo.kind === CORE_KIND.TYPE_EXISTS ||
        relo.kind === CORE_KIND.ENUMVAL_EXISTS ||
        relo.kind === CORE_KIND.TYPE_MATCHES
      ) {
        value = 0;
      } else {
        poison(insns, i);
        const lt = local.typeById(relo.typeId);
        return {
          relo,
          value: undefined,
          poisoned: true,
          reason:
            candidates.length === 0
              ? `no type named '${essentialName(lt.name)}' in kernel BTF`
              : `'${relo.accessStr}' not found in the kernel's '${essentialName(lt.name)}'`,
        };
      }
    } else if (isFieldKind(relo.kind)) {
      const fv = fieldValue(target, relo.kind, parentKindFlag(target));
      value = fv.value;
      if (relo.kind === CORE_KIND.FIELD_BYTE_OFFSET && !fv.bitfield) {
        const lv = fieldValue(localSpec, relo.kind, parentKindFlag(localSpec));
        if (lv.byteSize !== fv.byteSize) adjust = fv.byteSize;
      }
    } else if (isEnumKind(relo.kind)) {
      value = relo.kind === CORE_KIND.ENUMVAL_EXISTS ? 1 : target.enumValue!;
    } else if (relo.kind === CORE_KIND.TYPE_ID_TARGET) {
      value = target.rootId;
    } else if (relo.kind === CORE_KIND.TYPE_SIZE) {
      value = target.btf.sizeof(target.rootId);
    } else {
      value = 1;
    }
    patch(insns, i, value, relo, adjust);
  } catch (e) {
    return wrap(e);
  }
  return { relo, value, poisoned: false };
}
