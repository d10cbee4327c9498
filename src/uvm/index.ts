/** kfunc-kit/uvm: a userspace eBPF runtime in which kfuncs are TypeScript functions (docs/uvm.md). */
export { CODE_BASE, type Code, decodeCode } from "./code.ts";
export { DEFAULT_BUDGET, type Engine, type Env, type NativeFn } from "./engine.ts";
export { type FaultKind, HelperFault, UvmFault } from "./fault.ts";
export { formatPrintk, type HostInfo, tracePipeLine } from "./helpers.ts";
export { hostVmlinuxBtf, loadModule, sourceParamNames } from "./host.ts";
export { Interpreter } from "./interp.ts";
export { compile, generate } from "./jit.ts";
export { bindKfunc, type KfuncArg, type KfuncFn } from "./kfuncs.ts";
export { ArrayMap, HashMap, PerfEventMap, ProgArrayMap, RingBufMap, UvmMap } from "./maps.ts";
export { BASE, Memory, PERM_READ, PERM_RW, PERM_WRITE, type Region } from "./memory.ts";
export { loadUvm, type RunInput, type RunResult, UvmObject, type UvmOptions, UvmProgram } from "./object.ts";
export {
  type BigHelper,
  type EngineKind,
  MAX_FRAMES,
  RawVm,
  type RawVmOptions,
  STACK_SIZE,
  unwindHelper,
  wrapBigHelper,
} from "./raw.ts";
