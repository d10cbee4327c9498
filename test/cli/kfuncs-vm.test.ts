/**
 * `kfunc kfuncs` and `kfunc btf dump` on a real Debian kernel in QEMU (the default 6.12 kernel, whose
 * modules have split BTF in /sys/kernel/btf): every module parses on vmlinux, a module's header (scope
 * "own") compiles on its own, and a kernel whose BTF has no bpf_kfunc tags (built with pahole 1.24) says so.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { DEFAULT_KERNEL, runInVm, type VmRunResult } from "../../src/qemu/index.ts";
import { REPO_ROOT } from "../helpers/fixtures.ts";
import { bundleGuestScript } from "../helpers/guest-bundle.ts";

const SCRIPT = `
set -u
cli="node $CLI_BUNDLE"
echo KFUNCS-JSON-BEGIN; $cli kfuncs --json; echo KFUNCS-JSON-END rc=$?
$cli kfuncs > /tmp/k.out 2> /tmp/k.err; echo KFUNCS-TEXT rc=$?; cat /tmp/k.err
m=$(ls /sys/kernel/btf | grep -v '^vmlinux$' | head -1)
echo MODULE=$m
$cli btf dump /sys/kernel/btf/$m > /tmp/m.h; echo MODDUMP rc=$?
grep -c '^struct ' /tmp/m.h | sed 's/^/MODSTRUCTS=/'
printf '#include "/tmp/m.h"\\n' > /tmp/m.c
clang -target bpf -fsyntax-only -idirafter /usr/include/x86_64-linux-gnu /tmp/m.c; echo MODCOMPILE rc=$?
$cli btf dump /sys/kernel/btf/vmlinux > /tmp/v.h; echo VMDUMP rc=$?
printf '#include "/tmp/v.h"\\n#include <bpf/bpf_helpers.h>\\n#include <bpf/bpf_core_read.h>\\nSEC("tp_btf/sched_switch") int p(void *ctx) { struct task_struct *t = (void *)bpf_get_current_task(); return BPF_CORE_READ(t, real_parent, pid); }\\n' > /tmp/v.c
clang -target bpf -O2 -g -fsyntax-only -idirafter /usr/include/x86_64-linux-gnu /tmp/v.c; echo VMCOMPILE rc=$?
`;

let vm: VmRunResult;
before(async () => {
  vm = await runInVm({
    kernel: DEFAULT_KERNEL,
    cwd: REPO_ROOT,
    command: ["sh", "-c", SCRIPT],
    env: { CLI_BUNDLE: bundleGuestScript("src/cli/main.ts") },
    timeoutMs: 300_000,
  });
});

function field(name: string): string {
  const m = new RegExp(`${name}[ =](?:rc=)?(\\S+)`).exec(vm.stdout);
  assert.ok(m, `no ${name} in guest output:\n${vm.stdout.slice(-3000)}\nstderr:\n${vm.stderr.slice(-3000)}`);
  return m[1]!;
}

test("kfunc kfuncs in the guest: vmlinux and every module's split BTF parse; no tags is reported", (t) => {
  const json = vm.stdout.slice(
    vm.stdout.indexOf("KFUNCS-JSON-BEGIN") + 18,
    vm.stdout.indexOf("KFUNCS-JSON-END"),
  );
  assert.equal(field("KFUNCS-JSON-END"), "0", vm.stderr);
  const doc = JSON.parse(json) as {
    kernel: string;
    tagged: boolean;
    note?: string;
    objects: { name: string }[];
  };
  assert.match(doc.kernel, /^6\.12\./);
  const names = doc.objects.map((o) => o.name);
  assert.equal(names[0], "vmlinux");
  assert.ok(names.length > 1, `modules with BTF in the guest: ${names.join(", ")}`);
  t.diagnostic(`${doc.kernel}: ${names.length - 1} modules with BTF, tagged=${doc.tagged}`);
  if (!doc.tagged) {
    // Debian's 6.12 is built with pahole 1.24: kfuncs exist but carry no bpf_kfunc decl tags
    assert.match(doc.note ?? "", /no bpf_kfunc decl tags.*6\.11.*pahole >= 1\.27.*kfunc inspect/);
    assert.equal(field("KFUNCS-TEXT"), "0");
    assert.match(
      vm.stdout,
      /kfunc: this kernel's BTF has no bpf_kfunc decl tags[^\n]*\(running 6\.12\.[^)]*\)\n\s+hint: /,
    );
  }
});

test("kfunc btf dump in the guest: a module header (own types + needs) and vmlinux.h compile", (t) => {
  t.diagnostic(`module ${field("MODULE")}: ${field("MODSTRUCTS")} struct lines`);
  assert.equal(field("MODDUMP"), "0", vm.stderr);
  assert.ok(Number(field("MODSTRUCTS")) > 0);
  assert.equal(field("MODCOMPILE"), "0", `module ${field("MODULE")}: ${vm.stderr.slice(-3000)}`);
  assert.equal(field("VMDUMP"), "0", vm.stderr);
  assert.equal(field("VMCOMPILE"), "0", vm.stderr.slice(-3000));
});
