/**
 * Cached probes of what the running kernel accepts. `checkFeature(f)` returns when supported, throws
 * NotSupportedError (with the minimum kernel) when the kernel conclusively refuses, and throws anything
 * else when the probe itself failed (inconclusive). `supports(f)` maps the first two to a boolean.
 */
import { NotSupportedError, SyscallError } from "../errors.ts";
import { Attr } from "../sys/attr.ts";
import { BPF_CMD, bpfRaw } from "../sys/bpf.ts";
import { BPF_F, BPF_MAP_TYPE, BPF_PROG_F, BPF_PROG_TYPE } from "../sys/constants.ts";
import { ERRNO, errnoName } from "../sys/errno.ts";
import { closeFd } from "../sys/libc.ts";
import { bootCacheGet, bootCacheSet } from "./boot-cache.ts";
import type { BtfFeatureSet } from "./btf-sanitize.ts";
import { vmlinuxBtf } from "./kernel-btf.ts";

export type Feature =
  | "btf"
  | "btfFunc"
  | "btfFuncGlobal"
  | "btfDatasec"
  | "btfFloat"
  | "btfDeclTag"
  | "btfTypeTag"
  | "btfEnum64"
  | "mmapableArray"
  | "kfuncCall"
  | "bpfCookie";

const MIN_KERNEL: Record<Feature, string> = {
  btf: "4.18",
  btfFunc: "4.20",
  btfFuncGlobal: "5.6",
  btfDatasec: "5.2",
  btfFloat: "5.13",
  btfDeclTag: "5.16",
  btfTypeTag: "5.17",
  btfEnum64: "6.0",
  mmapableArray: "5.5",
  kfuncCall: "5.13",
  bpfCookie: "5.15",
};

const DESCRIPTION: Record<Feature, string> = {
  btf: "BTF",
  btfFunc: "BTF FUNC/FUNC_PROTO",
  btfFuncGlobal: "BTF global FUNC linkage",
  btfDatasec: "BTF VAR/DATASEC (global data)",
  btfFloat: "BTF FLOAT",
  btfDeclTag: "BTF DECL_TAG",
  btfTypeTag: "BTF TYPE_TAG",
  btfEnum64: "BTF ENUM64",
  mmapableArray: "mmapable array maps (BPF_F_MMAPABLE)",
  kfuncCall: "kfunc calls from eBPF programs",
  bpfCookie: "BPF cookies (bpf_get_attach_cookie)",
};

/** Raw little-endian BTF from type words and a string table ("\0int\0x\0…"). */
export function rawBtf(types: number[], strings: string): Uint8Array {
  const str = new TextEncoder().encode(strings);
  const out = new Uint8Array(24 + types.length * 4 + str.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1);
  v.setUint32(4, 24, true);
  v.setUint32(12, types.length * 4, true);
  v.setUint32(16, types.length * 4, true);
  v.setUint32(20, str.length, true);
  types.forEach((w, i) => {
    v.setUint32(24 + i * 4, w >>> 0, true);
  });
  out.set(str, 24 + types.length * 4);
  return out;
}

const INT = (name: number) => [name, 1 << 24, 4, 32];
const info = (kind: number, vlen = 0, kflag = 0) => ((kflag << 31) | (kind << 24) | vlen) >>> 0;

// Strings: 1 "int", 5 "x", 7 "f", 9 ".data", 15 "tag"
const STRS = "\0int\0x\0f\0.data\0tag\0";
const BTF_PROBES: Partial<Record<Feature, number[]>> = {
  btf: [...INT(1)],
  btfFunc: [...INT(1), 0, info(13), 0, 7, info(12, 0), 2],
  btfFuncGlobal: [...INT(1), 0, info(13), 0, 7, info(12, 1), 2],
  btfDatasec: [...INT(1), 5, info(14), 1, 0, 9, info(15, 1), 4, 2, 0, 4],
  btfFloat: [7, info(16), 4],
  btfDeclTag: [...INT(1), 5, info(14), 1, 0, 15, info(17), 2, 0xffffffff],
  btfTypeTag: [...INT(1), 15, info(18), 1, 0, info(2), 2],
  btfEnum64: [1, info(19, 1, 0), 8, 5, 0, 1],
};

function tryBtf(bytes: Uint8Array): number {
  const attr = new Attr(32).ptr(0, bytes).u32(16, bytes.byteLength);
  return bpfRaw(BPF_CMD.BTF_LOAD, attr.bytes);
}

