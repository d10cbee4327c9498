export { type AttachOptions, attach } from "./attach.ts";
export { attachIter, IterLink, type IterOptions } from "./iter.ts";
export { attachKprobe, attachKprobeMulti, type KprobeOptions, parseKprobeTarget } from "./kprobe.ts";
export { type AttachableProgram, programFd } from "./program.ts";
export { attachRawTracepoint, attachTpBtf, attachTrampoline } from "./raw-tp.ts";
export { parseUprobeTarget, resolveBinary, symbolFileOffset } from "./symbols.ts";
export { tracefsRoot, tracepointId } from "./tracefs.ts";
export { attachTracepoint } from "./tracepoint.ts";
export { attachUprobe, type UprobeOptions } from "./uprobe.ts";
