import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { compileBpf } from "../../src/compile/clang.ts";
import { nameParams, paramNamesFromC } from "../../src/object/param-names.ts";
import { tempDir } from "../helpers/index.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

test("parameter names come from the declaration, only when the count matches", () => {
  const src = `
    extern u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d) __ksym;
    extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
    extern void bpf_rcu_read_lock(void) __ksym;
    extern int cb(int (*fn)(void *ctx), const char buf[16]) __ksym;
    extern int unnamed(u32, u64) __ksym;`;
  assert.deepEqual(paramNamesFromC(src, "bpf_kfunc_call_test", 4), ["a", "b", "c", "d"]);
  assert.equal(paramNamesFromC(src, "bpf_kfunc_call_test", 3), undefined);
  assert.deepEqual(paramNamesFromC(src, "bpf_task_from_pid", 1), ["pid"]);
  assert.deepEqual(paramNamesFromC(src, "bpf_rcu_read_lock", 0), []);
  assert.deepEqual(paramNamesFromC(src, "cb", 2), ["fn", "buf"]);
  assert.equal(paramNamesFromC(src, "unnamed", 2), undefined, "never invents names");
  assert.equal(nameParams("u64 f(u32, u64)", ["a", "b"]), "u64 f(u32 a, u64 b)");
  assert.equal(
    nameParams("struct task_struct *f(struct task_struct *)", ["p"]),
    "struct task_struct *f(struct task_struct *p)",
  );
});

test("kfunc inspect on the reference object shows the kprobe and the full kfunc prototype", () => {
  const obj = join(tempDir("kfunc-inspect-"), "kfunc.bpf.o");
  compileBpf(join(ROOT, "examples/seed/kfunc.bpf.c"), { output: obj });
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "inspect", obj, "--json"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as {
    programs: { name: string; section: string; type: string; attachTarget: string }[];
    kfuncs: { prototype: string; weak: boolean }[];
  };
  assert.deepEqual(
    report.programs.map((p) => [p.name, p.section, p.type, p.attachTarget]),
    [["handle_kprobe", "kprobe/do_unlinkat", "BPF_PROG_TYPE_KPROBE", "do_unlinkat"]],
  );
  assert.deepEqual(report.kfuncs, [
    {
      name: "bpf_kfunc_call_test",
      lookupName: "bpf_kfunc_call_test",
      prototype: "u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)",
      weak: false,
    },
  ]);
});
