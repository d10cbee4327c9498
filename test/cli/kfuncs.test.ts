import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "../helpers/index.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";

function kfunc(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("kfunc kfuncs lists the running kernel's kfuncs with prototypes (text and --json)", (t) => {
  if (!existsSync(VMLINUX)) return t.skip(`${VMLINUX} does not exist`);
  const j = kfunc("kfuncs", "--json");
  assert.equal(j.code, 0, j.stderr);
  const doc = JSON.parse(j.stdout) as {
    tagged: boolean;
    note?: string;
    objects: { name: string; count: number; kfuncs: { name: string; prototype: string }[] }[];
  };
  if (!doc.tagged) {
    assert.match(doc.note ?? "", /no bpf_kfunc decl tags.*6\.11.*pahole/);
    const text = kfunc("kfuncs");
    assert.match(text.stderr, /no bpf_kfunc decl tags/);
    return t.skip("this kernel's BTF has no bpf_kfunc tags (checked the message instead)");
  }
  const vmlinux = doc.objects.find((o) => o.name === "vmlinux");
  assert.ok(vmlinux && vmlinux.count === vmlinux.kfuncs.length && vmlinux.count > 0);
  const tfp = vmlinux.kfuncs.find((k) => k.name === "bpf_task_from_pid");
  assert.equal(tfp?.prototype, "struct task_struct *bpf_task_from_pid(s32 pid)");
  const text = kfunc("kfuncs");
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^vmlinux: ${vmlinux.count} kfuncs$`, "m"));
  assert.match(text.stdout, /^ {2}struct task_struct \*bpf_task_from_pid\(s32 pid\);$/m);
  const only = kfunc("kfuncs", "--module", "vmlinux", "--json");
  assert.deepEqual(
    (JSON.parse(only.stdout) as typeof doc).objects.map((o) => o.name),
    ["vmlinux"],
  );
});

test("kfunc kfuncs --module with an unknown module is a usage error", (t) => {
  if (!existsSync(VMLINUX)) return t.skip(`${VMLINUX} does not exist`);
  const r = kfunc("kfuncs", "--module", "no_such_module_xyz");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no BTF for module 'no_such_module_xyz' in \/sys\/kernel\/btf\n\s+hint: /);
});
