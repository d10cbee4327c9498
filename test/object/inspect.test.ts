import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";
import { findPreparedKernel } from "./prepared-kernel.ts";

function kfunc(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const seedObj = () => compileFixture(join(REPO_ROOT, "examples/seed/kfunc.bpf.c"));

test("kfunc inspect <object>: program, attach target, kfunc prototype (text)", () => {
  const r = kfunc("inspect", seedObj());
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /handle_kprobe {2}SEC\("kprobe\/do_unlinkat"\) {2}BPF_PROG_TYPE_KPROBE/);
  assert.match(r.stdout, /attach target: do_unlinkat; \d+ instructions; calls kfuncs: bpf_kfunc_call_test/);
  assert.match(r.stdout, /kfuncs \(1\):\n {2}u64 bpf_kfunc_call_test\(u32 a, u64 b, u32 c, u64 d\)\n/);
  assert.doesNotMatch(r.stdout, /__weak/);
});

test("kfunc inspect --json <object>: maps, globals, weak kfuncs, CO-RE counts", () => {
  const maps = kfunc("inspect", "--json", compileFixture("obj-maps"));
  assert.equal(maps.status, 0, maps.stderr);
  const m = JSON.parse(maps.stdout);
  assert.equal(m.kind, "object");
  assert.deepEqual(m.programs.map((p: { name: string }) => p.name).sort(), ["first", "second", "tail_a"]);
  const hash = m.maps.find((x: { name: string }) => x.name === "events_hash");
  assert.equal(hash.keyType, "u32");
  assert.equal(hash.valueType, "struct event");
  assert.equal(hash.maxEntries, 1024);
  assert.equal(m.coreRelocations.total, 2);
  assert.deepEqual(m.coreRelocations.byKind, { FIELD_BYTE_OFFSET: 2 });
  assert.ok(m.globals.some((g: { section: string }) => g.section === ".data.custom"));
  const weak = JSON.parse(kfunc("inspect", "--json", compileFixture("obj-weak")).stdout);
  const k = weak.kfuncs.find((x: { name: string }) => x.name === "bpf_kfunc_call_test___v2");
  assert.deepEqual(k, {
    name: "bpf_kfunc_call_test___v2",
    lookupName: "bpf_kfunc_call_test",
    prototype: "u64 bpf_kfunc_call_test___v2(u32 a, u64 b)",
    weak: true,
  });
});

test("kfunc inspect <module> --base: resolved set with full prototypes; a wrong base is reported", (t) => {
  const kernel = findPreparedKernel();
  if (!kernel) {
    t.skip(
      "no prepared kernel with a kbuild dir and vmlinux in the kfunc-kit cache (>= 6.10; run `kfunc vm prepare` first)",
    );
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "kfunc-kit-seed-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(REPO_ROOT, "examples/seed"), dir, { recursive: true });
  const mk = spawnSync("make", [`KDIR=${kernel.headersDir}`], { cwd: dir, encoding: "utf8" });
  assert.equal(mk.status, 0, mk.stderr);
  const ko = join(dir, "hello.ko");
  const ok = kfunc("inspect", ko, "--base", kernel.btf);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /kernel module 'hello'/);
  assert.match(ok.stdout, /BTF: yes/);
  assert.match(ok.stdout, /ids resolved/);
  assert.match(ok.stdout, /\] u64 bpf_kfunc_call_test\(u32 a, u64 b, u32 c, u64 d\)/);
  // the running kernel's BTF is not the base of a module built for another kernel: say so, print no prototypes
  if (release() === kernel.release) {
    t.diagnostic(`host runs ${release()}, the module's own kernel: the mismatch case is not testable here`);
    return;
  }
  const bad = kfunc("inspect", "--json", ko, "--base", "/sys/kernel/btf/vmlinux");
  assert.equal(bad.status, 0, bad.stderr);
  const j = JSON.parse(bad.stdout);
  assert.match(j.baseProblem, /base BTF does not match|does not parse on base/);
  assert.equal(j.kfuncSets[0].functions[0].prototype, undefined);
});

test("kfunc inspect: missing file is a usage error (exit 2), a non-ELF file a failure (exit 1), no stack traces", () => {
  const missing = kfunc("inspect", "/nonexistent/x.o");
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /file '\/nonexistent\/x.o' does not exist/);
  const notElf = kfunc("inspect", join(REPO_ROOT, "package.json"));
  assert.equal(notElf.status, 1);
  assert.match(notElf.stderr, /not an ELF file/);
  for (const s of [missing.stderr, notElf.stderr]) assert.doesNotMatch(s, /\n\s+at /);
});
