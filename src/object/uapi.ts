/**
 * UAPI enums the object model names (include/uapi/linux/bpf.h, as of Linux 6.18; checked against the host's
 * vmlinux BTF by test/object/sections.test.ts). Kept here because src/object is pure and does not import src/sys.
 */
import type { UapiValue } from "./types.ts";

/** enum bpf_prog_type, without the `BPF_PROG_TYPE_` prefix. */
export const PROG_TYPE = {
  UNSPEC: 0,
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  TRACEPOINT: 5,
  XDP: 6,
  PERF_EVENT: 7,
  CGROUP_SKB: 8,
  CGROUP_SOCK: 9,
  LWT_IN: 10,
  LWT_OUT: 11,
  LWT_XMIT: 12,
  SOCK_OPS: 13,
  SK_SKB: 14,
  CGROUP_DEVICE: 15,
  SK_MSG: 16,
  RAW_TRACEPOINT: 17,
  CGROUP_SOCK_ADDR: 18,
  LWT_SEG6LOCAL: 19,
  LIRC_MODE2: 20,
  SK_REUSEPORT: 21,
  FLOW_DISSECTOR: 22,
  CGROUP_SYSCTL: 23,
  RAW_TRACEPOINT_WRITABLE: 24,
  CGROUP_SOCKOPT: 25,
  TRACING: 26,
  STRUCT_OPS: 27,
  EXT: 28,
  LSM: 29,
  SK_LOOKUP: 30,
  SYSCALL: 31,
  NETFILTER: 32,
} as const;

/** enum bpf_map_type, without the `BPF_MAP_TYPE_` prefix. */
export const MAP_TYPE = {
  UNSPEC: 0,
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  CGROUP_ARRAY: 8,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  SOCKMAP: 15,
  CPUMAP: 16,
  XSKMAP: 17,
  SOCKHASH: 18,
  CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20,
  PERCPU_CGROUP_STORAGE: 21,
  QUEUE: 22,
  STACK: 23,
  SK_STORAGE: 24,
  DEVMAP_HASH: 25,
  STRUCT_OPS: 26,
  RINGBUF: 27,
  INODE_STORAGE: 28,
  TASK_STORAGE: 29,
  BLOOM_FILTER: 30,
  USER_RINGBUF: 31,
  CGRP_STORAGE: 32,
  ARENA: 33,
} as const;

/** enum bpf_attach_type, without the `BPF_` prefix. */
export const ATTACH_TYPE = {
  CGROUP_INET_INGRESS: 0,
  CGROUP_INET_EGRESS: 1,
  CGROUP_INET_SOCK_CREATE: 2,
  CGROUP_SOCK_OPS: 3,
  SK_SKB_STREAM_PARSER: 4,
  SK_SKB_STREAM_VERDICT: 5,
  CGROUP_DEVICE: 6,
  SK_MSG_VERDICT: 7,
  CGROUP_INET4_BIND: 8,
  CGROUP_INET6_BIND: 9,
  CGROUP_INET4_CONNECT: 10,
  CGROUP_INET6_CONNECT: 11,
  CGROUP_INET4_POST_BIND: 12,
  CGROUP_INET6_POST_BIND: 13,
  CGROUP_UDP4_SENDMSG: 14,
  CGROUP_UDP6_SENDMSG: 15,
  LIRC_MODE2: 16,
  FLOW_DISSECTOR: 17,
  CGROUP_SYSCTL: 18,
  CGROUP_UDP4_RECVMSG: 19,
  CGROUP_UDP6_RECVMSG: 20,
  CGROUP_GETSOCKOPT: 21,
  CGROUP_SETSOCKOPT: 22,
  TRACE_RAW_TP: 23,
  TRACE_FENTRY: 24,
  TRACE_FEXIT: 25,
  MODIFY_RETURN: 26,
  LSM_MAC: 27,
  TRACE_ITER: 28,
  CGROUP_INET4_GETPEERNAME: 29,
  CGROUP_INET6_GETPEERNAME: 30,
  CGROUP_INET4_GETSOCKNAME: 31,
  CGROUP_INET6_GETSOCKNAME: 32,
  XDP_DEVMAP: 33,
  CGROUP_INET_SOCK_RELEASE: 34,
  XDP_CPUMAP: 35,
  SK_LOOKUP: 36,
  XDP: 37,
  SK_SKB_VERDICT: 38,
  SK_REUSEPORT_SELECT: 39,
  SK_REUSEPORT_SELECT_OR_MIGRATE: 40,
  PERF_EVENT: 41,
  TRACE_KPROBE_MULTI: 42,
  LSM_CGROUP: 43,
  STRUCT_OPS: 44,
  NETFILTER: 45,
  TCX_INGRESS: 46,
  TCX_EGRESS: 47,
  TRACE_UPROBE_MULTI: 48,
  CGROUP_UNIX_CONNECT: 49,
  CGROUP_UNIX_SENDMSG: 50,
  CGROUP_UNIX_RECVMSG: 51,
  CGROUP_UNIX_GETPEERNAME: 52,
  CGROUP_UNIX_GETSOCKNAME: 53,
  NETKIT_PRIMARY: 54,
  NETKIT_PEER: 55,
  TRACE_KPROBE_SESSION: 56,
  TRACE_UPROBE_SESSION: 57,
} as const;

