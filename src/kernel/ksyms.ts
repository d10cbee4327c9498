/** Untyped ksym addresses (/proc/kallsyms) and `.kconfig` values ($KFUNC_KIT_KCONFIG, /proc/config.gz, /boot/config-<release>). */
import { existsSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { gunzipSync } from "node:zlib";
import { EnvironmentError } from "../errors.ts";
import { parseKernelVersion, versionCode } from "../kernel-version.ts";
import type { ExternSpec } from "../object/types.ts";
import type { Feature } from "./features.ts";
import { KALLSYMS_PATH, parseKallsyms } from "./host.ts";

/** Addresses of the named symbols in /proc/kallsyms (0 when kptr_restrict hides them; none without the file). */
export function kallsymsAddresses(names: Set<string>): Map<string, bigint> {
  const out = new Map<string, bigint>();
  if (names.size === 0 || !existsSync(KALLSYMS_PATH)) return out;
  const text = readFileSync(KALLSYMS_PATH, "utf8");
  for (const s of parseKallsyms(text))
    if (names.has(s.name) && !out.has(s.name)) out.set(s.name, BigInt(`0x${s.address}`));
  return out;
}

/** LINUX_VERSION_CODE of a release string ("6.18.44-fc" → 6<<16 | 18<<8 | 44). */
export function kernelVersionCode(rel = release()): number {
  const v = parseKernelVersion(rel);
  return v ? versionCode(v) : 0;
}

/** The syscall-wrapper symbol prefix of this architecture (`__x64_sys_bpf` on x86-64), as libbpf's arch_specific_syscall_pfx. */
function syscallPrefix(): string | undefined {
  return (
    { x64: "__x64_", arm64: "__arm64_", s390x: "__s390x_", arm: "sys_", riscv64: "__riscv_" } as Record<
      string,
      string
    >
  )[process.arch];
}

/**
 * libbpf's probe-answered kconfig externs. LINUX_HAS_BPF_COOKIE: the kernel accepts bpf_get_attach_cookie.
 * LINUX_HAS_SYSCALL_WRAPPER: syscalls are entered through arch-prefixed wrappers (`__x64_sys_bpf` in
 * /proc/kallsyms); libbpf probes by creating a kprobe on it, which hosts without kprobes cannot, so the
 * symbol table answers here. Undefined for every other name.
 */
function probedKconfig(name: string, env: KconfigEnvironment): bigint | undefined {
  if (name === "LINUX_HAS_BPF_COOKIE") return env.supports("bpfCookie") ? 1n : 0n;
  if (name === "LINUX_HAS_SYSCALL_WRAPPER") {
    const pfx = syscallPrefix();
    if (!pfx) return 0n;
    return env.kallsymsAddresses(new Set([`${pfx}sys_bpf`])).size > 0 ? 1n : 0n;
  }
  return undefined;
}

/** What {@link fillKconfig} asks of the kernel (the loader's Environment, src/kernel/environment.ts). */
export interface KconfigEnvironment {
  kernelVersionCode(): number;
  supports(feature: Feature): boolean;
  kallsymsAddresses(names: Set<string>): Map<string, bigint>;
  /** The kernel's config; null when there is none. */
  kernelConfig(): KernelConfig | null;
}

/** Parses kernel config text: `CONFIG_X=y` → Map(CONFIG_X → "y"). */
export function parseKconfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** The env var that names the kernel config file to read (kfunc-kit's VM sets it to the guest kernel's own). */
export const KCONFIG_ENV = "KFUNC_KIT_KCONFIG";

/** Where the running kernel's config is looked for, in order. */
export function kconfigCandidates(rel = release()): string[] {
  const named = process.env[KCONFIG_ENV];
  return [...(named ? [named] : []), "/proc/config.gz", `/boot/config-${rel}`];
}

export interface KernelConfig {
  values: Map<string, string>;
  /** The file it was read from. */
  file: string;
}

let cachedConfig: { key: string; config: KernelConfig | null } | undefined;

/**
 * The running kernel's config: the file `$KFUNC_KIT_KCONFIG` names (set inside kfunc-kit's VM to the booted
 * Debian kernel's /boot/config-<release>), else /proc/config.gz, else /boot/config-<release>; gzip or plain
 * text. Null when none exists.
 */
export function runningKconfig(): KernelConfig | null {
  const candidates = kconfigCandidates();
  const key = candidates.join("\0");
  if (cachedConfig?.key === key) return cachedConfig.config;
  let config: KernelConfig | null = null;
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    const raw = readFileSync(file);
    const text = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw).toString("utf8") : raw.toString("utf8");
    config = { values: parseKconfig(text), file };
    break;
  }
  cachedConfig = { key, config };
  return config;
}

function writeInt(out: DataView, off: number, size: number, v: bigint): void {
  if (size === 1) out.setUint8(off, Number(BigInt.asUintN(8, v)));
  else if (size === 2) out.setUint16(off, Number(BigInt.asUintN(16, v)), true);
  else if (size === 4) out.setUint32(off, Number(BigInt.asUintN(32, v)), true);
  else if (size === 8) out.setBigUint64(off, BigInt.asUintN(64, v), true);
}

/**
 * Fills the `.kconfig` section bytes for the object's kconfig externs. LINUX_KERNEL_VERSION always works, and
 * LINUX_HAS_BPF_COOKIE / LINUX_HAS_SYSCALL_WRAPPER are answered by probing, as libbpf does;
 * other CONFIG_* come from the kernel config (y → 1, m → 2, n → 0, numbers, "strings" into char arrays).
 * A missing strong extern is an error; a missing weak one stays 0.
 */
export function fillKconfig(
  externs: ExternSpec[],
  bytes: Uint8Array,
  source: string,
  env: KconfigEnvironment,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const e of externs) {
    if (e.kind !== "kconfig") continue;
    if (e.name === "LINUX_KERNEL_VERSION") {
      writeInt(view, e.offset, e.size, BigInt(env.kernelVersionCode()));
      continue;
    }
    const probed = probedKconfig(e.name, env);
    if (probed !== undefined) {
      writeInt(view, e.offset, e.size, probed);
      continue;
    }
    const config = env.kernelConfig();
    const raw = config?.values.get(e.name);
    if (raw === undefined) {
      if (e.weak) continue;
      throw new EnvironmentError(
        config
          ? `${source}: extern (kconfig) '${e.name}': not set in the running kernel's config (${config.file})`
          : `${source}: extern (kconfig) '${e.name}': no kernel config to read it from (looked for ${kconfigCandidates().join(", ")})`,
        {
          hint: config
            ? "declare it __weak to default to 0 when the kernel does not have it"
            : `declare it __weak to default to 0, or name the kernel's config file in $${KCONFIG_ENV}`,
        },
      );
    }
    if (raw.startsWith('"')) {
      const s = new TextEncoder().encode(JSON.parse(raw) as string);
      bytes.set(s.subarray(0, Math.max(0, e.size - 1)), e.offset);
    } else if (raw === "y" || raw === "m" || raw === "n") {
      writeInt(view, e.offset, e.size, raw === "y" ? 1n : raw === "m" ? 2n : 0n);
    } else {
      writeInt(view, e.offset, e.size, BigInt(raw));
    }
  }
}
