/** runInVm as a library: live streaming (proved by a host↔guest handshake) and a failing --insmod. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setLogger } from "../../src/log.ts";
import { type PreparedKernel, prepareKernel, runInVm, VmError } from "../../src/qemu/index.ts";
import { readModule } from "../../src/qemu/modules.ts";

let kernel: PreparedKernel;
let work: string;
before(async () => {
  kernel = await prepareKernel();
  work = mkdtempSync(join(tmpdir(), "kfunc-vmlib-"));
});
after(() => rmSync(work, { recursive: true, force: true }));

test("runInVm streams stdout live: the guest waits for the host to react to its first line", async () => {
  // if stdout were only delivered at the end, the guest would wait for 'go' forever and the run would time out
  let sawFirst = false;
  const chunks: string[] = [];
  const r = await runInVm({
    kernel,
    cwd: work,
    shares: [work],
    timeoutMs: 120_000,
    command: ["sh", "-c", "echo first; while [ ! -f go ]; do sleep 0.1; done; echo second; echo e >&2"],
    onStdout: (b) => {
      chunks.push(b.toString());
      if (!sawFirst && chunks.join("").includes("first\n")) {
        sawFirst = true;
        writeFileSync(join(work, "go"), "");
      }
    },
  });
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, "first\nsecond\n");
  assert.equal(chunks.join(""), r.stdout);
  assert.equal(r.stderr, "e\n");
  assert.ok(r.timings.qemuToInit! > 0 && r.timings.initToCommand! >= 0 && r.timings.total > 0);
});

test("runInVm --insmod failure: the command does not run, stderr has insmod's error and dmesg", async () => {
  // vxlan needs udp_tunnel/ip6_udp_tunnel, which are not loaded: "Unknown symbol" in dmesg
  const xz = execFileSync("find", [kernel.modulesDir, "-name", "vxlan.ko*"])
    .toString()
    .trim()
    .split("\n")[0]!;
  const ko = join(work, "vxlan.ko");
  writeFileSync(ko, await readModule(xz));
  const r = await runInVm({ kernel, cwd: work, shares: [work], insmod: [ko], command: ["touch", "ran"] });
  assert.equal(r.exitCode, 1);
  assert.equal(r.insmodFailed, ko);
  assert.match(r.stderr, new RegExp(`insmod ${ko} failed`));
  assert.match(r.stderr, /kernel log:[\s\S]*vxlan: Unknown symbol/);
  assert.throws(() => execFileSync("test", ["-e", join(work, "ran")]), "command did not run");
});

test("runInVm: a guest kernel panic rejects with VmError 'panic' carrying the console", async () => {
  await assert.rejects(
    runInVm({ kernel, cwd: work, shares: [work], command: ["sh", "-c", "echo c > /proc/sysrq-trigger"] }),
    (e: unknown) => {
      assert.ok(e instanceof VmError);
      assert.equal(e.reason, "panic");
      assert.match(e.message, /guest kernel panic: Kernel panic - not syncing: sysrq triggered crash/);
      assert.match(e.console, /sysrq: Trigger a crash/);
      return true;
    },
  );
});

test("runInVm: a kernel that dies before the initramfs runs is booted once more, then reported", async () => {
  const warnings: string[] = [];
  const prev = setLogger((level, m) => {
    if (level === "warn") warnings.push(m);
  });
  try {
    // no such rdinit → the kernel falls back to mounting a root device and panics before /init
    await assert.rejects(
      runInVm({ kernel, cwd: work, shares: [work], cmdline: "rdinit=/nope", command: ["true"] }),
      (e: unknown) => {
        assert.ok(e instanceof VmError);
        assert.equal(e.reason, "panic");
        assert.equal(e.reachedInit, false);
        assert.match(e.console, /Kernel panic/);
        return true;
      },
    );
  } finally {
    setLogger(prev);
  }
  assert.equal(
    warnings.filter((w) => /died before the initramfs ran/.test(w)).length,
    1,
    warnings.join("\n"),
  );
});
