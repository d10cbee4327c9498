/**
 * A hand-written module that uses kfunc idioms newer than its target kernel (the reference hello.c on
 * Debian bookworm's 6.1) fails to build; the error names the idioms, the kernel that introduced each, and
 * the fix — instead of leaving the developer with 30 compiler errors. `kfunc demo` refuses such a kernel
 * up front (KPROBE registration needs 6.10).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { isKfuncKitError } from "../../src/errors.ts";
import { buildModule } from "../../src/module/index.ts";
import { REPO_ROOT } from "../helpers/fixtures.ts";
import { tempDir } from "../helpers/temp.ts";

const KERNEL_6_1 = "debian:bookworm";

test("hello.c on 6.1: the build error names the too-new kfunc idioms and the fix", {
  timeout: 600_000,
}, async () => {
  const outDir = tempDir("kfunc-idioms-");
  await assert.rejects(
    buildModule(join(REPO_ROOT, "examples/seed"), { kernel: KERNEL_6_1, outDir }),
    (e: unknown) => {
      assert.ok(isKfuncKitError(e));
      assert.equal(e.code, "MODULE");
      assert.match(e.message, /build for 6\.1\.\S+ failed/);
      assert.match(e.message, /hello\.c:\d+: error: unknown type name '__bpf_kfunc'/, "errors as file:line");
      assert.match(e.message, /… \d+ more errors/, "a wall of errors is cut short");
      assert.match(e.hint ?? "", /Linux 6\.1 predates BTF_KFUNCS_START\/END \(6\.9\)/);
      assert.match(e.hint ?? "", /__bpf_kfunc \(6\.2\)/);
      assert.match(e.hint ?? "", /kfunc\.json/);
      return true;
    },
  );
});

test("kfunc demo --kernel debian:bookworm refuses 6.1 before building, and says why", {
  timeout: 600_000,
}, () => {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "demo", "--kernel", KERNEL_6_1],
    {
      cwd: REPO_ROOT,
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    /older than 6\.10, where register_btf_kfunc_id_set\(BPF_PROG_TYPE_KPROBE, …\) returns -EINVAL/,
  );
  assert.match(r.stderr, /hint: .*TRACING/);
  assert.doesNotMatch(r.stderr, /error: unknown type name/, "refused before any compiler runs");
});
