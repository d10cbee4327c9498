export { type BtfGuarantee, ensureModuleBtf, paholeVersion } from "./btf-guarantee.ts";
export { type BuildModuleOptions, type BuiltModule, buildModule } from "./build.ts";
export { checkKernelModule, type KoCheckOptions, type KoCheckResult, type ModuleKfunc } from "./check.ts";
export { checkConfigForKernel, type GeneratedModule, generateModule } from "./codegen.ts";
export {
  CONFIG_FILE,
  GPL_LICENSES,
  hasConfig,
  type KfuncDecl,
  loadModuleConfig,
  type ModuleConfig,
  validateModuleConfig,
} from "./config.ts";
export { generateKfuncHeader, type HeaderBase, type KfuncHeaderOptions, moduleHeaderBase } from "./header.ts";
export { type Diagnostic, parseDiagnostics, runKbuild } from "./kbuild.ts";
export {
  flagNames,
  type KernelVersion,
  KF_FLAGS,
  type KfFlag,
  PROG_TYPES,
  type ProgType,
  parseRelease,
} from "./kernel-features.ts";
export { hostCanLoadModules, hostKernelConfig, type ModuleTarget, resolveTarget } from "./target.ts";
