/**
 * BPF_PROG_TEST_RUN: runs a loaded program once (or `repeat` times) on given input without attaching it.
 * What the kernel accepts depends on the program type: XDP, TC (sched_cls/act), socket filters and other
 * skb programs take packet data (`dataIn`, at least an Ethernet header) and optionally a context; raw_tp
 * and syscall programs take only a context (`ctxIn`), no repeat, and a syscall program's context is
 * copied back (returned as `ctxOut`).
 */
import { type KfuncKitError, NotSupportedError, SyscallError, UsageError } from "../errors.ts";
import { progTestRun, type TestRunResult as RawTestRunResult } from "../sys/bpf-prog.ts";
import { BPF_ATTACH_TYPE, BPF_F_TEST_RUN, BPF_PROG_TYPE } from "../sys/constants.ts";

export interface TestRunProgram {
  readonly name: string;
  readonly fd: number | { readonly value: number };
  /** BPF_PROG_TYPE_*. */
  readonly type: number;
  /** BPF_* attach type (tells fentry, which can be test-run, from tp_btf, which cannot). */
  readonly expectedAttachType?: number;
}

export interface TestRunOptions {
  dataIn?: Uint8Array;
  ctxIn?: Uint8Array;
  /** Run this many times (duration is the average); not allowed for raw_tp and syscall programs. */
  repeat?: number;
  /** Room for the output packet (default: input size + 256, XDP may grow the packet). */
  dataSizeOut?: number;
  /** Room for the output context (default: the size of ctxIn). */
  ctxSizeOut?: number;
  /** BPF_F_TEST_RUN.ON_CPU with this CPU (raw_tp only). */
  cpu?: number;
}

export interface TestRunResult {
  /** The program's return value (r0, as u32). */
  retval: number;
  /** Average ns per run as the kernel measured it (0 for types the kernel does not time). */
  durationNs: number;
  /** The packet after the run (types with packet data). */
  dataOut: Uint8Array | undefined;
  /** The context after the run (syscall: the context the program may have written). */
  ctxOut: Uint8Array | undefined;
}

const T = BPF_PROG_TYPE;
const CTX_ONLY = new Set<number>([T.RAW_TRACEPOINT, T.SYSCALL, T.TRACING]);

/** Program types with a test_run in the kernel (net/bpf/test_run.c, kernel/bpf/syscall.c). */
const TEST_RUNNABLE = new Set<number>([
  T.SOCKET_FILTER,
  T.SCHED_CLS,
  T.SCHED_ACT,
  T.XDP,
  T.CGROUP_SKB,
  T.LWT_IN,
  T.LWT_OUT,
  T.LWT_XMIT,
  T.RAW_TRACEPOINT,
  T.LWT_SEG6LOCAL,
  T.FLOW_DISSECTOR,
  T.TRACING,
  T.STRUCT_OPS,
  T.SK_LOOKUP,
  T.SYSCALL,
  T.NETFILTER,
]);
/** BPF_PROG_TYPE_TRACING test-runs only fentry, fexit and fmod_ret. */
const TRACING_RUNNABLE = new Set<number>([
  BPF_ATTACH_TYPE.TRACE_FENTRY,
  BPF_ATTACH_TYPE.TRACE_FEXIT,
  BPF_ATTACH_TYPE.MODIFY_RETURN,
]);
const TYPE_NAMES: Record<number, string> = {
  [T.KPROBE]: "kprobe",
  [T.TRACEPOINT]: "tracepoint",
  [T.PERF_EVENT]: "perf_event",
  [T.CGROUP_SOCK]: "cgroup_sock",
  [T.SOCK_OPS]: "sock_ops",
  [T.SK_SKB]: "sk_skb",
  [T.CGROUP_DEVICE]: "cgroup_device",
  [T.SK_MSG]: "sk_msg",
  [T.CGROUP_SOCK_ADDR]: "cgroup_sock_addr",
  [T.LIRC_MODE2]: "lirc_mode2",
  [T.CGROUP_SYSCTL]: "cgroup_sysctl",
  [T.CGROUP_SOCKOPT]: "cgroup_sockopt",
  [T.EXT]: "ext (freplace)",
  [T.LSM]: "lsm",
};

