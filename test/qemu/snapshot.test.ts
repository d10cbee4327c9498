/**
 * The saved-state start (src/qemu/snapshot.ts) against a cold boot, in the real 6.12 guest: a restored
 * guest has the host's clock, its own randomness, loads modules, attaches kprobes and runs the reference
 * scenario (`kfunc demo`); `--cold` still boots.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { setLogger } from "../../src/log.ts";
import { type PreparedKernel, prepareKernel, runInVm } from "../../src/qemu/index.ts";
import { readModule } from "../../src/qemu/modules.ts";
import { runCli } from "./helpers.ts";

let kernel: PreparedKernel;
let work: string;

before(async () => {
  kernel = await prepareKernel();
  work = mkdtempSync(join(tmpdir(), "kfunc-vmsnap-"));
});
after(() => rmSync(work, { recursive: true, force: true }));

interface RunJson {
  exitCode: number;
  stdout: string;
  stderr: string;
  start: "cold" | "saved" | "restored";
}

function vmRun(args: string[], script: string): { json: RunJson; hostAfter: number } {
  const r = runCli(["vm", "run", "--json", "--share", work, ...args, "--", "sh", "-c", script], {
    cwd: work,
  });
  const hostAfter = Date.now() / 1000;
  assert.equal(r.code, 0, `vm run failed:\n${r.stdout}\n${r.stderr}`);
  return { json: JSON.parse(r.stdout) as RunJson, hostAfter };
}

test("restored guest: host clock, fresh randomness per run, insmod and a kprobe; --cold boots", async () => {
  const dummyXz = execFileSync("find", [kernel.modulesDir, "-name", "dummy.ko*"])
    .toString()
    .trim()
    .split("\n")[0]!;
  const dummy = join(work, "dummy.ko");
  writeFileSync(dummy, await readModule(dummyXz));
  const probe = [
    "date +%s",
    "head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'; echo",
    "grep -o '^dummy ' /proc/modules",
    // a kprobe through tracefs: the kernel's own kprobe machinery, in the restored kernel
    "echo 'p:kfunc_snap do_unlinkat' > /sys/kernel/tracing/kprobe_events",
    "echo 1 > /sys/kernel/tracing/events/kprobes/kfunc_snap/enable",
    "touch gone && rm gone",
    "grep -c kfunc_snap /sys/kernel/tracing/trace",
    // the new VM generation ID (vmgenid, guid=auto) made the kernel reseed its RNG
    "/run/kfunc/busybox dmesg | grep -c 'crng reseeded due to virtual machine fork'",
    "cat /proc/sys/kernel/random/boot_id",
  ].join("\n");
  const first = vmRun(["--insmod", dummy], probe); // saves the state if no earlier run did
  assert.notEqual(first.json.start, "cold", "a run without --cold uses the saved state");
  const runs = [vmRun(["--insmod", dummy], probe), vmRun(["--insmod", dummy], probe)];
  const seen = new Set<string>();
  const bootIds = new Set<string>();
  for (const { json, hostAfter } of runs) {
    assert.equal(json.start, "restored", "the state saved by the first run is restored");
    const [clock, random, mod, hits, reseeds, bootId] = json.stdout.trim().split("\n");
    assert.match(bootId!, /^[0-9a-f-]{36}$/);
    bootIds.add(bootId!);
    const skew = hostAfter - Number(clock);
    // the guest read its clock during the run, before hostAfter: a few seconds at most, never the save time
    assert.ok(skew >= -2 && skew < 30, `guest clock ${clock} vs host ${hostAfter.toFixed(0)} after the run`);
    assert.match(random!, /^[0-9a-f]{64}$/);
    seen.add(random!);
    assert.equal(mod, "dummy ", "the --insmod module is loaded in the restored guest");
    assert.ok(Number(hits) >= 1, `the kprobe on do_unlinkat fired: ${json.stdout}`);
    assert.equal(reseeds, "1", "the restored kernel reseeded its RNG once, at the restore");
  }
  assert.equal(seen.size, 2, "two restored runs read different random bytes");
  assert.equal(bootIds.size, 1, "restored runs are one boot: the boot id was made before the save point");

  const cold = vmRun(["--cold"], "cat /proc/sys/kernel/random/boot_id");
  assert.equal(cold.json.start, "cold");
  assert.ok(!bootIds.has(cold.json.stdout.trim()), "a cold boot has a boot id of its own");
});

test("kfunc demo (module, kfunc, kprobe program, Result: 10) through the restored path", () => {
  vmRun([], "true"); // the state exists after this (saved here, or earlier)
  const r = runCli(["demo"], { cwd: work });
  assert.equal(r.code, 0, `demo failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout + r.stderr, /Result: 10/);
  assert.match(r.stderr, /restored 6\.\d+/, `the demo's VM started from the saved state:\n${r.stderr}`);
});

test("a broken saved state: the run warns, boots cold once, and the state file is gone", async () => {
  // its own memory size, so its own state file: the 2 GiB one of the other tests stays
  const opts = { kernel, cwd: work, shares: [work], mem: "1536M", command: ["true"] };
  const saved = await runInVm(opts);
  assert.notEqual(saved.start, "cold");
  const dir = dirname(kernel.btf);
  const state = readdirSync(dir)
    .filter((f) => /^vmstate-[0-9a-f]+\.bin$/.test(f))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]!;
  truncateSync(state, Math.floor(statSync(state).size / 2));
  const warnings: string[] = [];
  const prev = setLogger((level, m) => {
    if (level === "warn") warnings.push(m);
  });
  try {
    const r = await runInVm(opts);
    assert.equal(r.exitCode, 0);
    assert.equal(r.start, "cold");
  } finally {
    setLogger(prev);
  }
  assert.equal(
    warnings.filter((w) => /restoring the saved VM state failed/.test(w)).length,
    1,
    warnings.join("\n"),
  );
  assert.ok(!existsSync(state), "the broken state file is removed (the next run saves it again)");
});
