/** BPF_PROG_LOAD with verifier-log handling and BPF_PROG_TEST_RUN attr encoding. */
import { SyscallError } from "../errors.ts";
import { Attr, cString, encodeRecords } from "./attr.ts";
import { BPF_CMD, bpf, bpfRaw } from "./bpf.ts";
import { ERRNO, errnoName } from "./errno.ts";
import { Fd } from "./fd.ts";
import { FUNC_INFO, LINE_INFO, PROG_LOAD_ATTR, TEST_RUN_ATTR } from "./uapi.generated.ts";

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

/** Encodes `struct bpf_func_info` records (the loader's func_info, on the generated layout). */
export function encodeFuncInfo(recs: ReadonlyArray<{ insnIndex: number; typeId: number }>): Uint8Array {
  return encodeRecords(FUNC_INFO, recs, { insn_off: (r) => r.insnIndex, type_id: (r) => r.typeId });
}

/** Encodes `struct bpf_line_info` records. */
export function encodeLineInfo(
  recs: ReadonlyArray<{ insnIndex: number; fileNameOff: number; lineOff: number; lineCol: number }>,
): Uint8Array {
  return encodeRecords(LINE_INFO, recs, {
    insn_off: (r) => r.insnIndex,
    file_name_off: (r) => r.fileNameOff,
    line_off: (r) => r.lineOff,
    line_col: (r) => r.lineCol,
  });
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

type ProgLoad = Attr<typeof PROG_LOAD_ATTR>;

function encode(a: ProgLoadAttr, license: Uint8Array): ProgLoad {
  // Up to log_true_size (Linux >= 6.4); older kernels accept the zero tail.
  const attr = Attr.upTo(PROG_LOAD_ATTR, "log_true_size");
  attr
    .set("prog_type", a.type)
    .set("insn_cnt", a.insns.byteLength / 8)
    .ptr("insns", a.insns)
    .ptr("license", license);
  attr.set("kern_version", a.kernVersion ?? 0).set("prog_flags", a.flags ?? 0);
  if (a.name) attr.str("prog_name", a.name);
  attr.set("expected_attach_type", a.expectedAttachType ?? 0).set("prog_btf_fd", a.btfFd ?? 0);
  if (a.btfFd) {
    setInfoRecords(attr, "func_info", a.funcInfo, a.funcInfoRecSize ?? FUNC_INFO.size);
    setInfoRecords(attr, "line_info", a.lineInfo, a.lineInfoRecSize ?? LINE_INFO.size);
  }
  // attach_prog_fd and attach_btf_obj_fd share their slot
  attr
    .set("attach_btf_id", a.attachBtfId ?? 0)
    .set("attach_btf_obj_fd", a.attachBtfObjFd ?? a.attachProgFd ?? 0);
  if (a.fdArray) {
    attr.ptr("fd_array", new Uint8Array(a.fdArray.buffer, a.fdArray.byteOffset, a.fdArray.byteLength));
  }
  return attr;
}

/** The func_info or line_info records of a load with BTF: pointer, record size and count (none when empty). */
function setInfoRecords(
  attr: ProgLoad,
  field: "func_info" | "line_info",
  records: Uint8Array | undefined,
  recSize: number,
): void {
  if (!records || records.byteLength === 0) return;
  attr
    .set(`${field}_rec_size`, recSize)
    .ptr(field, records)
    .set(`${field}_cnt`, records.byteLength / recSize);
}

function setLog(attr: ProgLoad, level: number, buf: Uint8Array | null): void {
  attr
    .set("log_level", buf ? level : 0)
    .set("log_size", buf ? buf.byteLength : 0)
    .ptr("log_buf", buf);
}

function loadOnce(attr: ProgLoad, retries: number): number {
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
      const need = attr.u32("log_true_size");
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
export function encodeTestRun(t: TestRunAttr): TestRun {
  const a = Attr.upTo(TEST_RUN_ATTR, "batch_size").set("prog_fd", t.progFd);
  if (t.dataIn) a.set("data_size_in", t.dataIn.byteLength).ptr("data_in", t.dataIn);
  if (t.dataOut) a.set("data_size_out", t.dataOut.byteLength).ptr("data_out", t.dataOut);
  a.set("repeat", t.repeat ?? 0);
  if (t.ctxIn) a.set("ctx_size_in", t.ctxIn.byteLength).ptr("ctx_in", t.ctxIn);
  if (t.ctxOut) a.set("ctx_size_out", t.ctxOut.byteLength).ptr("ctx_out", t.ctxOut);
  a.set("flags", t.flags ?? 0)
    .set("cpu", t.cpu ?? 0)
    .set("batch_size", t.batchSize ?? 0);
  return a;
}

/** An encoded BPF_PROG_TEST_RUN attr. */
export type TestRun = Attr<typeof TEST_RUN_ATTR>;

export interface TestRunResult {
  retval: number;
  /** Average run time per repetition in ns (as the kernel reports it). */
  durationNs: number;
  dataSizeOut: number;
  ctxSizeOut: number;
}

/** BPF_PROG_TEST_RUN: encodes, runs (throwing SyscallError) and reads the results back. */
export function progTestRun(t: TestRunAttr): TestRunResult {
  const attr = encodeTestRun(t);
  bpf(BPF_CMD.PROG_TEST_RUN, attr.bytes);
  return testRunResult(attr);
}

export function testRunResult(a: TestRun): TestRunResult {
  return {
    retval: a.u32("retval"),
    durationNs: a.u32("duration"),
    dataSizeOut: a.u32("data_size_out"),
    ctxSizeOut: a.u32("ctx_size_out"),
  };
}
