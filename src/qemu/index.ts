export { DEFAULT_KERNEL, prepareKernel } from "./kernel.ts";
export type { Accel } from "./qemu.ts";
export { runInVm } from "./run.ts";
export type { KernelVersion, PreparedKernel, PrepareKernelOptions } from "./types.ts";
export type { VmRunOptions, VmRunResult, VmTimings } from "./vm-types.ts";
export { VmError } from "./vm-types.ts";
export { bzImageRelease, elfRelease, extractVmlinux } from "./vmlinux.ts";
