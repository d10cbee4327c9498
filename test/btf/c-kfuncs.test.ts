import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { BTF_INT_SIGNED, BtfBuilder, parseBtf } from "../../src/btf/index.ts";
import { findKfuncs, hasKfuncTags } from "../../src/btf/kfuncs.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";

test("findKfuncs on the running kernel: tagged FUNCs with C prototypes", (t) => {
  if (!existsSync(VMLINUX)) return t.skip(`${VMLINUX} does not exist`);
  const btf = parseBtf(new Uint8Array(readFileSync(VMLINUX)), { source: VMLINUX });
  if (!hasKfuncTags(btf))
    return t.skip("this kernel's BTF has no bpf_kfunc decl tags (kernel < 6.11 or pahole < 1.27)");
  const kfuncs = findKfuncs(btf);
  const tags = [...btf.ownTypes()].filter(
    (d) => d.kind === "DECL_TAG" && d.name === "bpf_kfunc" && d.componentIdx === -1,
  );
  assert.equal(kfuncs.length, new Set(tags.map((d) => (d.kind === "DECL_TAG" ? d.type : 0))).size);
  const names = kfuncs.map((k) => k.name);
  assert.deepEqual(names, [...names].sort());
  const byName = new Map(kfuncs.map((k) => [k.name, k]));
  assert.equal(byName.get("bpf_task_from_pid")?.prototype, "struct task_struct *bpf_task_from_pid(s32 pid)");
  assert.equal(byName.get("bpf_task_release")?.prototype, "void bpf_task_release(struct task_struct *p)");
  assert.equal(btf.typeById(byName.get("bpf_rcu_read_lock")!.id).kind, "FUNC");
  t.diagnostic(`${kfuncs.length} kfuncs, ${kfuncs.filter((k) => k.fastcall).length} fastcall`);
});

test("findKfuncs on split BTF returns only the module's own kfuncs", () => {
  const base = new BtfBuilder({ source: "base" });
  const int = base.add({
    kind: "INT",
    name: "int",
    size: 4,
    encoding: BTF_INT_SIGNED,
    bitOffset: 0,
    bits: 32,
  });
  const bproto = base.add({ kind: "FUNC_PROTO", name: "", returnType: int, params: [] });
  const bfn = base.add({ kind: "FUNC", name: "base_kfunc", type: bproto, linkage: 0 });
  base.add({ kind: "DECL_TAG", name: "bpf_kfunc", type: bfn, componentIdx: -1 });
  const baseBtf = parseBtf(base.encode(), { source: "base" });
  const mod = new BtfBuilder({ base: baseBtf, source: "mod" });
  const proto = mod.add({
    kind: "FUNC_PROTO",
    name: "",
    returnType: int,
    params: [{ name: "x", type: int }],
  });
  const fn = mod.add({ kind: "FUNC", name: "mod_kfunc", type: proto, linkage: 0 });
  const plain = mod.add({ kind: "FUNC", name: "not_a_kfunc", type: proto, linkage: 0 });
  mod.add({ kind: "DECL_TAG", name: "bpf_kfunc", type: fn, componentIdx: -1 });
  mod.add({ kind: "DECL_TAG", name: "bpf_fastcall", type: fn, componentIdx: -1 });
  mod.add({ kind: "DECL_TAG", name: "bpf_kfunc", type: plain, componentIdx: 0 }); // a param tag: not a kfunc
  const btf = parseBtf(mod.encode(), { base: baseBtf, source: "mod" });
  assert.deepEqual(findKfuncs(btf), [
    { name: "mod_kfunc", id: fn, prototype: "int mod_kfunc(int x)", fastcall: true },
  ]);
  assert.equal(hasKfuncTags(btf), true);
  assert.deepEqual(
    findKfuncs(baseBtf).map((k) => k.name),
    ["base_kfunc"],
  );

  const untagged = new BtfBuilder({ base: baseBtf, source: "old" });
  untagged.add({ kind: "FUNC", name: "old_kfunc", type: bproto, linkage: 0 });
  const old = parseBtf(untagged.encode(), { base: baseBtf, source: "old" });
  assert.equal(hasKfuncTags(old), false);
  assert.equal(hasKfuncTags(old, { includeBase: true }), true);
  assert.deepEqual(findKfuncs(old), []);
});
