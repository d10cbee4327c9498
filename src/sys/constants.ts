/**
 * bpf(2) UAPI constants (include/uapi/linux/bpf.h as of Linux 6.18), transcribed from the `enum bpf_*`
 * definitions in that kernel's vmlinux BTF; the type enums are checked against BTF by test/object/sections.test.ts.
 * Names drop the enum prefix: `BPF_PROG_TYPE.TRACING === 26`.
 */

import { ATTACH_TYPE, MAP_TYPE, PROG_TYPE } from "../object/uapi.ts";

/** enum bpf_prog_type, enum bpf_map_type, enum bpf_attach_type: one table, shared with the pure object layer. */
export const BPF_PROG_TYPE = PROG_TYPE;
export const BPF_MAP_TYPE = MAP_TYPE;
export const BPF_ATTACH_TYPE = ATTACH_TYPE;

/** enum bpf_link_type */
export const BPF_LINK_TYPE = {
  UNSPEC: 0,
  RAW_TRACEPOINT: 1,
  TRACING: 2,
  CGROUP: 3,
  ITER: 4,
  NETNS: 5,
  XDP: 6,
  PERF_EVENT: 7,
  KPROBE_MULTI: 8,
  STRUCT_OPS: 9,
  NETFILTER: 10,
  TCX: 11,
  UPROBE_MULTI: 12,
  NETKIT: 13,
  SOCKMAP: 14,
} as const;

export type ProgTypeName = keyof typeof BPF_PROG_TYPE;
export type MapTypeName = keyof typeof BPF_MAP_TYPE;
export type AttachTypeName = keyof typeof BPF_ATTACH_TYPE;

/** Map creation flags (map_flags). */
export const BPF_F = {
  NO_PREALLOC: 1 << 0,
  NO_COMMON_LRU: 1 << 1,
  NUMA_NODE: 1 << 2,
  RDONLY: 1 << 3,
  WRONLY: 1 << 4,
  STACK_BUILD_ID: 1 << 5,
  ZERO_SEED: 1 << 6,
  RDONLY_PROG: 1 << 7,
  WRONLY_PROG: 1 << 8,
  CLONE: 1 << 9,
  MMAPABLE: 1 << 10,
  PRESERVE_ELEMS: 1 << 11,
  INNER_MAP: 1 << 12,
  LINK: 1 << 13,
  PATH_FD: 1 << 14,
  VTYPE_BTF_OBJ_FD: 1 << 15,
  TOKEN_FD: 1 << 16,
  SEGV_ON_FAULT: 1 << 17,
  NO_USER_CONV: 1 << 18,
} as const;

/** Program load flags (prog_flags). */
export const BPF_PROG_F = {
  STRICT_ALIGNMENT: 1 << 0,
  ANY_ALIGNMENT: 1 << 1,
  TEST_RND_HI32: 1 << 2,
  TEST_STATE_FREQ: 1 << 3,
  SLEEPABLE: 1 << 4,
  XDP_HAS_FRAGS: 1 << 5,
  XDP_DEV_BOUND_ONLY: 1 << 6,
} as const;

/** Map update flags. */
export const BPF_UPDATE = { ANY: 0, NOEXIST: 1, EXIST: 2, F_LOCK: 4 } as const;

/** Instruction encoding and ld_imm64/call src_reg values: pure tables, kept in src/object/uapi.ts. */
export { BPF_INSN, BPF_PSEUDO } from "../object/uapi.ts";

/** OBJ_GET_INFO_BY_FD info struct sizes (the prefix kfunc-kit decodes). */
export const BPF_OBJ_NAME_LEN = 16;

const reverse = <T extends Record<string, number>>(t: T): Map<number, keyof T & string> =>
  new Map(Object.entries(t).map(([k, v]) => [v, k as keyof T & string]));
const PROG_NAMES = reverse(BPF_PROG_TYPE);
const MAP_NAMES = reverse(BPF_MAP_TYPE);
const ATTACH_NAMES = reverse(BPF_ATTACH_TYPE);

/** "TRACING" for 26; `type 99` for unknown numbers. */
export function progTypeName(t: number): string {
  return PROG_NAMES.get(t) ?? `type ${t}`;
}
export function mapTypeName(t: number): string {
  return MAP_NAMES.get(t) ?? `type ${t}`;
}
export function attachTypeName(t: number): string {
  return ATTACH_NAMES.get(t) ?? `attach type ${t}`;
}
