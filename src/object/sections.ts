/**
 * Program section names → program type, expected attach type and flags: libbpf's `section_defs[]`
 * (src/libbpf.c), same order, same matching rules (`sec_def_matches`):
 *   "type/"  the section must start with it;
 *   "type+"  exactly "type", or "type/<extras>";
 *   "type"   exact match only.
 * The first matching entry wins, so more specific entries come first.
 */
import { ATTACH_TYPE as A, PROG_TYPE as P } from "./uapi.ts";

/**
 * How a program of a section is attached (src/kernel/attach/attach.ts has one attacher per kind):
 * "none" — nothing to attach to on its own (xdp, tc, socket filters, syscall, cgroup…: the caller attaches
 * the fd to a device or cgroup, or runs it with BPF_PROG_TEST_RUN); "unsupported" — a section that parses
 * but kfunc-kit cannot attach (uprobe.multi, kprobe.session, struct_ops…), refused by name.
 */
export type AttachKind =
  | "tracepoint"
  | "raw_tracepoint"
  | "tp_btf"
  | "trampoline"
  | "kprobe"
  | "ksyscall"
  | "kprobe.multi"
  | "uprobe"
  | "usdt"
  | "iter"
  | "perf_event"
  | "none"
  | "unsupported";

export interface SectionDef {
  /** The pattern as written in libbpf ("kprobe+", "xdp/devmap", "socket"). */
  pattern: string;
  progType: number;
  /** 0 when libbpf passes none; `hasAttachType` says whether 0 is meaningful (BPF_CGROUP_INET_INGRESS). */
  attachType: number;
  hasAttachType: boolean;
  sleepable: boolean;
  xdpFrags: boolean;
  /** The attach target after the prefix is a kernel BTF name (fentry/, tp_btf/, lsm/, iter/…). */
  attachBtf: boolean;
  /** How attach() attaches it. */
  attach: AttachKind;
}

const S = 1; // SEC_SLEEPABLE
const F = 2; // SEC_XDP_FRAGS
const B = 4; // SEC_ATTACH_BTF

/** The attach kind of each libbpf pattern kfunc-kit attaches; every other pattern is "none" or "unsupported". */
const ATTACH_BY_PATTERN: Readonly<Record<string, AttachKind>> = {
  "kprobe+": "kprobe",
  "kretprobe+": "kprobe",
  "uprobe+": "uprobe",
  "uprobe.s+": "uprobe",
  "uretprobe+": "uprobe",
  "uretprobe.s+": "uprobe",
  "kprobe.multi+": "kprobe.multi",
  "kretprobe.multi+": "kprobe.multi",
  "ksyscall+": "ksyscall",
  "kretsyscall+": "ksyscall",
  "usdt+": "usdt",
  "usdt.s+": "usdt",
  "tracepoint+": "tracepoint",
  "tp+": "tracepoint",
  "raw_tracepoint+": "raw_tracepoint",
  "raw_tp+": "raw_tracepoint",
  "raw_tracepoint.w+": "raw_tracepoint",
  "raw_tp.w+": "raw_tracepoint",
  "tp_btf+": "tp_btf",
  "fentry+": "trampoline",
  "fmod_ret+": "trampoline",
  "fexit+": "trampoline",
  "fentry.s+": "trampoline",
  "fmod_ret.s+": "trampoline",
  "fexit.s+": "trampoline",
  "lsm+": "trampoline",
  "lsm.s+": "trampoline",
  "iter+": "iter",
  "iter.s+": "iter",
  perf_event: "perf_event",
};

/** Sections that parse but that kfunc-kit does not attach (multi-uprobes, sessions, struct_ops, …). */
const UNSUPPORTED = new Set([
  "kprobe.session+",
  "uprobe.multi+",
  "uretprobe.multi+",
  "uprobe.session+",
  "uprobe.multi.s+",
  "uretprobe.multi.s+",
  "uprobe.session.s+",
  "freplace+",
  "lsm_cgroup+",
  "struct_ops+",
  "struct_ops.s+",
  "netfilter",
]);

