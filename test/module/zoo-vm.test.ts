/**
 * kfunc-zoo on the default QEMU kernel (Debian bookworm-backports 6.12): the module is built with
 * buildModule, the programs with buildProgram (vmlinux.h + kfunc_zoo.kfuncs.h), then the VM boots with the
 * module insmod'ed and examples/kfunc-zoo/vm/zoo-guest.ts runs kfunc-kit's loader inside it.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { buildProgram } from "../../src/compile/index.ts";
import { type BuiltModule, buildModule } from "../../src/module/index.ts";
import { DEFAULT_KERNEL, runInVm, type VmRunResult } from "../../src/qemu/index.ts";
import { parseResults } from "../../src/qemu/result-channel.ts";
import { REPO_ROOT } from "../helpers/fixtures.ts";
import { bundleGuestScript } from "../helpers/guest-bundle.ts";

const ZOO = join(REPO_ROOT, "examples", "kfunc-zoo");
const OBJECTS = ["zoo", "zoo_reject_leak", "zoo_reject_null", "zoo_reject_prog_type"];

interface ZooResult {
  testRuns: Record<string, number | string>;
  kprobe: { hits: number; result: string } | string;
  fentry: { hits: number; result: string } | string;
  rejected: Record<string, { loaded: boolean; message: string; hint: string | undefined }>;
  dmesg: string[];
}

let built: BuiltModule;
let vm: VmRunResult;
let zoo: ZooResult;

before(async () => {
  built = await buildModule(ZOO, { kernel: DEFAULT_KERNEL, outDir: join(ZOO, "build", "test-6.12") });
  // objects live under the repo: the guest sees the repo (shared cwd) but has its own tmpfs /tmp
  const objDir = join(built.buildDir, "bpf");
  rmSync(objDir, { recursive: true, force: true });
  mkdirSync(objDir, { recursive: true });
  for (const o of OBJECTS)
    await buildProgram(join(ZOO, "bpf", `${o}.bpf.c`), {
      kernel: DEFAULT_KERNEL,
      modules: [built.buildDir],
      output: join(objDir, `${o}.bpf.o`),
    });
  vm = await runInVm({
    kernel: DEFAULT_KERNEL,
    insmod: [built.ko],
    cwd: REPO_ROOT,
    command: ["node", bundleGuestScript("examples/kfunc-zoo/vm/zoo-guest.ts"), objDir],
    timeoutMs: 300_000,
  });
  const record = parseResults<ZooResult & { type: string }>(vm.stdout).find((r) => r.type === "zoo");
  assert.ok(
    record,
    `no zoo result record; exit ${vm.exitCode}\nstdout:\n${vm.stdout}\nstderr:\n${vm.stderr}\nconsole:\n${vm.console.slice(-3000)}`,
  );
  zoo = record;
});

test("the generated registration loads on 6.12: insmod logs the kfunc count and program types", () => {
  assert.equal(vm.insmodFailed, undefined);
  assert.ok(
    zoo.dmesg.some((l) => /kfunc_zoo: 7 kfuncs registered for TRACING SYSCALL KPROBE/.test(l)),
    zoo.dmesg.join("\n"),
  );
  assert.equal(vm.exitCode, 0, vm.stderr);
});

test("syscall programs: BPF_PROG_TEST_RUN results are the oracles", () => {
  assert.deepEqual(zoo.testRuns, {
    sum_bytes: 36, // zoo_sum_bytes(buf, 8): pointer + __sz
    acquire_release: 70, // KF_ACQUIRE | KF_RET_NULL, value, KF_RELEASE
    acquire_null: 1, // NULL from acquire(0), checked
    sleepable: 42, // KF_SLEEPABLE from a sleepable syscall program
    weak_probe: 1, // bpf_ksym_exists: missing __weak kfunc 0, module kfunc 1
    live_objects: 0, // every acquired object was released
  });
});

test("kprobe (KPROBE registration, Linux >= 6.10) and fentry (TRACING) programs call the module kfunc", () => {
  assert.deepEqual(zoo.kprobe, { hits: 3, result: "10" });
  assert.deepEqual(zoo.fentry, { hits: 3, result: "10" });
});

test("the verifier rejects a leaked reference, a missing NULL check and an unregistered program type, and kfunc-kit explains", () => {
  const { leak, null: noNull, prog_type: progType } = zoo.rejected;
  assert.equal(leak?.loaded, false);
  assert.match(leak!.message, /Unreleased reference id=\d+/);
  assert.match(leak!.hint ?? "", /release/);
  assert.equal(noNull?.loaded, false);
  assert.match(noNull!.message, /invalid mem access '.*or_null.*'|NULL/);
  assert.match(noNull!.hint ?? "", /NULL check/);
  assert.equal(progType?.loaded, false);
  assert.match(progType!.message, /calling kernel function zoo_add4 is not allowed/);
  assert.match(progType!.hint ?? "", /not registered for this program type/);
});