function conclusive(r: number, feature: Feature): void {
  if (r >= 0) {
    closeFd(r);
    return;
  }
  const errno = -r;
  if (
    errno === ERRNO.EINVAL ||
    errno === ERRNO.E2BIG ||
    errno === ERRNO.ENOTSUPP ||
    errno === ERRNO.EOPNOTSUPP
  )
    throw new NotSupportedError(DESCRIPTION[feature], MIN_KERNEL[feature]);
  throw new SyscallError(`probe ${DESCRIPTION[feature]}`, errno, errnoName(errno));
}

function probeKfuncCall(): number {
  const btf = vmlinuxBtf();
  const lock = btf.findByName("bpf_rcu_read_lock", "FUNC");
  const unlock = btf.findByName("bpf_rcu_read_unlock", "FUNC");
  if (!lock || !unlock) throw new NotSupportedError(DESCRIPTION.kfuncCall, MIN_KERNEL.kfuncCall);
  const insns = new Uint8Array(32);
  const v = new DataView(insns.buffer);
  const call = (i: number, id: number) => {
    insns[i * 8] = 0x85;
    insns[i * 8 + 1] = 2 << 4;
    v.setInt32(i * 8 + 4, id, true);
  };
  call(0, lock.id);
  call(1, unlock.id);
  insns[16] = 0xb7; // r0 = 0
  insns[24] = 0x95; // exit
  const license = new TextEncoder().encode("GPL\0");
  const a = new Attr(72).u32(0, BPF_PROG_TYPE.SYSCALL).u32(4, 4).ptr(8, insns).ptr(16, license);
  a.u32(44, BPF_PROG_F.SLEEPABLE);
  return bpfRaw(BPF_CMD.PROG_LOAD, a.bytes);
}

/** libbpf's probe_kern_bpf_cookie: a tracepoint program calling bpf_get_attach_cookie (helper 174). */
function probeBpfCookie(): number {
  const insns = new Uint8Array(16);
  insns[0] = 0x85; // call
  new DataView(insns.buffer).setInt32(4, 174, true);
  insns[8] = 0x95; // exit
  const license = new TextEncoder().encode("GPL\0");
  const a = new Attr(72).u32(0, BPF_PROG_TYPE.TRACEPOINT).u32(4, 2).ptr(8, insns).ptr(16, license);
  return bpfRaw(BPF_CMD.PROG_LOAD, a.bytes);
}

function run(feature: Feature): void {
  const btf = BTF_PROBES[feature];
  if (btf) {
    conclusive(tryBtf(rawBtf(btf, STRS)), feature);
    return;
  }
  if (feature === "mmapableArray") {
    const a = new Attr(48).u32(0, BPF_MAP_TYPE.ARRAY).u32(4, 4).u32(8, 8).u32(12, 1).u32(16, BPF_F.MMAPABLE);
    conclusive(bpfRaw(BPF_CMD.MAP_CREATE, a.bytes), feature);
    return;
  }
  if (feature === "bpfCookie") {
    conclusive(probeBpfCookie(), feature);
    return;
  }
  conclusive(probeKfuncCall(), feature);
}

const cache = new Map<Feature, NotSupportedError | true>();

/** Returns if supported; throws NotSupportedError if not; anything else thrown means inconclusive. */
export function checkFeature(feature: Feature): void {
  const hit = cache.get(feature);
  if (hit === true) return;
  if (hit) throw hit;
  // conclusive answers are kept for the rest of the boot (boot-cache.ts): a fresh process skips the probe
  const booted = bootCacheGet(`feature:${feature}`);
  if (booted === true) {
    cache.set(feature, true);
    return;
  }
  if (booted === false) {
    const e = new NotSupportedError(DESCRIPTION[feature], MIN_KERNEL[feature]);
    cache.set(feature, e);
    throw e;
  }
  try {
    run(feature);
    cache.set(feature, true);
    bootCacheSet(`feature:${feature}`, true);
  } catch (e) {
    if (e instanceof NotSupportedError) {
      cache.set(feature, e);
      bootCacheSet(`feature:${feature}`, false);
    }
    throw e;
  }
}

/** true / false for conclusive answers; rethrows when the probe was inconclusive. */
export function supports(feature: Feature): boolean {
  try {
    checkFeature(feature);
    return true;
  } catch (e) {
    if (e instanceof NotSupportedError) return false;
    throw e;
  }
}

/** The BTF kinds this kernel accepts, for sanitizeBtf. */
export function btfFeatures(): BtfFeatureSet {
  return {
    func: supports("btfFunc"),
    funcGlobal: supports("btfFuncGlobal"),
    datasec: supports("btfDatasec"),
    float: supports("btfFloat"),
    declTag: supports("btfDeclTag"),
    typeTag: supports("btfTypeTag"),
    enum64: supports("btfEnum64"),
  };
}
