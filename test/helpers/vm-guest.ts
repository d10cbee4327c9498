/**
 * Runs a TypeScript guest script (text) inside a QEMU kernel through `kfunc vm run`, bundled (see
 * guest-bundle.ts), with the project and the object's directory shared, and returns the `value` of the
 * script's `emitResult({ type: "result", value })` record (the one guest-to-host protocol,
 * src/qemu/result-channel.ts). The kernel is prepared first (`kfunc vm prepare`, cached): when that fails,
 * the test skips with its error outside CI and fails in CI; after that, any failure is the test's.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { TestContext } from "node:test";
import { parseResults } from "../../src/qemu/result-channel.ts";
import { REPO_ROOT } from "./fixtures.ts";
import { bundleGuestScript } from "./guest-bundle.ts";

export function runGuestScript<T>(
  t: TestContext,
  kernel: string,
  script: string,
  object: string,
  vmArgs: string[] = [],
): T | undefined {
  const unavailable = kernelUnavailable(kernel);
  if (unavailable) {
    // in CI nothing may skip for want of a kernel
    assert.ok(!process.env["CI"], `the QEMU kernel ${kernel} cannot be prepared: ${unavailable}`);
    t.skip(`the QEMU kernel ${kernel} is not available: ${unavailable}`);
    return undefined;
  }
  const dir = mkdtempSync("/tmp/kfunc-kit-vm-");
  try {
    const file = join(dir, "guest.mts");
    writeFileSync(file, script);
    const r = spawnSync(
      process.execPath,
      [
        ...["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), "vm", "run", "--kernel", kernel],
        ...["--timeout", "600", "--share", dir, "--share", dirname(object), ...vmArgs],
        // the bundle's koffi (node_modules): the clone may live under the guest's own /tmp
        ...["--share", REPO_ROOT],
        ...["--", process.execPath, bundleGuestScript(file)],
      ],
      { cwd: REPO_ROOT, encoding: "utf8", timeout: 850_000 },
    );
    const result = parseResults<{ type: string; value: T }>(r.stdout).find((rec) => rec.type === "result");
    assert.ok(result, `no result record from the guest (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    return result.value;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const prepared = new Map<string, string | undefined>();

/** Why `kernel` cannot be prepared (the CLI's error line), or undefined when it is ready. */
function kernelUnavailable(kernel: string): string | undefined {
  if (!prepared.has(kernel)) {
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), "vm", "prepare", "--kernel", kernel, "--json"],
      { cwd: REPO_ROOT, encoding: "utf8", timeout: 850_000 },
    );
    prepared.set(kernel, r.status === 0 ? undefined : r.stderr.trim().split("\n")[0] || `exit ${r.status}`);
  }
  return prepared.get(kernel);
}
