/**
 * Test gates that print why they skip (the running kernel and the reason), as cilium's testutils do, and
 * fail instead of skipping when a probe says "unsupported" on a kernel new enough to have the feature.
 *
 *   test("…", { skip: rootSkip() }, () => …)     // decided before any hook runs
 *   if (!requireRoot(t)) return;
 *   if (!requireKernel(t, "6.4", "ld_imm64 to kfunc")) return;
 *   if (!requireFeature(t, "kfuncCall")) return;
 */
import assert from "node:assert/strict";
import { release } from "node:os";
import type { TestContext } from "node:test";
import { type Feature, featureMinKernel, supports } from "../../src/kernel/features.ts";
import { parseKernelVersion } from "../../src/kernel-version.ts";

/** The skip reason when this process is not root, else false (for `test(name, { skip }, fn)`). */
export function rootSkip(why = "to load eBPF programs"): string | false {
  const uid = process.getuid?.();
  return uid === 0 ? false : `needs root ${why} (running as uid ${uid}, kernel ${release()})`;
}

export function requireRoot(t: TestContext, why?: string): boolean {
  const reason = rootSkip(why);
  if (reason) t.skip(reason);
  return !reason;
}

function atLeast(rel: string, min: string): boolean {
  const v = parseKernelVersion(rel);
  const m = parseKernelVersion(min);
  if (!v || !m) return false;
  return v.major > m.major || (v.major === m.major && v.minor >= m.minor);
}

/** Skips unless the running kernel is at least `min` ("requires kernel ≥ 6.4 (what); running 6.1.0"). */
export function requireKernel(t: TestContext, min: string, what: string, rel = release()): boolean {
  if (atLeast(rel, min)) return true;
  t.skip(`requires kernel ≥ ${min} (${what}); running ${rel}`);
  return false;
}

/**
 * Skips when the kernel lacks `feature` and is older than its minimum; fails when a kernel that should
 * have it says it does not (a broken probe must not hide as a skip).
 */
export function requireFeature(t: TestContext, feature: Feature, rel = release()): boolean {
  if (!requireRoot(t, `to probe ${feature}`)) return false;
  if (supports(feature)) return true;
  const min = featureMinKernel(feature);
  assert.ok(!atLeast(rel, min), `${feature} reported unsupported on kernel ${rel}, which is ≥ ${min}`);
  t.skip(`requires kernel ≥ ${min} (${feature}); running ${rel}`);
  return false;
}