function def(pattern: string, progType: number, attachType: number | undefined, flags = 0): SectionDef {
  return {
    pattern,
    progType,
    attachType: attachType ?? 0,
    hasAttachType: attachType !== undefined,
    sleepable: (flags & S) !== 0,
    xdpFrags: (flags & F) !== 0,
    attachBtf: (flags & B) !== 0,
    attach: ATTACH_BY_PATTERN[pattern] ?? (UNSUPPORTED.has(pattern) ? "unsupported" : "none"),
  };
}

export const SECTION_DEFS: readonly SectionDef[] = [
  def("socket", P.SOCKET_FILTER, undefined),
  def("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE),
  def("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT),
  def("kprobe+", P.KPROBE, undefined),
  def("uprobe+", P.KPROBE, undefined),
  def("uprobe.s+", P.KPROBE, undefined, S),
  def("kretprobe+", P.KPROBE, undefined),
  def("uretprobe+", P.KPROBE, undefined),
  def("uretprobe.s+", P.KPROBE, undefined, S),
  def("kprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI),
  def("kretprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI),
  def("kprobe.session+", P.KPROBE, A.TRACE_KPROBE_SESSION),
  def("uprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI),
  def("uretprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI),
  def("uprobe.session+", P.KPROBE, A.TRACE_UPROBE_SESSION),
  def("uprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, S),
  def("uretprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, S),
  def("uprobe.session.s+", P.KPROBE, A.TRACE_UPROBE_SESSION, S),
  def("ksyscall+", P.KPROBE, undefined),
  def("kretsyscall+", P.KPROBE, undefined),
  def("usdt+", P.KPROBE, undefined),
  def("usdt.s+", P.KPROBE, undefined, S),
  def("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS),
  def("tc/egress", P.SCHED_CLS, A.TCX_EGRESS),
  def("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS),
  def("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS),
  def("tc", P.SCHED_CLS, undefined),
  def("classifier", P.SCHED_CLS, undefined),
  def("action", P.SCHED_ACT, undefined),
  def("netkit/primary", P.SCHED_CLS, A.NETKIT_PRIMARY),
  def("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER),
  def("tracepoint+", P.TRACEPOINT, undefined),
  def("tp+", P.TRACEPOINT, undefined),
  def("raw_tracepoint+", P.RAW_TRACEPOINT, undefined),
  def("raw_tp+", P.RAW_TRACEPOINT, undefined),
  def("raw_tracepoint.w+", P.RAW_TRACEPOINT_WRITABLE, undefined),
  def("raw_tp.w+", P.RAW_TRACEPOINT_WRITABLE, undefined),
  def("tp_btf+", P.TRACING, A.TRACE_RAW_TP, B),
  def("fentry+", P.TRACING, A.TRACE_FENTRY, B),
  def("fmod_ret+", P.TRACING, A.MODIFY_RETURN, B),
  def("fexit+", P.TRACING, A.TRACE_FEXIT, B),
  def("fentry.s+", P.TRACING, A.TRACE_FENTRY, B | S),
  def("fmod_ret.s+", P.TRACING, A.MODIFY_RETURN, B | S),
  def("fexit.s+", P.TRACING, A.TRACE_FEXIT, B | S),
  def("freplace+", P.EXT, undefined, B),
  def("lsm+", P.LSM, A.LSM_MAC, B),
  def("lsm.s+", P.LSM, A.LSM_MAC, B | S),
  def("lsm_cgroup+", P.LSM, A.LSM_CGROUP, B),
  def("iter+", P.TRACING, A.TRACE_ITER, B),
  def("iter.s+", P.TRACING, A.TRACE_ITER, B | S),
  def("syscall", P.SYSCALL, undefined, S),
  def("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, F),
  def("xdp/devmap", P.XDP, A.XDP_DEVMAP),
  def("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, F),
  def("xdp/cpumap", P.XDP, A.XDP_CPUMAP),
  def("xdp.frags", P.XDP, A.XDP, F),
  def("xdp", P.XDP, A.XDP),
  def("perf_event", P.PERF_EVENT, undefined),
  def("lwt_in", P.LWT_IN, undefined),
  def("lwt_out", P.LWT_OUT, undefined),
  def("lwt_xmit", P.LWT_XMIT, undefined),
  def("lwt_seg6local", P.LWT_SEG6LOCAL, undefined),
  def("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS),
  def("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER),
  def("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT),
  def("sk_skb", P.SK_SKB, undefined),
  def("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT),
  def("lirc_mode2", P.LIRC_MODE2, A.LIRC_MODE2),
  def("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR),
  def("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS),
  def("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS),
  def("cgroup/skb", P.CGROUP_SKB, undefined),
  def("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
  def("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE),
  def("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
  def("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND),
  def("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND),
  def("cgroup/bind4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND),
  def("cgroup/bind6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND),
  def("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT),
  def("cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT),
  def("cgroup/connect_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT),
  def("cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG),
  def("cgroup/sendmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG),
  def("cgroup/sendmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG),
  def("cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG),
  def("cgroup/recvmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG),
  def("cgroup/recvmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG),
  def("cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME),
  def("cgroup/getpeername6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME),
  def("cgroup/getpeername_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME),
  def("cgroup/getsockname4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME),
  def("cgroup/getsockname6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME),
  def("cgroup/getsockname_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME),
  def("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL),
  def("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT),
  def("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT),
  def("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE),
  def("struct_ops+", P.STRUCT_OPS, undefined),
  def("struct_ops.s+", P.STRUCT_OPS, undefined, S),
  def("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP),
  def("netfilter", P.NETFILTER, A.NETFILTER),
];

export interface SectionMatch {
  def: SectionDef;
  /** What follows the prefix ("do_unlinkat" for "kprobe/do_unlinkat"); undefined for exact matches. */
  attachTarget: string | undefined;
}

/**
 * A leading `?` (`SEC("?tc")`) turns autoload off, as in libbpf: the program is loaded only when asked for.
 * The rest of the name is the section as libbpf keeps it.
 */
export function stripAutoloadMark(section: string): { section: string; autoload: boolean } {
  return section.startsWith("?")
    ? { section: section.slice(1), autoload: false }
    : { section, autoload: true };
}

/** libbpf's find_sec_def + the attach target (a leading `?` is ignored). Undefined when no entry matches. */
export function matchSection(name: string): SectionMatch | undefined {
  const section = stripAutoloadMark(name).section;
  for (const d of SECTION_DEFS) {
    const p = d.pattern;
    if (p.endsWith("/")) {
      if (section.startsWith(p)) return { def: d, attachTarget: section.slice(p.length) || undefined };
    } else if (p.endsWith("+")) {
      const prefix = p.slice(0, -1);
      if (section === prefix) return { def: d, attachTarget: undefined };
      if (section.startsWith(`${prefix}/`))
        return { def: d, attachTarget: section.slice(prefix.length + 1) || undefined };
    } else if (section === p) return { def: d, attachTarget: undefined };
  }
  return undefined;
}

/** A pattern's prefix: "kprobe" for "kprobe+", "xdp/devmap" for "xdp/devmap". */
export function sectionPrefix(d: SectionDef): string {
  return d.pattern.replace(/\+$/, "");
}

/** The prefixes attach() attaches, for "attachable prefixes: …" in error messages. */
export function attachablePrefixes(): string[] {
  return SECTION_DEFS.filter((d) => d.attach !== "none" && d.attach !== "unsupported").map(sectionPrefix);
}

/**
 * The kernel BTF name of a BTF-attached program's target (libbpf's find_attach_btf_id naming): tp_btf's
 * `btf_trace_<tp>` TYPEDEF, LSM hooks' `bpf_lsm_<hook>`, iterators' `bpf_iter_<name>`, else the FUNC itself.
 */
export function attachBtfName(
  attachType: number | undefined,
  target: string,
): { name: string; kind: "FUNC" | "TYPEDEF" } {
  if (attachType === A.TRACE_RAW_TP) return { name: `btf_trace_${target}`, kind: "TYPEDEF" };
  if (attachType === A.LSM_MAC || attachType === A.LSM_CGROUP)
    return { name: `bpf_lsm_${target}`, kind: "FUNC" };
  if (attachType === A.TRACE_ITER) return { name: `bpf_iter_${target}`, kind: "FUNC" };
  return { name: target, kind: "FUNC" };
}

/** The distinct prefixes, for "known prefixes: …" in error messages. */
export function knownSectionPrefixes(): string[] {
  return [...new Set(SECTION_DEFS.map((d) => d.pattern.replace(/\+$/, "")))];
}
