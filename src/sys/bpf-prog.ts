/** BPF_PROG_LOAD with verifier-log handling and BPF_PROG_TEST_RUN attr encoding. */
import { SyscallError } from "../errors.ts";
import { Attr, cString } from "./attr.ts";
import { BPF_CMD, bpfRaw } from "./bpf.ts";
import { BPF_OBJ_NAME_LEN } from "./constants.ts";
import { ERRNO, errnoName } from "./errno.ts";
import { Fd } from "./fd.ts";

export interface ProgLoadAttr {
  type: number;
  /** 8-byte instructions. */
  insns: Uint8Array;
  license: string;
  name?: string;
  expectedAttachType?: number;
  attachBtfId?: number;
  /** Module BTF fd the attach_btf_id belongs to (0: vmlinux). */
  attachBtfObjFd?: number;
  /** attach_prog_fd (freplace / tracing programs targeting a BPF program). */
  attachProgFd?: number;
  flags?: number;
  kernVersion?: number;
  btfFd?: number;
  funcInfo?: Uint8Array;
  funcInfoRecSize?: number;
  lineInfo?: Uint8Array;
  lineInfoRecSize?: number;
  /** fd_array as a little-endian s32 array (slot 0 unused for kfunc module BTFs). */
  fdArray?: Int32Array;
}

export interface ProgLoadOptions {
  /** Verifier log level for the retry after a failure (default 1); 2 = verbose. */
  logLevel?: number;
  /** Always load with a log (e.g. to get verifier stats); default: only on failure. */
  alwaysLog?: boolean;
  /** Initial log buffer size (default 64 KiB); doubled on ENOSPC up to `maxLogSize`. */
  logSize?: number;
  /** Log size cap (default 16 MiB). */
  maxLogSize?: number;
  /** EAGAIN retries (default 5). */
  eagainRetries?: number;
}

/** A rejected load: errno plus the verifier log ("" when the kernel wrote none). */
export class ProgLoadFailure extends SyscallError {
  constructor(
    readonly verifierLog: string,
    errno: number,
    readonly logTruncated: boolean,
  ) {
    super("BPF_PROG_LOAD", errno, errnoName(errno));
  }
}

function encode(a: ProgLoadAttr, license: Uint8Array): Attr {
  // 144 bytes reach log_true_size (Linux >= 6.4); older kernels accept the zero tail.
  const attr = new Attr(144);
  attr
    .u32(0, a.type)
    .u32(4, a.insns.byteLength / 8)
    .ptr(8, a.insns)
    .ptr(16, license);
  attr.u32(40, a.kernVersion ?? 0).u32(44, a.flags ?? 0);
  if (a.name) attr.str(48, BPF_OBJ_NAME_LEN, a.name);
  attr.u32(68, a.expectedAttachType ?? 0).u32(72, a.btfFd ?? 0);
  if (a.btfFd && a.funcInfo && a.funcInfo.byteLength > 0) {
    const rec = a.funcInfoRecSize ?? 8;
    attr
      .u32(76, rec)
      .ptr(80, a.funcInfo)
      .u32(88, a.funcInfo.byteLength / rec);
  }
  if (a.btfFd && a.lineInfo && a.lineInfo.byteLength > 0) {
    const rec = a.lineInfoRecSize ?? 16;
    attr
      .u32(92, rec)
      .ptr(96, a.lineInfo)
      .u32(104, a.lineInfo.byteLength / rec);
  }
  attr.u32(108, a.attachBtfId ?? 0).u32(112, a.attachBtfObjFd ?? a.attachProgFd ?? 0);
  if (a.fdArray) {
    attr.ptr(120, new Uint8Array(a.fdArray.buffer, a.fdArray.byteOffset, a.fdArray.byteLength));
  }
  return attr;
}

function setLog(attr: Attr, level: number, buf: Uint8Array | null): void {
  attr
    .u32(24, buf ? level : 0)
    .u32(28, buf ? buf.byteLength : 0)
    .ptr(32, buf);
}

