/**
 * Runs a TypeScript guest script (text) inside a QEMU kernel through `kfunc vm run`, bundled (see
 * guest-bundle.ts), with the project and the object's directory shared, and returns the JSON the script
 * printed on its `RESULT ` line. Outside CI, a kernel that cannot be fetched skips the test with the reason.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { TestContext } from "node:test";
import { REPO_ROOT } from "./fixtures.ts";
import { bundleGuestScript } from "./guest-bundle.ts";

export function runGuestScript<T>(
  t: TestContext,
  kernel: string,
  script: string,
  object: string,
): T | undefined {
  const dir = mkdtempSync("/tmp/kfunc-kit-vm-");
  try {
    const file = join(dir, "guest.mts");
    writeFileSync(file, script);
    const r = spawnSync(
      process.execPath,
      [
        ...["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), "vm", "run", "--kernel", kernel],
        ...["--timeout", "600", "--share", dir, "--share", dirname(object)],
        // the bundle's koffi (node_modules): the clone may live under the guest's own /tmp
        ...["--share", REPO_ROOT],
        ...["--", process.execPath, bundleGuestScript(file)],
      ],
      { cwd: REPO_ROOT, encoding: "utf8", timeout: 850_000 },
    );
    const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
    if (!process.env["CI"] && !line && /download|apt|network|prepar/i.test(r.stderr) && r.status !== 0) {
      t.skip(`the QEMU kernel ${kernel} is not available: ${r.stderr.trim().split("\n").at(-1)}`);
      return undefined;
    }
    assert.ok(line, `no RESULT from the guest (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    return JSON.parse(line.slice("RESULT ".length)) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
