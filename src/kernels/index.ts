export { defaultCacheDir } from "../host/cache.ts";
export { DEFAULT_KERNEL, prepareKernel } from "./kernel.ts";
export type { CachedKernel, KernelList } from "./kernels.ts";
export { listKernels } from "./kernels.ts";
export type { KernelVersion, PreparedKernel, PrepareKernelOptions } from "./types.ts";
export { bzImageRelease, elfRelease, extractVmlinux } from "./vmlinux.ts";
