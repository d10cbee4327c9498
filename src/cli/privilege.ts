/**
 * The verbs that load eBPF programs check the process's capabilities first: without them the first
 * bpf(2) call (a feature probe) fails with a bare EPERM that names neither the cause nor the fix.
 */
import { readFileSync } from "node:fs";
import { EnvironmentError } from "../errors.ts";

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return fallback;
  }
}

/** The effective capability set of this process (from /proc/self/status), or undefined if unknown. */
export function effectiveCaps(status = readOr("/proc/self/status", "")): bigint | undefined {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

const has = (caps: bigint, cap: number) => ((caps >> BigInt(cap)) & 1n) === 1n;

/**
 * What is missing to load eBPF programs, or undefined when nothing is (or it cannot be told).
 * `network`: the programs are xdp/tc, which need CAP_NET_ADMIN too.
 */
export function missingBpfPrivilege(
  caps: bigint | undefined,
  o: { network?: boolean; unprivilegedBpf?: boolean } = {},
): string | undefined {
  if (caps === undefined) return undefined;
  const admin = has(caps, CAP_SYS_ADMIN);
  const missing: string[] = [];
  if (!admin && !has(caps, CAP_BPF)) missing.push("CAP_BPF");
  if (!admin && !has(caps, CAP_PERFMON)) missing.push("CAP_PERFMON");
  if (o.network && !has(caps, CAP_NET_ADMIN)) missing.push("CAP_NET_ADMIN");
  if (missing.length === 0) return undefined;
  // with unprivileged BPF enabled some program types load without capabilities: let the kernel decide
  if (o.unprivilegedBpf && !o.network) return undefined;
  return missing.join(" + ");
}

/** Throws an error naming the fix when this process cannot load eBPF programs. */
export function requireBpfPrivilege(verb: string, o: { network?: boolean } = {}): void {
  const unprivilegedBpf = readOr("/proc/sys/kernel/unprivileged_bpf_disabled", "1").trim() === "0";
  const missing = missingBpfPrivilege(effectiveCaps(), { ...o, unprivilegedBpf });
  if (!missing) return;
  throw new EnvironmentError(
    `kfunc ${verb}: loading eBPF programs needs root, or CAP_BPF + CAP_PERFMON${o.network ? " + CAP_NET_ADMIN (xdp/tc programs)" : ""}; this process lacks ${missing}`,
    {
      hint: `run it as root (sudo kfunc ${verb} …), or give the process those capabilities (e.g. setpriv --ambient-caps, or setcap on the node binary)`,
    },
  );
}
