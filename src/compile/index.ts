export { type CompileBpfOptions, clangArgs, compileBpf, compileHint, KFUNC_KIT_INCLUDE } from "./clang.ts";
export { type BuildProgramOptions, type BuiltProgram, buildProgram, defaultOutput } from "./program.ts";
export { readKernelBtf, type VmlinuxHeader, vmlinuxHeader } from "./vmlinux-h.ts";