function loadOnce(attr: Attr, retries: number): number {
  let r = bpfRaw(BPF_CMD.PROG_LOAD, attr.bytes);
  for (let i = 0; r === -ERRNO.EAGAIN && i < retries; i++) r = bpfRaw(BPF_CMD.PROG_LOAD, attr.bytes);
  return r;
}

function logText(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}

/**
 * BPF_PROG_LOAD → an owned fd. Loads without a log first (no verifier-log cost on success); on failure,
 * reloads with a log that grows on ENOSPC up to the cap and throws {@link ProgLoadFailure} with it.
 */
export function progLoad(a: ProgLoadAttr, options: ProgLoadOptions = {}): { fd: Fd; log: string } {
  const license = cString(a.license);
  const attr = encode(a, license);
  const retries = options.eagainRetries ?? 5;
  const level = options.logLevel ?? 1;
  const maxLog = options.maxLogSize ?? 16 << 20;
  const what = `program '${a.name ?? ""}'`;
  if (!options.alwaysLog) {
    setLog(attr, 0, null);
    const r = loadOnce(attr, retries);
    if (r >= 0) return { fd: new Fd(r, what), log: "" };
  }
  let size = options.logSize ?? 64 << 10;
  for (;;) {
    const buf = new Uint8Array(size);
    setLog(attr, level, buf);
    const r = loadOnce(attr, retries);
    if (r >= 0) return { fd: new Fd(r, what), log: logText(buf) };
    const errno = -r;
    if (errno === ERRNO.ENOSPC && size < maxLog) {
      // log_true_size (Linux >= 6.4) says how much was needed.
      const need = attr.bytes.byteLength >= 144 ? attr.getU32(140) : 0;
      size = Math.min(maxLog, Math.max(size * 4, need + 1));
      continue;
    }
    throw new ProgLoadFailure(logText(buf), errno, errno === ERRNO.ENOSPC);
  }
}

export interface TestRunAttr {
  progFd: number;
  dataIn?: Uint8Array | undefined;
  dataOut?: Uint8Array | undefined;
  ctxIn?: Uint8Array | undefined;
  ctxOut?: Uint8Array | undefined;
  repeat?: number | undefined;
  flags?: number | undefined;
  cpu?: number | undefined;
  batchSize?: number | undefined;
}

/**
 * Encodes a BPF_PROG_TEST_RUN attr (80 bytes). After `bpf(BPF_CMD.PROG_TEST_RUN, attr.bytes)`, read results
 * with {@link testRunResult}. The attr pins the buffers it points at.
 */
export function encodeTestRun(t: TestRunAttr): Attr {
  const a = new Attr(80).u32(0, t.progFd);
  if (t.dataIn) a.u32(8, t.dataIn.byteLength).ptr(16, t.dataIn);
  if (t.dataOut) a.u32(12, t.dataOut.byteLength).ptr(24, t.dataOut);
  a.u32(32, t.repeat ?? 0);
  if (t.ctxIn) a.u32(40, t.ctxIn.byteLength).ptr(48, t.ctxIn);
  if (t.ctxOut) a.u32(44, t.ctxOut.byteLength).ptr(56, t.ctxOut);
  a.u32(64, t.flags ?? 0)
    .u32(68, t.cpu ?? 0)
    .u32(72, t.batchSize ?? 0);
  return a;
}

export interface TestRunResult {
  retval: number;
  /** Average run time per repetition in ns (as the kernel reports it). */
  durationNs: number;
  dataSizeOut: number;
  ctxSizeOut: number;
}

export function testRunResult(a: Attr): TestRunResult {
  return {
    retval: a.getU32(4),
    durationNs: a.getU32(36),
    dataSizeOut: a.getU32(12),
    ctxSizeOut: a.getU32(44),
  };
}