/** sizeof(struct xdp_md): the context of an XDP test run. */
export const XDP_MD_SIZE = 24;
/** A syscall program's context is at most U16_MAX bytes (bpf_prog_test_run_syscall). */
export const SYSCALL_CTX_MAX = 65535;
/** Packet data of skb programs must fit one page with the kernel's headroom and skb_shared_info. */
/** sizeof(struct __sk_buff) (6.1 … 6.18): the context of skb test runs. */
const SK_BUFF_SIZE = 192;
export const SKB_DATA_MAX = 4096 - 64 - 320;

/**
 * Why the kernel cannot test-run this program, or undefined when it can. Checked before the syscall:
 * the kernel's own answer for these is a bare EFAULT, ENOTSUPP or EINVAL.
 */
export function testRunUnsupported(type: number, expectedAttachType?: number): string | undefined {
  if (type === T.TRACING && expectedAttachType !== undefined && !TRACING_RUNNABLE.has(expectedAttachType))
    return expectedAttachType === 23
      ? "tp_btf programs cannot be test-run (the kernel test-runs only fentry/fexit/fmod_ret of the tracing type)"
      : "this tracing program (iter or another attach type) cannot be test-run; only fentry/fexit/fmod_ret can";
  if (!TEST_RUNNABLE.has(type))
    return `${TYPE_NAMES[type] ?? `program type ${type}`} programs cannot be test-run (the kernel has no BPF_PROG_TEST_RUN for them)`;
  return undefined;
}

/** Input sizes the kernel refuses, checked before the syscall so the message can say what it needs. */
function checkSizes(program: TestRunProgram, o: TestRunOptions): void {
  const name = program.name;
  const ctx = o.ctxIn?.byteLength;
  if (program.type === T.XDP && ctx !== undefined && ctx !== XDP_MD_SIZE)
    throw new UsageError(
      `test-run '${name}': an XDP context is a struct xdp_md of ${XDP_MD_SIZE} bytes; ctxIn has ${ctx}`,
      {
        hint: `pass ${XDP_MD_SIZE} bytes (data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex), or no context`,
      },
    );
  if (program.type === T.SYSCALL && ctx !== undefined && ctx > SYSCALL_CTX_MAX)
    throw new UsageError(
      `test-run '${name}': a syscall program's context is at most ${SYSCALL_CTX_MAX} bytes; ctxIn has ${ctx}`,
      { hint: "pass the program's argument struct, no more" },
    );
  const data = o.dataIn?.byteLength;
  if (
    data !== undefined &&
    data > SKB_DATA_MAX &&
    (program.type === T.SCHED_CLS || program.type === T.SCHED_ACT || program.type === T.SOCKET_FILTER)
  )
    throw new UsageError(
      `test-run '${name}': packet data of ${data} bytes is more than an skb test run takes (${SKB_DATA_MAX} bytes: one page minus headroom)`,
      { hint: `pass at most ${SKB_DATA_MAX} bytes` },
    );
}

/** A fresh off-heap copy (pointer fields need memory that does not move). */
function pinned(src: Uint8Array | undefined, size = src?.byteLength ?? 0): Uint8Array {
  const b = new Uint8Array(new ArrayBuffer(Math.max(size, 1)), 0, size);
  if (src) b.set(src.subarray(0, size));
  return b;
}

