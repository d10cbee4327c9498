/** CPU counts the BPF ABI depends on (per-CPU map values, perf event arrays). */
import { readFileSync } from "node:fs";

/** Parses a kernel CPU list ("0-3,5,7-8") into a count. */
export function parseCpuList(list: string): number {
  let n = 0;
  for (const part of list.trim().split(",")) {
    if (!part) continue;
    const [a, b] = part.split("-").map((x) => Number.parseInt(x, 10));
    if (a === undefined || Number.isNaN(a)) continue;
    n += b === undefined || Number.isNaN(b) ? 1 : b - a + 1;
  }
  return n;
}

let possible: number | undefined;
let online: number | undefined;

/** Number of possible CPUs: the number of slots in a per-CPU map value. */
export function possibleCpus(): number {
  possible ??= parseCpuList(readFileSync("/sys/devices/system/cpu/possible", "utf8"));
  return possible;
}

/** Number of online CPUs: perf event arrays get one slot per CPU when max_entries is 0. */
export function onlineCpus(): number {
  online ??= parseCpuList(readFileSync("/sys/devices/system/cpu/online", "utf8"));
  return online;
}
