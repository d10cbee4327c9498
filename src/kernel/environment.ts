/**
 * What the loader asks about the kernel it loads into, besides the syscalls (src/sys/backend.ts): its BTF,
 * which features it has, kallsyms, its release and version code, and this process's privileges.
 * `hostEnvironment` answers for the running kernel (the default); `loadCollection(spec, { env })` takes
 * another (a test's fake kernel, later a userspace runtime).
 */
import { release } from "node:os";
import type { Btf } from "../btf/index.ts";
import type { BtfFeatureSet } from "../link/btf-sanitize.ts";
import { possibleCpus } from "../sys/cpus.ts";
import {
  effectiveCapabilities,
  missingBpfCapabilities,
  type PermissionEvidence,
  permissionEvidence,
} from "./capabilities.ts";
import { btfFeatures, type Feature, supports } from "./features.ts";
import { loadModuleBtfs, type ModuleBtfSet, vmlinuxBtf } from "./kernel-btf.ts";
import {
  type KconfigEnvironment,
  type KernelConfig,
  kallsymsAddresses,
  kernelVersionCode,
  runningKconfig,
} from "./ksyms.ts";

export interface Environment extends KconfigEnvironment {
  /** A name for messages ("host", "fake"). */
  readonly name: string;
  /** The kernel's vmlinux BTF (LoadOptions.kernelBtf overrides it). */
  vmlinuxBtf(): Btf;
  /** The loaded modules' BTF, split on `vmlinux`, with owned fds (a LoadSession's set wins over this). */
  moduleBtfs(vmlinux: Btf): ModuleBtfSet;
  /** Whether the kernel has a feature (the probes of src/kernel/features.ts on the host). */
  supports(feature: Feature): boolean;
  /** The BTF kinds the kernel accepts (LoadOptions.btfFeatures overrides it). */
  btfFeatures(): BtfFeatureSet;
  /** Addresses of these kernel symbols (kallsyms); absent names are left out. */
  kallsymsAddresses(names: Set<string>): Map<string, bigint>;
  /** LINUX_VERSION_CODE of the kernel (for kern_version and LINUX_KERNEL_VERSION). */
  kernelVersionCode(): number;
  /** The kernel release (uname -r), for messages. */
  release(): string;
  /** True when this process lacks CAP_BPF: BPF_BTF_LOAD is refused and the object's BTF is optional. */
  unprivileged(): boolean;
  /** What the process's capabilities and sysctls say, for EPERM hints. */
  permissionEvidence(): PermissionEvidence;
  /** Possible CPUs (PERF_EVENT_ARRAY's default size). */
  possibleCpus(): number;
  /** The kernel's config, for `.kconfig` externs (null when there is none). */
  kernelConfig(): KernelConfig | null;
}

/** The running kernel. */
export const hostEnvironment: Environment = {
  name: "host",
  vmlinuxBtf: () => vmlinuxBtf(),
  moduleBtfs: (vmlinux) => loadModuleBtfs(vmlinux),
  supports,
  btfFeatures,
  kallsymsAddresses,
  kernelVersionCode: () => kernelVersionCode(),
  release: () => release(),
  unprivileged: () => missingBpfCapabilities(effectiveCapabilities())?.includes("CAP_BPF") ?? false,
  permissionEvidence,
  possibleCpus,
  kernelConfig: () => runningKconfig(),
};
