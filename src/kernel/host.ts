/**
 * Facts about the running kernel, each read in one place: where its vmlinux BTF is, its release, its
 * config (/proc/config.gz or /boot/config-<release>) and whether it can load modules.
 */
import { existsSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { gunzipSync } from "node:zlib";

/** The running kernel's vmlinux BTF (CONFIG_DEBUG_INFO_BTF). */
export const VMLINUX_BTF_PATH = "/sys/kernel/btf/vmlinux";

/** `uname -r`. */
export function hostRelease(): string {
  return release();
}

/** The running kernel's config text and where it came from; undefined when the kernel exposes none. */
export function hostKernelConfig(rel = hostRelease()): { text: string; source: string } | undefined {
  try {
    return { text: gunzipSync(readFileSync("/proc/config.gz")).toString("utf8"), source: "/proc/config.gz" };
  } catch {}
  const boot = `/boot/config-${rel}`;
  try {
    return { text: readFileSync(boot, "utf8"), source: boot };
  } catch {}
  return undefined;
}

/** Whether the running kernel can load modules, with the evidence. */
export function hostCanLoadModules(): { ok: boolean; why: string } {
  if (!existsSync("/proc/modules"))
    return { ok: false, why: "no /proc/modules: the host kernel is built without CONFIG_MODULES" };
  const config = hostKernelConfig();
  if (config && !/^CONFIG_MODULES=y$/m.test(config.text))
    return { ok: false, why: `CONFIG_MODULES is not set in ${config.source}` };
  return { ok: true, why: "/proc/modules exists" };
}