function namer(table: Record<string, number>, prefix: string): (id: number) => string {
  const names = new Map<number, string>();
  for (const [k, v] of Object.entries(table)) if (!names.has(v)) names.set(v, `${prefix}${k}`);
  return (id) => names.get(id) ?? `${prefix}${id}`;
}

/** "BPF_PROG_TYPE_KPROBE" for 2; "BPF_PROG_TYPE_<n>" for a value newer than this table. */
export const progTypeName = namer(PROG_TYPE, "BPF_PROG_TYPE_");
export const mapTypeName = namer(MAP_TYPE, "BPF_MAP_TYPE_");
export const attachTypeName = namer(ATTACH_TYPE, "BPF_");

export function progType(id: number): UapiValue {
  return { id, name: progTypeName(id) };
}
export function mapType(id: number): UapiValue {
  return { id, name: mapTypeName(id) };
}
export function attachType(id: number): UapiValue {
  return { id, name: attachTypeName(id) };
}

/** Program flags (BPF_PROG_LOAD prog_flags). */
export const BPF_F_SLEEPABLE = 1 << 4;
export const BPF_F_XDP_HAS_FRAGS = 1 << 5;
/** Map flags used for global data. */
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_MMAPABLE = 1 << 10;

/** Instruction encoding (include/uapi/linux/bpf_common.h, bpf.h). */
export const BPF_INSN = {
  SIZE: 8,
  /** opcode of `call` (BPF_JMP | BPF_CALL) */
  CALL: 0x85,
  /** opcode of `exit` */
  EXIT: 0x95,
  /** opcode of the first half of `ld_imm64` (BPF_LD | BPF_IMM | BPF_DW) */
  LD_IMM64: 0x18,
} as const;

/** src_reg values of ld_imm64 and call with a special meaning. */
export const BPF_PSEUDO = {
  MAP_FD: 1,
  MAP_VALUE: 2,
  BTF_ID: 3,
  FUNC: 4,
  MAP_IDX: 5,
  MAP_IDX_VALUE: 6,
  /** call: src_reg 1 = bpf-to-bpf call, 2 = kfunc call */
  CALL: 1,
  KFUNC_CALL: 2,
} as const;

/** Instruction encoding bits the object layer names singly (the same values as the tables above). */
export const BPF_LD_IMM64 = BPF_INSN.LD_IMM64;
export const BPF_CALL_INSN = BPF_INSN.CALL;
export const BPF_PSEUDO_CALL = BPF_PSEUDO.CALL;
export const BPF_PSEUDO_KFUNC_CALL = BPF_PSEUDO.KFUNC_CALL;
export const BPF_PSEUDO_FUNC = BPF_PSEUDO.FUNC;
