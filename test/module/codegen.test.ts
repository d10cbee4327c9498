import assert from "node:assert/strict";
import { test } from "node:test";
import { isKfuncKitError } from "../../src/errors.ts";
import { generateModule } from "../../src/module/codegen.ts";
import { validateModuleConfig } from "../../src/module/config.ts";

const config = validateModuleConfig(
  {
    name: "zoo",
    sources: ["zoo_kfuncs.c"],
    kfuncs: [
      "zoo_sum",
      { name: "zoo_acquire", flags: ["ACQUIRE", "RET_NULL"] },
      { name: "zoo_release", flags: ["RELEASE"] },
    ],
    programTypes: ["TRACING", "SYSCALL"],
    init: "zoo_setup",
  },
  "/m/kfunc.json",
  "/m",
);
const k61 = { release: "6.1.0-37-amd64", version: { major: 6, minor: 1, patch: 0 } };
const k612 = { release: "6.12.95+deb12-amd64", version: { major: 6, minor: 12, patch: 95 } };

test("6.12: native BTF_KFUNCS_START and __bpf_kfunc_start_defs, no compat macros", () => {
  const g = generateModule(config, k612);
  const h = g.files["kfunc_module.h"]!;
  assert.doesNotMatch(h, /BTF_SET8_START|__diag_push|define __bpf_kfunc /);
  const reg = g.files["kfunc_gen_reg.c"]!;
  assert.match(reg, /BTF_KFUNCS_START\(zoo_kfunc_ids\)/);
  assert.match(reg, /BTF_ID_FLAGS\(func, zoo_sum\)\n/);
  assert.match(reg, /BTF_ID_FLAGS\(func, zoo_acquire, KF_ACQUIRE \| KF_RET_NULL\)/);
  assert.match(reg, /register_btf_kfunc_id_set\(BPF_PROG_TYPE_TRACING, &zoo_kfunc_set\);\n\tif \(ret\) \{/);
  assert.match(reg, /register_btf_kfunc_id_set\(BPF_PROG_TYPE_SYSCALL, &zoo_kfunc_set\)/);
  assert.match(reg, /ret = zoo_setup\(\);/);
  assert.match(reg, /MODULE_LICENSE\("GPL"\);/);
  assert.equal(
    g.files["Kbuild"]!.split("\n").slice(1).join("\n"),
    "obj-m += zoo.o\nzoo-y := zoo_kfuncs.o kfunc_gen_reg.o\n",
  );
});

test("6.1: BTF_KFUNCS_START maps to BTF_SET8_START (not the no-BTF stub), __diag_push, __bpf_kfunc", () => {
  const h = generateModule(config, k61).files["kfunc_module.h"]!;
  assert.match(h, /#define BTF_KFUNCS_START\(name\) BTF_SET8_START\(name\)/);
  assert.match(h, /#define BTF_KFUNCS_END\(name\) BTF_SET8_END\(name\)/);
  assert.match(h, /__diag_push\(\); __diag_ignore_all\("-Wmissing-prototypes"/);
  assert.match(h, /#define __bpf_kfunc __used noinline/);
  assert.doesNotMatch(h, /btf_id_set8 __maybe_unused/);
});

test("KPROBE on a kernel < 6.10 is refused at generation time with the alternatives", () => {
  const kprobe = { ...config, programTypes: ["KPROBE" as const] };
  assert.throws(
    () => generateModule(kprobe, k61),
    (e: unknown) => {
      assert.ok(isKfuncKitError(e));
      assert.match(e.message, /KPROBE is not supported by the target kernel 6\.1\.0-37-amd64/);
      assert.match(e.hint ?? "", /-EINVAL/);
      assert.match(e.hint ?? "", /TRACING .*fentry.*tp_btf/);
      assert.match(e.hint ?? "", /SYSCALL/);
      return true;
    },
  );
  assert.match(generateModule(kprobe, k612).files["kfunc_gen_reg.c"]!, /BPF_PROG_TYPE_KPROBE/);
});

test("optionalProgramTypes: KPROBE is registered where the kernel has its hook (6.12) and left out on 6.1", () => {
  const both = validateModuleConfig(
    {
      name: "zoo",
      sources: ["zoo_kfuncs.c"],
      kfuncs: ["zoo_sum"],
      programTypes: ["SYSCALL"],
      optionalProgramTypes: ["KPROBE"],
    },
    "/m/kfunc.json",
    "/m",
  );
  const r61 = generateModule(both, k61).files["kfunc_gen_reg.c"]!;
  assert.match(r61, /register_btf_kfunc_id_set\(BPF_PROG_TYPE_SYSCALL,/);
  assert.doesNotMatch(r61, /BPF_PROG_TYPE_KPROBE/);
  assert.match(r61, /kfuncs registered for SYSCALL\\n/);
  const r612 = generateModule(both, k612).files["kfunc_gen_reg.c"]!;
  assert.match(r612, /register_btf_kfunc_id_set\(BPF_PROG_TYPE_KPROBE,/);
  assert.match(r612, /kfuncs registered for SYSCALL KPROBE\\n/);
});

test("a KF_* flag newer than the target kernel is refused", () => {
  const rcu = { ...config, kfuncs: [{ name: "zoo_rcu", flags: ["RCU" as const] }] };
  assert.throws(() => generateModule(rcu, k61), /flag RCU \(KF_RCU\) does not exist before Linux 6\.4/);
});
