import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { compileFixture, REPO_ROOT, tempDir } from "../helpers/index.ts";

function kfunc(args: string[], input?: string, env?: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    input,
    env: env ?? process.env,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("the reference scenario in userspace: the seed object with kfuncs.ts prints Result: 10 (JIT and interpreter)", () => {
  const obj = compileFixture("examples/seed/kfunc.bpf.c");
  for (const engine of [[], ["--interp"]]) {
    const r = kfunc([
      "uvm",
      "run",
      obj,
      "--program",
      "handle_kprobe",
      "--kfuncs",
      "examples/seed/kfuncs.ts",
      ...engine,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /bpf_trace_printk: BPF triggered do_unlinkat, PID: \d+\. Result: 10\n/);
    assert.match(r.stdout, /handle_kprobe \(kprobe\/do_unlinkat\): r0 = 0/);
  }
  const missing = kfunc(["uvm", "run", obj, "--program", "handle_kprobe"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /kfunc 'bpf_kfunc_call_test' has no implementation/);
  assert.doesNotMatch(missing.stderr, /\n\s+at /, "no stack trace");
});

test("kfunc uvm run of a C file (the README's form) compiles it and leaves nothing in the temp directory", () => {
  const tmp = tempDir("kfunc-uvm-tmpdir-");
  const env = { ...process.env, TMPDIR: tmp };
  // tsx keeps its compile cache in the temp directory too: that one is not ours
  const ours = () => readdirSync(tmp).filter((e) => !e.startsWith("tsx-"));
  const args = ["uvm", "run", "examples/seed/kfunc.bpf.c", "--program", "handle_kprobe"];
  const r = kfunc([...args, "--kfuncs", "examples/seed/kfuncs.ts"], undefined, env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /PID: \d+\. Result: 10\n/);
  assert.deepEqual(ours(), []);
  // and when clang fails
  writeFileSync(join(tmp, "broken.bpf.c"), "int f(void) { return x; }\n");
  const bad = kfunc(["uvm", "run", join(tmp, "broken.bpf.c")], undefined, env);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /broken\.bpf\.c/);
  assert.deepEqual(ours(), ["broken.bpf.c"]);
});

interface Case {
  name: string;
  program: string;
  mem: string;
  result: string;
}

test("kfunc uvm plugin implements the conformance suite's plugin contract", () => {
  const cases = JSON.parse(
    readFileSync(join(REPO_ROOT, "test/fixtures/uvm/bpf_conformance/tests_assembled.json"), "utf8"),
  ) as Case[];
  const spaced = (h: string) => h.replace(/(..)(?!$)/g, "$1 ");
  for (const name of ["mem-len.data", "callx.data", "lock_cmpxchg.data"]) {
    const c = cases.find((x) => x.name === name)!;
    for (const mode of [[], ["--interp"]]) {
      const r = kfunc(["uvm", "plugin", ...mode, ...(c.mem ? [spaced(c.mem)] : [])], spaced(c.program));
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.equal(BigInt(`0x${r.stdout.trim()}`), BigInt.asUintN(64, BigInt(c.result)), name);
    }
  }
  // ldxdw r0, [r1+0] with no memory: r1 is NULL
  const bad = kfunc(["uvm", "plugin"], "79 10 00 00 00 00 00 00 95 00 00 00 00 00 00 00");
  assert.notEqual(bad.code, 0);
  assert.equal(bad.stdout, "");
  assert.match(bad.stderr, /insn 0: wild-access: 8-byte load at 0x0 = r1\+0 \(a NULL pointer\)/);
});

test("kfunc uvm run --raw: r1/r2 = --mem, --helpers get bigint registers, --json reports r0, runs, nsPerRun", () => {
  const dir = tempDir("kfunc-uvm-");
  // r6 = r1; r1 = *(u64 *)(r6 + 0); r2 = r2 (len); call 1; r0 += *(u8 *)(r6 + 8); exit
  const prog = Buffer.from(
    "bf16000000000000" +
      "7961000000000000" +
      "8500000001000000" +
      "7162080000000000" +
      "0f20000000000000" +
      "9500000000000000",
    "hex",
  );
  writeFileSync(join(dir, "p.bin"), prog);
  writeFileSync(join(dir, "mem.bin"), Buffer.from([5, 0, 0, 0, 0, 0, 0, 0, 7]));
  writeFileSync(
    join(dir, "h.mjs"),
    "export default { 1: (a, b) => { if (typeof a !== 'bigint') throw new Error('not bigint'); return a * 100n + b; } };\n",
  );
  const r = kfunc([
    "uvm",
    "run",
    "--raw",
    join(dir, "p.bin"),
    "--mem",
    join(dir, "mem.bin"),
    "--helpers",
    join(dir, "h.mjs"),
    "--repeat",
    "3",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { r0: string; runs: number; nsPerRun: number };
  assert.equal(j.r0, `0x${(5 * 100 + 9 + 7).toString(16)}`);
  assert.equal(j.runs, 3);
  assert.equal(typeof j.nsPerRun, "number");
  const unknown = kfunc([
    "uvm",
    "run",
    "--raw",
    join(dir, "p.bin"),
    "--mem",
    join(dir, "mem.bin"),
    "--interp",
  ]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /insn 2: unknown-helper: no helper with id 1/);
});
