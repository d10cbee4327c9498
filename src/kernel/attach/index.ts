export { closeAll, type Link, type LinkInfo, type LinkKind, type LinkMechanism } from "../links.ts";
export {
  onlineCpuList,
  PerfBuffer,
  type PerfBufferMap,
  type PerfBufferOptions,
  type SampleCallback,
} from "../perf-buffer.ts";
export { type RecordCallback, RingBuffer, type RingBufferMap, type RingBufferOptions } from "../ringbuf.ts";
export { type TestRunOptions, type TestRunProgram, type TestRunResult, testRun } from "../test-run.ts";
export {
  clearTrace,
  parseTraceLine,
  readTraceBuffer,
  type TraceLine,
  type TracePipeOptions,
  tracePipe,
} from "../trace-pipe.ts";
export { type AttachOptions, attach } from "./attach.ts";
export { type AttachAllResult, attachAll, isAutoAttachable, notAttachableReason } from "./attach-all.ts";
export { attachIter, IterLink, type IterOptions } from "./iter.ts";
export { attachKprobe, attachKprobeMulti, type KprobeOptions, parseKprobeTarget } from "./kprobe.ts";
export {
  attachPerfEvent,
  DEFAULT_SAMPLE_FREQ,
  describePerfEvent,
  type PerfEventOptions,
} from "./perf-event.ts";
export { type AttachableProgram, programFd } from "./program.ts";
export { attachRawTracepoint, attachTpBtf, attachTrampoline } from "./raw-tp.ts";
export { parseUprobeTarget, resolveBinary, symbolFileOffset } from "./symbols.ts";
export { tracefsRoot, tracepointId } from "./tracefs.ts";
export { attachTracepoint } from "./tracepoint.ts";
export { attachUprobe, type UprobeOptions } from "./uprobe.ts";
export {
  attachUsdt,
  bumpSemaphore,
  parseUsdtTarget,
  type UsdtMaps,
  type UsdtOptions,
  type UsdtTarget,
} from "./usdt.ts";
export {
  loadBias,
  type ProcessMapping,
  processBinaries,
  processMappings,
  readUsdtBinary,
  resolveUsdtBinary,
  type UsdtBinary,
  type UsdtProbe,
} from "./usdt-probes.ts";
export {
  encodeUsdtSpec,
  LIBBPF_USDT_SPEC_LAYOUT,
  narrowUsdtValue,
  parseUsdtArgs,
  ptRegsOffset,
  resolveRipRelative,
  USDT_ARG,
  USDT_MAX_ARGS,
  type UsdtArg,
  UsdtArgError,
  type UsdtArgKind,
  type UsdtSpecLayout,
  usdtSpecLayoutFromBtf,
} from "./usdt-spec.ts";
