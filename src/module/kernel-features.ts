/**
 * What a module's kfunc registration may ask of a kernel version: KF_* flags and program-type hooks,
 * each with the first kernel that has it (sources: kernel Documentation/bpf/kfuncs.rst,
 * `include/linux/btf.h` and `kernel/bpf/btf.c` `bpf_prog_type_to_kfunc_hook`).
 */

import { formatVersion, type KernelVersion, parseKernelVersion, versionAtLeast } from "../kernel-version.ts";

export { formatVersion, type KernelVersion, versionAtLeast };
/** @deprecated the one parser is parseKernelVersion (src/kernel-version.ts). */
export const parseRelease = parseKernelVersion;

export interface KfFlagInfo {
  /** The C macro, e.g. KF_ACQUIRE. */
  macro: string;
  /** The flag's value in BTF_ID_FLAGS (include/linux/btf.h). */
  bit: number;
  /** First kernel with the flag, "major.minor". */
  since: string;
  what: string;
}

export const KF_FLAGS = {
  ACQUIRE: {
    macro: "KF_ACQUIRE",
    bit: 1,
    since: "6.0",
    what: "returns a referenced pointer the program must release",
  },
  RELEASE: {
    macro: "KF_RELEASE",
    bit: 2,
    since: "6.0",
    what: "releases the referenced pointer passed to it",
  },
  RET_NULL: { macro: "KF_RET_NULL", bit: 4, since: "6.0", what: "may return NULL: the program must check" },
  TRUSTED_ARGS: {
    macro: "KF_TRUSTED_ARGS",
    bit: 16,
    since: "6.0",
    what: "pointer arguments must be trusted",
  },
  SLEEPABLE: { macro: "KF_SLEEPABLE", bit: 32, since: "6.1", what: "callable from sleepable programs only" },
  DESTRUCTIVE: {
    macro: "KF_DESTRUCTIVE",
    bit: 64,
    since: "6.1",
    what: "destructive: the caller needs CAP_SYS_BOOT",
  },
  RCU: { macro: "KF_RCU", bit: 128, since: "6.4", what: "pointer arguments may be RCU-protected" },
  ITER_NEW: { macro: "KF_ITER_NEW", bit: 256, since: "6.4", what: "open-coded iterator constructor" },
  ITER_NEXT: { macro: "KF_ITER_NEXT", bit: 512, since: "6.4", what: "open-coded iterator next" },
  ITER_DESTROY: { macro: "KF_ITER_DESTROY", bit: 1024, since: "6.4", what: "open-coded iterator destructor" },
  RCU_PROTECTED: {
    macro: "KF_RCU_PROTECTED",
    bit: 2048,
    since: "6.7",
    what: "callable only inside an RCU read section",
  },
} as const satisfies Record<string, KfFlagInfo>;

export type KfFlag = keyof typeof KF_FLAGS;

export interface ProgTypeInfo {
  /** The C enum value, e.g. BPF_PROG_TYPE_KPROBE. */
  enumName: string;
  /** First kernel whose register_btf_kfunc_id_set() accepts this program type, when known. */
  since: string | undefined;
  /** Section prefixes of programs of this type (for messages). */
  sections: string;
}

export const PROG_TYPES = {
  UNSPEC: { enumName: "BPF_PROG_TYPE_UNSPEC", since: "6.2", sections: "every program type" },
  KPROBE: { enumName: "BPF_PROG_TYPE_KPROBE", since: "6.10", sections: "kprobe/, kretprobe/, uprobe/" },
  TRACING: { enumName: "BPF_PROG_TYPE_TRACING", since: "6.0", sections: "fentry/, fexit/, tp_btf/, iter/" },
  SYSCALL: { enumName: "BPF_PROG_TYPE_SYSCALL", since: "6.0", sections: "syscall" },
  LSM: { enumName: "BPF_PROG_TYPE_LSM", since: "6.1", sections: "lsm/" },
  TRACEPOINT: { enumName: "BPF_PROG_TYPE_TRACEPOINT", since: "6.12", sections: "tracepoint/" },
  PERF_EVENT: { enumName: "BPF_PROG_TYPE_PERF_EVENT", since: "6.12", sections: "perf_event" },
  XDP: { enumName: "BPF_PROG_TYPE_XDP", since: "5.17", sections: "xdp" },
  SCHED_CLS: { enumName: "BPF_PROG_TYPE_SCHED_CLS", since: "5.17", sections: "tc, classifier" },
  STRUCT_OPS: { enumName: "BPF_PROG_TYPE_STRUCT_OPS", since: "5.17", sections: "struct_ops/" },
  SCHED_ACT: { enumName: "BPF_PROG_TYPE_SCHED_ACT", since: undefined, sections: "action" },
  SOCKET_FILTER: { enumName: "BPF_PROG_TYPE_SOCKET_FILTER", since: undefined, sections: "socket" },
  CGROUP_SKB: { enumName: "BPF_PROG_TYPE_CGROUP_SKB", since: undefined, sections: "cgroup_skb/" },
  NETFILTER: { enumName: "BPF_PROG_TYPE_NETFILTER", since: undefined, sections: "netfilter" },
} as const satisfies Record<string, ProgTypeInfo>;

export type ProgType = keyof typeof PROG_TYPES;

function sinceParts(since: string): [number, number] {
  const [a, b] = since.split(".");
  return [Number(a), Number(b)];
}

export function flagSupported(flag: KfFlag, v: KernelVersion): boolean {
  const [a, b] = sinceParts(KF_FLAGS[flag].since);
  return versionAtLeast(v, a, b);
}

export function progTypeSupported(type: ProgType, v: KernelVersion): boolean {
  const since = PROG_TYPES[type].since;
  if (since === undefined) return true;
  const [a, b] = sinceParts(since);
  return versionAtLeast(v, a, b);
}

/** Why a program type cannot be registered on this kernel, and what to use instead. */
export function progTypeRefusal(type: ProgType, v: KernelVersion): string {
  const info = PROG_TYPES[type];
  const base = `register_btf_kfunc_id_set(${info.enumName}, …) returns -EINVAL before Linux ${info.since}: the kernel has no kfunc hook for that program type, so insmod would fail with "Invalid argument" (and a program of that type is rejected with "calling kernel function … is not allowed")`;
  if (type === "KPROBE") {
    return `${base}. Alternatives on ${formatVersion(v)}: register for TRACING and attach with fentry/<function> or tp_btf/<tracepoint> (same call sites, typed arguments), or for SYSCALL and run it with BPF_PROG_TEST_RUN`;
  }
  if (type === "TRACEPOINT" || type === "PERF_EVENT") {
    return `${base}. Alternative on ${formatVersion(v)}: register for TRACING and use a tp_btf/<tracepoint> program`;
  }
  if (type === "UNSPEC") return `${base}. Alternative: list the program types explicitly`;
  return base;
}

/** Flag names of a BTF_ID_FLAGS value, e.g. 0b101 → ["ACQUIRE", "RET_NULL"]; unknown bits as hex. */
export function flagNames(value: number): string[] {
  const names: string[] = [];
  let rest = value;
  for (const [name, info] of Object.entries(KF_FLAGS)) {
    if (value & info.bit) {
      names.push(name);
      rest &= ~info.bit;
    }
  }
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names;
}
