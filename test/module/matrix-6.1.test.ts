/**
 * The kernel matrix, Debian bookworm 6.1 (no BTF_KFUNCS_START, no __bpf_kfunc_start_defs, no KPROBE kfunc
 * hook, no vmlinux in the headers, no resolve_btfids in its kbuild):
 *   - a module that asks for KPROBE is refused at build time with the explanation and the alternatives
 *     (kfunc-zoo lists KPROBE in `optionalProgramTypes`, so it builds here without it: test/testing/vm.test.ts);
 *   - the reference kfunc declared in a kfunc.json for TRACING builds (compat macros, BTF guarantee) and an
 *     fentry/do_unlinkat program calling it prints "Result: 10" for each rm in the VM.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { buildProgram } from "../../src/compile/index.ts";
import { isKfuncKitError } from "../../src/errors.ts";
import { type BuiltModule, buildModule } from "../../src/module/index.ts";
import { runInVm, type VmRunResult } from "../../src/qemu/index.ts";
import { REPO_ROOT } from "../helpers/fixtures.ts";
import { bundleGuestScript } from "../helpers/guest-bundle.ts";

const KERNEL = "debian:bookworm";
// under the repo (gitignored .cache/): the guest sees the repo, but has its own tmpfs /tmp
const WORK = join(REPO_ROOT, ".cache", "test-module-matrix-6.1");
const MODULE = join(WORK, "hello_tracing");
const KPROBE_MODULE = join(WORK, "hello_kprobe");

const KFUNC_C = `#include "kfunc_module.h"

__bpf_kfunc_start_defs();

__bpf_kfunc u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)
{
	return a + b + c + d;
}

__bpf_kfunc_end_defs();
`;

const PROGRAM_C = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "hello_tracing.kfuncs.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("fentry/do_unlinkat")
int handle_fentry(void *ctx)
{
	pid_t pid = bpf_get_current_pid_tgid() >> 32;
	u64 result = bpf_kfunc_call_test(1, 2, 3, 4);

	bpf_printk("BPF triggered do_unlinkat, PID: %d. Result: %lld", pid, result);
	return 0;
}
`;

let built: BuiltModule;
let vm: VmRunResult;

before(async () => {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(MODULE, { recursive: true });
  writeFileSync(
    join(MODULE, "kfunc.json"),
    JSON.stringify({
      name: "hello_tracing",
      sources: ["hello_kfuncs.c"],
      kfuncs: ["bpf_kfunc_call_test"],
      programTypes: ["TRACING"],
    }),
  );
  writeFileSync(join(MODULE, "hello_kfuncs.c"), KFUNC_C);
  mkdirSync(KPROBE_MODULE, { recursive: true });
  writeFileSync(
    join(KPROBE_MODULE, "kfunc.json"),
    JSON.stringify({
      name: "hello_kprobe",
      sources: ["hello_kfuncs.c"],
      kfuncs: ["bpf_kfunc_call_test"],
      programTypes: ["KPROBE", "TRACING"],
    }),
  );
  writeFileSync(join(KPROBE_MODULE, "hello_kfuncs.c"), KFUNC_C);
  writeFileSync(join(WORK, "ref_fentry.bpf.c"), PROGRAM_C);
});

test("6.1: a KPROBE registration is refused at build time, with the explanation and alternatives", async () => {
  await assert.rejects(
    buildModule(KPROBE_MODULE, { kernel: KERNEL, outDir: join(WORK, "kprobe-build") }),
    (e: unknown) => {
      assert.ok(isKfuncKitError(e), String(e));
      assert.match(
        e.message,
        /'programTypes': KPROBE is not supported by the target kernel 6\.1\.\S+ \(kfuncs for KPROBE programs need Linux >= 6\.10\)/,
      );
      assert.match(e.hint ?? "", /returns -EINVAL before Linux 6\.10/);
      assert.match(
        e.hint ?? "",
        /register for TRACING and attach with fentry\/<function> or tp_btf\/<tracepoint>/,
      );
      assert.match(e.hint ?? "", /SYSCALL/);
      return true;
    },
  );
});

test("6.1: the generated TRACING module builds with compat macros and resolved module BTF", async () => {
  built = await buildModule(MODULE, { kernel: KERNEL });
  assert.match(built.kernel, /^6\.1\./);
  assert.deepEqual(built.sets, [{ name: "hello_tracing_kfunc_ids", count: 1 }]);
  assert.deepEqual(built.kfuncs, [
    {
      name: "bpf_kfunc_call_test",
      prototype: "u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)",
      flags: [],
    },
  ]);
  assert.match(built.buildLog, /BTF \[M\] .*hello_tracing\.ko/);
  assert.doesNotMatch(built.buildLog, /Skipping BTF generation/);
});

test("6.1: an fentry/do_unlinkat program calling the TRACING-registered kfunc prints Result: 10 for each rm", async () => {
  assert.ok(built, "the module build test ran first");
  const object = join(WORK, "ref_fentry.bpf.o");
  await buildProgram(join(WORK, "ref_fentry.bpf.c"), {
    kernel: KERNEL,
    modules: [built.buildDir],
    output: object,
  });
  vm = await runInVm({
    kernel: KERNEL,
    insmod: [built.ko],
    cwd: REPO_ROOT,
    command: ["node", bundleGuestScript("test/module/vm/reference-guest.ts"), object],
    timeoutMs: 300_000,
  });
  assert.equal(vm.insmodFailed, undefined, vm.console);
  assert.match(vm.stdout, /REF-DONE/, `${vm.stdout}\n${vm.stderr}`);
  assert.doesNotMatch(vm.stdout, /REF-ERROR/);
  const results = vm.stdout
    .split("\n")
    .filter((l) => /^TRACE BPF triggered do_unlinkat, PID: \d+\. Result: 10$/.test(l));
  assert.ok(results.length >= 3, `expected 3 Result: 10 lines:\n${vm.stdout}`);
});
