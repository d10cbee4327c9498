/** Booting a kernel in QEMU; the kernels themselves come from src/kernels (re-exported here for convenience). */
export * from "../kernels/index.ts";
export type { Accel } from "./qemu.ts";
export { runInVm } from "./run.ts";
export type { VmRunOptions, VmRunResult, VmTimings } from "./vm-types.ts";
export { VmError } from "./vm-types.ts";
