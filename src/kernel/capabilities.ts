/**
 * What an EPERM most likely means, from evidence: the calling thread's effective capabilities (capget(2),
 * the set the kernel checks for the bpf(2) calls this thread makes). An EPERM with CAP_BPF and CAP_PERFMON
 * missing is a permission problem; with them present it is the kernel refusing (lockdown, no trampolines).
 * Hints are questions, never verdicts.
 */
import { readFileSync } from "node:fs";
import { capGet } from "../sys/caps.ts";

export const CAP = { SYS_ADMIN: 21, PERFMON: 38, BPF: 39 } as const;

/**
 * The effective capability set, or undefined when capget(2) fails. One syscall: the loader asks on every
 * load (reading /proc/self/status instead cost ~1 ms per load under TCG).
 */
export function effectiveCapabilities(): bigint | undefined {
  try {
    return capGet().effective;
  } catch {
    return undefined;
  }
}

/** The capabilities among CAP_BPF and CAP_PERFMON that are missing (CAP_SYS_ADMIN covers both). */
export function missingBpfCapabilities(caps: bigint | undefined): string[] | undefined {
  if (caps === undefined) return undefined;
  const has = (bit: number) => (caps & (1n << BigInt(bit))) !== 0n;
  if (has(CAP.SYS_ADMIN)) return [];
  return [...(has(CAP.BPF) ? [] : ["CAP_BPF"]), ...(has(CAP.PERFMON) ? [] : ["CAP_PERFMON"])];
}

/** What an EPERM hint is gated on: capabilities and the kernel lockdown mode (undefined: unknown). */
export interface PermissionEvidence {
  caps: bigint | undefined;
  lockdown: string | undefined;
}

/** This process's evidence, read from /proc and securityfs. */
export function permissionEvidence(): PermissionEvidence {
  let lockdown: string | undefined;
  try {
    lockdown = /\[(\w+)\]/.exec(readFileSync("/sys/kernel/security/lockdown", "utf8"))?.[1];
  } catch {
    lockdown = undefined;
  }
  return { caps: effectiveCapabilities(), lockdown };
}

/**
 * A question-style hint for an EPERM from loading or attaching `kind` (fentry, raw_tp, …), gated on
 * the evidence. `otherwise` is the advice when the capabilities are all there.
 */
export function epermHint(kind: string, otherwise: string, evidence: PermissionEvidence): string {
  const missing = missingBpfCapabilities(evidence.caps);
  if (missing === undefined)
    return `is this process missing CAP_BPF/CAP_PERFMON (run as root?), or ${otherwise}`;
  if (missing.length > 0)
    return `missing ${missing.join(" and ")}? ${kind} needs them (run as root, or grant them to node)`;
  const lockdown = evidence.lockdown;
  return lockdown && lockdown !== "none"
    ? `the capabilities are there, but kernel lockdown is '${lockdown}': does it refuse ${kind}? ${otherwise}`
    : `the capabilities are there: ${otherwise}`;
}
