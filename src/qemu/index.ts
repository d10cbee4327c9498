export { DEFAULT_KERNEL, prepareKernel } from "./kernel.ts";
export type { KernelVersion, PreparedKernel, PrepareKernelOptions } from "./types.ts";
export { bzImageRelease, elfRelease, extractVmlinux } from "./vmlinux.ts";
