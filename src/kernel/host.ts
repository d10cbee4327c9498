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

export const KALLSYMS_PATH = "/proc/kallsyms";

export interface Kallsym {
  name: string;
  /** nm-style type letter: T/t text, D/d data, … */
  type: string;
  /** Hex address as printed (all zeros when kptr_restrict hides addresses). */
  address: string;
  /** The module for module symbols (`[name]` in the file), else undefined. */
  module: string | undefined;
}

/** The text of /proc/kallsyms, or undefined when it cannot be read. */
export function kallsymsText(path = KALLSYMS_PATH): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The one /proc/kallsyms parser: `<address> <type> <name>[\t[<module>]]` per line. */
export function* parseKallsyms(text: string): Generator<Kallsym> {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const a = text.indexOf(" ", start);
    const b = a < 0 || a >= end ? -1 : text.indexOf(" ", a + 1);
    if (b >= 0 && b < end) {
      // the rest of the line only: an indexOf over the whole text would be quadratic
      const rest = text.slice(b + 1, end);
      const tab = rest.indexOf("\t");
      yield {
        name: tab < 0 ? rest : rest.slice(0, tab),
        type: text.slice(a + 1, b),
        address: text.slice(start, a),
        module: tab < 0 ? undefined : /\[([^\]]+)\]/.exec(rest.slice(tab))?.[1],
      };
    }
    start = end + 1;
  }
}
