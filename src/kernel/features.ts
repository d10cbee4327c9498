/**
 * Cached probes of what the running kernel accepts. `checkFeature(f)` returns when supported, throws
 * NotSupportedError (with the minimum kernel) when the kernel conclusively refuses, and throws anything
 * else when the probe itself failed (inconclusive). `supports(f)` maps the first two to a boolean.
 */
import { type BtfType, encodeBtf } from "../btf/index.ts";
import { errnoOf, NotSupportedError, SyscallError } from "../errors.ts";
import type { BtfFeatureSet } from "../link/btf-sanitize.ts";
import { mapCreate } from "../sys/bpf-map.ts";
import { btfLoad } from "../sys/bpf-obj.ts";
import { progLoad } from "../sys/bpf-prog.ts";
import { BPF_F, BPF_MAP_TYPE, BPF_PROG_F, BPF_PROG_TYPE } from "../sys/constants.ts";
import { ERRNO, errnoName } from "../sys/errno.ts";
import type { Fd } from "../sys/fd.ts";
import { bootCacheGet, bootCacheSet } from "./boot-cache.ts";
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

/** The first kernel with `feature` ("major.minor"), for skip and error messages. */
export function featureMinKernel(feature: Feature): string {
  return MIN_KERNEL[feature];
}

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

// The probes are tiny objects made with kfunc-kit's own encoders and loaded through the src/sys wrappers
// (btfLoad, mapCreate, progLoad): no attr layout or BTF record is written out by hand here.
const int = (id: number): BtfType => ({
  id,
  kind: "INT",
  name: "int",
  size: 4,
  encoding: 0,
  bitOffset: 0,
  bits: 32,
});
const BTF_PROBES: Partial<Record<Feature, BtfType[]>> = {
  btf: [int(1)],
  btfFunc: [
    int(1),
    { id: 2, kind: "FUNC_PROTO", name: "", returnType: 0, params: [] },
    { id: 3, kind: "FUNC", name: "f", type: 2, linkage: 0 },
  ],
  btfFuncGlobal: [
    int(1),
    { id: 2, kind: "FUNC_PROTO", name: "", returnType: 0, params: [] },
    { id: 3, kind: "FUNC", name: "f", type: 2, linkage: 1 },
  ],
  btfDatasec: [
    int(1),
    { id: 2, kind: "VAR", name: "x", type: 1, linkage: 0 },
    { id: 3, kind: "DATASEC", name: ".data", size: 4, vars: [{ type: 2, offset: 0, size: 4 }] },
  ],
  btfFloat: [{ id: 1, kind: "FLOAT", name: "f", size: 4 }],
  btfDeclTag: [
    int(1),
    { id: 2, kind: "VAR", name: "x", type: 1, linkage: 0 },
    { id: 3, kind: "DECL_TAG", name: "tag", type: 2, componentIdx: -1 },
  ],
  btfTypeTag: [
    int(1),
    { id: 2, kind: "TYPE_TAG", name: "tag", type: 1 },
    { id: 3, kind: "PTR", name: "", type: 2 },
  ],
  btfEnum64: [
    { id: 1, kind: "ENUM64", name: "int", size: 8, signed: false, values: [{ name: "x", value: 1n << 32n }] },
  ],
};

/** Runs a probe that creates an fd: closes it (supported), or classifies the failure. */
function conclusive(create: () => Fd, feature: Feature): void {
  try {
    create().close();
  } catch (e) {
    if (e instanceof NotSupportedError) throw e;
    const errno = errnoOf(e);
    if (errno === undefined) throw e;
    if (
      errno === ERRNO.EINVAL ||
      errno === ERRNO.E2BIG ||
      errno === ERRNO.ENOTSUPP ||
      errno === ERRNO.EOPNOTSUPP
    )
      throw new NotSupportedError(DESCRIPTION[feature], MIN_KERNEL[feature], undefined, { cause: e });
    throw SyscallError.wrap(`probe ${DESCRIPTION[feature]}: ${errnoName(errno)}`, e);
  }
}

function probeKfuncCall(): Fd {
  const btf = vmlinuxBtf();
  const lock = btf.findByName("bpf_rcu_read_lock", "FUNC");
  const unlock = btf.findByName("bpf_rcu_read_unlock", "FUNC");
  if (!lock || !unlock) throw new NotSupportedError(DESCRIPTION.kfuncCall, MIN_KERNEL.kfuncCall);
  // call lock; call unlock; r0 = 0; exit (a kfunc call is BPF_CALL with src_reg 2 and the BTF id)
  const insns = new Uint8Array(32);
  const v = new DataView(insns.buffer);
  for (const [i, id] of [lock.id, unlock.id].entries()) {
    insns[i * 8] = 0x85;
    insns[i * 8 + 1] = 2 << 4;
    v.setInt32(i * 8 + 4, id, true);
  }
  insns[16] = 0xb7;
  insns[24] = 0x95;
  return progLoad({
    type: BPF_PROG_TYPE.SYSCALL,
    insns,
    license: "GPL",
    name: "kk_probe",
    flags: BPF_PROG_F.SLEEPABLE,
  }).fd;
}

/** libbpf's probe_kern_bpf_cookie: a tracepoint program calling bpf_get_attach_cookie (helper 174). */
function probeBpfCookie(): Fd {
  const insns = new Uint8Array(16);
  insns[0] = 0x85; // call
  new DataView(insns.buffer).setInt32(4, 174, true);
  insns[8] = 0x95; // exit
  return progLoad({ type: BPF_PROG_TYPE.TRACEPOINT, insns, license: "GPL", name: "kk_probe" }).fd;
}

function run(feature: Feature): void {
  const btf = BTF_PROBES[feature];
  if (btf) {
    conclusive(() => btfLoad(encodeBtf(btf), `probe ${feature}`), feature);
    return;
  }
  if (feature === "mmapableArray") {
    conclusive(
      () =>
        mapCreate({
          type: BPF_MAP_TYPE.ARRAY,
          keySize: 4,
          valueSize: 8,
          maxEntries: 1,
          flags: BPF_F.MMAPABLE,
        }),
      feature,
    );
    return;
  }
  if (feature === "bpfCookie") {
    conclusive(probeBpfCookie, feature);
    return;
  }
  conclusive(probeKfuncCall, feature);
}

const cache = new Map<Feature, NotSupportedError | true>();

/** Returns if supported; throws NotSupportedError if not; anything else thrown means inconclusive. */
export function checkFeature(feature: Feature): void {
  const hit = cache.get(feature);
  if (hit === true) return;
  if (hit) throw hit;
  // conclusive answers are kept for the rest of the boot (boot-cache.ts): a fresh process skips the probe.
  // Not kfuncCall: it also needs the vmlinux BTF file, which a mount namespace or container can hide.
  const key = feature === "kfuncCall" ? undefined : `feature:${feature}`;
  const booted = key ? bootCacheGet(key) : undefined;
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
    if (key) bootCacheSet(key, true);
  } catch (e) {
    if (e instanceof NotSupportedError) {
      cache.set(feature, e);
      if (key) bootCacheSet(key, false);
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
