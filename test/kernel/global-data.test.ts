/**
 * Global data maps are BPF_F_MMAPABLE and mmapped exactly where libbpf's rule says (a section with an exposed
 * variable) and the kernel allows it; a section holding a kptr is read and written through map ops, and
 * its variables keep working. Real clang-19 object (clang 14 drops the kptr type tag), host kernel.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { mmapDecision } from "../../src/kernel/global-data.ts";
import { loadCollection } from "../../src/kernel/index.ts";
import { testRun } from "../../src/kernel/test-run.ts";
import { parseObject } from "../../src/object/index.ts";
import { mapInfo } from "../../src/sys/bpf-obj.ts";
import { BPF_F } from "../../src/sys/constants.ts";
import { compileFixture } from "../helpers/index.ts";
import { requireBpf, vmlinuxHeaderDir } from "./load-helpers.ts";

const CLANG19 = "/usr/bin/clang-19";

function kptrSpec() {
  const obj = compileFixture("load-kptr-globals", { includeDirs: [vmlinuxHeaderDir()], clang: CLANG19 });
  return parseObject(readFileSync(obj), obj);
}

test("which global data sections are mmapable: libbpf's rule, plus kernel-managed fields", (t) => {
  if (!existsSync(CLANG19)) return t.skip(`${CLANG19} is not installed (npm run setup installs clang-19)`);
  const spec = kptrSpec();
  const decide = (name: string) =>
    mmapDecision(
      spec.dataSections.find((d) => d.name === name),
      spec.btf,
    );
  assert.equal(decide(".data").mmap, true);
  assert.equal(decide(".data.statics").mmap, false);
  assert.match(decide(".data.statics").reason, /only static/);
  assert.equal(decide(".bss").mmap, false);
  assert.match(decide(".bss").reason, /'stash' holds a __kptr pointer/);
  assert.equal(decide(".bss.HIDDEN").mmap, false);
  assert.equal(mmapDecision(spec.dataSections[0], undefined).mmap, false, "no BTF: never mmapable (libbpf)");
});

test("a .bss holding a kptr loads; its variables work through map ops, .data stays mmapped", async (t) => {
  if (!requireBpf(t)) return;
  if (!existsSync(CLANG19)) return t.skip(`${CLANG19} is not installed (npm run setup installs clang-19)`);
  using coll = await loadCollection(kptrSpec());
  const flags = (m: string) => mapInfo(coll.map(m).fd).flags & BPF_F.MMAPABLE;
  assert.equal(flags(".bss"), 0, ".bss with a kptr is created without BPF_F_MMAPABLE");
  assert.equal(flags(".data.statics"), 0);
  assert.notEqual(flags(".data"), 0);
  coll.variable("stashed").set(41);
  coll.variable("plain").set(100);
  assert.equal(testRun(coll.program("stash_task")).retval, 0);
  assert.equal(coll.variable("stashed").get(), 42, "a write through map update reached the program");
  assert.equal(coll.variable("seen_pid").get(), process.pid);
  assert.equal(coll.variable("plain").get(), 101);
  assert.equal(coll.variable("only_static").get(), 4);
  // the kernel never copies a kptr out to user space: the field reads as 0 while the task is stashed
  assert.equal(Number(coll.variable("stash").get()), 0);
});
