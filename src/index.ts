/**
 * kfunc-kit's public API. Each layer is also its own entry point (`kfunc-kit/btf`, `kfunc-kit/kernel`, …);
 * here they are namespaces, with the error types and the logging hook at the top level.
 */
export * as asm from "./asm/index.ts";
export * as btf from "./btf/index.ts";
export * as compile from "./compile/index.ts";
/** @deprecated the old name of `compile`. */
export * as build from "./compile/index.ts";
export * as elf from "./elf/index.ts";
export * from "./errors.ts";
export * as kernel from "./kernel/index.ts";
export { type ExitHandlerOptions, installExitHandlers } from "./kernel/registry.ts";
export * as kernels from "./kernels/index.ts";
export { type Logger, type LogLevel, setLogger } from "./log.ts";
export * as module from "./module/index.ts";
export * as object from "./object/index.ts";
export { type Progress, silentProgress } from "./progress.ts";
export * as qemu from "./qemu/index.ts";
export * as testing from "./testing/index.ts";
