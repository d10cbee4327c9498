/** The skip gates say why they skip, and requireFeature fails instead of skipping on a new-enough kernel. */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { requireKernel, rootSkip } from "./require.ts";

function fakeContext(): { t: TestContext; skipped: () => string | undefined } {
  let reason: string | undefined;
  const t = {
    skip: (r?: string) => {
      reason = r ?? "";
    },
  } as unknown as TestContext;
  return { t, skipped: () => reason };
}

test("requireKernel skips with the minimum, the feature and the running release", () => {
  const old = fakeContext();
  assert.equal(requireKernel(old.t, "6.4", "ld_imm64 to kfunc", "6.1.0-37-amd64"), false);
  assert.equal(old.skipped(), "requires kernel ≥ 6.4 (ld_imm64 to kfunc); running 6.1.0-37-amd64");
  const fresh = fakeContext();
  assert.equal(requireKernel(fresh.t, "6.4", "ld_imm64 to kfunc", "6.12.95+deb12-amd64"), true);
  assert.equal(fresh.skipped(), undefined);
});

test("rootSkip names the uid and the kernel when not root", () => {
  const r = rootSkip("to load eBPF programs");
  if (process.getuid?.() === 0) assert.equal(r, false);
  else assert.match(String(r), /^needs root to load eBPF programs \(running as uid \d+, kernel /);
});