export function testRun(program: TestRunProgram, options: TestRunOptions = {}): TestRunResult {
  const fd = typeof program.fd === "number" ? program.fd : program.fd.value;
  const unsupported = testRunUnsupported(program.type, program.expectedAttachType);
  if (unsupported)
    throw new NotSupportedError(
      `BPF_PROG_TEST_RUN for program type ${program.type}`,
      undefined,
      `test-run '${program.name}': ${unsupported}`,
      {
        hint: `attach it instead: kfunc run <obj.o> --program ${program.name}`,
      },
    );
  if (
    options.repeat !== undefined &&
    (!Number.isInteger(options.repeat) || options.repeat < 0 || options.repeat > 2 ** 32 - 1)
  )
    throw new UsageError(
      `test-run '${program.name}': repeat ${options.repeat} does not fit the kernel's u32 repeat count`,
      {
        hint: `use 1 … ${2 ** 32 - 1}`,
      },
    );
  checkSizes(program, options);
  const ctxOnly = CTX_ONLY.has(program.type);
  if (ctxOnly && options.dataIn) {
    throw new UsageError(
      `test-run '${program.name}': this program type takes a context (ctxIn), not packet data`,
    );
  }
  if (ctxOnly && (options.repeat ?? 0) > 1) {
    throw new UsageError(`test-run '${program.name}': the kernel does not repeat raw_tp/syscall programs`, {
      hint: "drop --repeat (run it in a loop instead)",
    });
  }
  const dataIn = options.dataIn ? pinned(options.dataIn) : undefined;
  const dataOut = dataIn ? pinned(undefined, options.dataSizeOut ?? dataIn.byteLength + 256) : undefined;
  const ctxIn = options.ctxIn ? pinned(options.ctxIn) : undefined;
  // the kernel copies its whole context struct back and fails with ENOSPC when there is less room
  const ctxRoom =
    program.type === T.XDP
      ? XDP_MD_SIZE
      : program.type === T.SCHED_CLS || program.type === T.SCHED_ACT || program.type === T.SOCKET_FILTER
        ? SK_BUFF_SIZE
        : 0;
  const ctxOut =
    ctxIn && !ctxOnly
      ? pinned(undefined, options.ctxSizeOut ?? Math.max(ctxIn.byteLength, ctxRoom))
      : undefined;
  let r: RawTestRunResult;
  try {
    r = progTestRun({
      progFd: fd,
      dataIn,
      dataOut,
      ctxIn,
      ctxOut,
      repeat: ctxOnly ? 0 : (options.repeat ?? 1),
      flags: options.cpu !== undefined ? BPF_F_TEST_RUN.ON_CPU : 0,
      cpu: options.cpu ?? 0,
    });
  } catch (e) {
    throw explain(program, options, e);
  }
  return {
    retval: r.retval | 0,
    durationNs: r.durationNs,
    dataOut: dataOut ? dataOut.slice(0, Math.min(r.dataSizeOut, dataOut.byteLength)) : undefined,
    ctxOut: ctxOut
      ? ctxOut.slice(0, Math.min(r.ctxSizeOut, ctxOut.byteLength))
      : program.type === T.SYSCALL && ctxIn
        ? ctxIn.slice()
        : undefined,
  };
}

function explain(program: TestRunProgram, options: TestRunOptions, e: unknown): KfuncKitError {
  if (!(e instanceof SyscallError)) return SyscallError.wrap(`test-run '${program.name}' failed`, e);
  if (e.errno === 524 || e.errno === 95) {
    return new NotSupportedError(
      `BPF_PROG_TEST_RUN for program type ${program.type}`,
      undefined,
      `test-run '${program.name}': the kernel cannot test-run this program type (${e.errnoName})`,
      { cause: e, hint: "attach it instead: kfunc run <obj.o> --program " + program.name },
    );
  }
  let hint: string | undefined;
  if (e.errno === 22) {
    if (program.type === T.XDP || program.type === T.SCHED_CLS || program.type === T.SOCKET_FILTER)
      hint = options.dataIn
        ? "packet data must be at least 14 bytes (an Ethernet header)"
        : "give packet data (--data-in)";
    else if (program.type === T.RAW_TRACEPOINT)
      hint = "a raw_tp test run needs a context (--ctx-in) of the tracepoint's args (u64 each)";
    else if (program.type === T.SYSCALL)
      hint = `a syscall program's context (--ctx-in) must hold everything the program reads (its argument struct) and at most ${SYSCALL_CTX_MAX} bytes; it has ${options.ctxIn?.byteLength ?? 0}`;
  }
  if (e.errno === 28)
    hint = `the output did not fit the room given (data ${options.dataSizeOut ?? "input + 256"} bytes, context ${options.ctxSizeOut ?? "its struct size"}): pass larger dataSizeOut / ctxSizeOut`;
  if (e.errno === 12 || e.errno === 7)
    hint = `packet data of ${options.dataIn?.byteLength ?? 0} bytes is more than the kernel takes for this program type (XDP: about 64 KiB with frags, one page without; skb programs: ${SKB_DATA_MAX} bytes)`;
  if (e.errno === 14)
    hint =
      testRunUnsupported(program.type, program.expectedAttachType) ??
      "the kernel could not read or write an input/output buffer (too small for what the program touches?)";
  if (e.errno === 4) hint = "a signal interrupted the repeated runs (a profiler's SIGPROF?); run it again";
  return SyscallError.wrap(`test-run '${program.name}' failed`, e, hint ? { hint } : {});
}
