/**
 * BPF_PROG_TEST_RUN: runs a loaded program once (or `repeat` times) on given input without attaching it.
 * What the kernel accepts depends on the program type: XDP, TC (sched_cls/act), socket filters and other
 * skb programs take packet data (`dataIn`, at least an Ethernet header) and optionally a context; raw_tp
 * and syscall programs take only a context (`ctxIn`), no repeat, and a syscall program's context is
 * copied back (returned as `ctxOut`).
 */
import { type KfuncKitError, NotSupportedError, SyscallError, UsageError } from "../errors.ts";
import { BPF_CMD, bpf } from "../sys/bpf.ts";
import { encodeTestRun, testRunResult } from "../sys/bpf-prog.ts";

export interface TestRunProgram {
  readonly name: string;
  readonly fd: number | { readonly value: number };
  /** BPF_PROG_TYPE_*. */
  readonly type: number;
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
  /** BPF_F_TEST_RUN_ON_CPU with this CPU (raw_tp only). */
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

const T = {
  SOCKET_FILTER: 1,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  XDP: 6,
  RAW_TRACEPOINT: 17,
  TRACING: 26,
  SYSCALL: 31,
};
const CTX_ONLY = new Set([T.RAW_TRACEPOINT, T.SYSCALL, T.TRACING]);
const BPF_F_TEST_RUN_ON_CPU = 1 << 0;

/** A fresh off-heap copy (pointer fields need memory that does not move). */
function pinned(src: Uint8Array | undefined, size = src?.byteLength ?? 0): Uint8Array {
  const b = new Uint8Array(new ArrayBuffer(Math.max(size, 1)), 0, size);
  if (src) b.set(src.subarray(0, size));
  return b;
}

export function testRun(program: TestRunProgram, options: TestRunOptions = {}): TestRunResult {
  const fd = typeof program.fd === "number" ? program.fd : program.fd.value;
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
  const ctxOut = ctxIn && !ctxOnly ? pinned(undefined, options.ctxSizeOut ?? ctxIn.byteLength) : undefined;
  const attr = encodeTestRun({
    progFd: fd,
    dataIn,
    dataOut,
    ctxIn,
    ctxOut,
    repeat: ctxOnly ? 0 : (options.repeat ?? 1),
    flags: options.cpu !== undefined ? BPF_F_TEST_RUN_ON_CPU : 0,
    cpu: options.cpu ?? 0,
  });
  try {
    bpf(BPF_CMD.PROG_TEST_RUN, attr.bytes);
  } catch (e) {
    throw explain(program, options, e);
  }
  const r = testRunResult(attr);
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
      hint = "syscall programs take only a context (--ctx-in), and must be sleepable";
  }
  if (e.errno === 28) hint = "the output did not fit: pass a larger dataSizeOut / ctxSizeOut";
  if (e.errno === 4) hint = "a signal interrupted the repeated runs (a profiler's SIGPROF?); run it again";
  return SyscallError.wrap(`test-run '${program.name}' failed`, e, hint ? { hint } : {});
}
