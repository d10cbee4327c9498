/**
 * The compiled CLI (dist/, what `kfunc` and `npm run demo` run) — the other CLI tests run the TypeScript
 * sources through tsx, which hides problems that only exist in compiled output.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { compileFixture, REPO_ROOT, requireRoot, tempDir } from "../helpers/index.ts";

const kfunc = (...args: string[]) =>
  spawnSync(process.execPath, ["bin/kfunc.js", ...args], { cwd: REPO_ROOT, encoding: "utf8" });
const kfuncEnv = (env: Record<string, string>, ...args: string[]) =>
  spawnSync(process.execPath, ["bin/kfunc.js", ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: { ...process.env, ...env },
  });

before(() => {
  const b = spawnSync("npm", ["run", "-s", "build"], { cwd: REPO_ROOT, encoding: "utf8" });
  assert.equal(b.status, 0, `npm run build failed:\n${b.stdout}${b.stderr}`);
});

test("every verb of the compiled CLI answers --help", () => {
  const verbs = [
    "inspect",
    "btf dump",
    "kfuncs",
    "run",
    "test-run",
    "build",
    "module build",
    "module header",
    "vm run",
    "vm kernels",
    "vm prepare",
    "demo",
    "doctor",
  ];
  for (const v of verbs) {
    const r = kfunc(...v.split(" "), "--help");
    assert.equal(r.status, 0, `kfunc ${v} --help: exit ${r.status}\n${r.stderr}`);
    assert.match(r.stdout, /^Usage: kfunc /m, `kfunc ${v} --help`);
  }
  assert.equal(kfunc("no-such-verb").status, 2);
});

test("compiled CLI: test-run loads, runs and closes (every lazy import resolves)", (t) => {
  if (!requireRoot(t)) return;
  const obj = compileFixture("attach-testrun");
  const packet = join(tempDir("kfunc-dist-"), "drop-me.bin");
  const eth = Buffer.alloc(64);
  eth.writeUInt16BE(0x88b5, 12); // the fixture's ETH_P_DROP_ME
  writeFileSync(packet, eth);
  const r = kfunc("test-run", obj, "--program", "xdp_filter", "--data-in", packet, "--json");
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { retval: number; program: string };
  assert.equal(j.program, "xdp_filter");
  assert.equal(j.retval, 1, "XDP_DROP for the drop-me ethertype");
  const bad = kfunc("test-run", obj, "--program", "nope");
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /no program named 'nope'/);
  assert.doesNotMatch(bad.stderr, /internal error/);
});

test("kfunc --version answers from bin/kfunc.js alone, with the package's version (as commander's would)", () => {
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
    version: string;
  };
  for (const flag of ["--version", "-V"]) {
    const r = kfunc(flag);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${version}\n`);
  }
  // the fast path loads nothing of the CLI: a copy of bin/ next to a package.json, with no dist/, answers
  const dir = tempDir("kfunc-version-");
  mkdirSync(join(dir, "bin"));
  for (const f of ["bin/kfunc.js", "bin/package.json", "package.json"])
    copyFileSync(join(REPO_ROOT, f), join(dir, f));
  const alone = spawnSync(process.execPath, [join(dir, "bin", "kfunc.js"), "--version"], {
    encoding: "utf8",
  });
  assert.equal(alone.stdout, `${version}\n`, alone.stderr);
  const noDist = spawnSync(process.execPath, [join(dir, "bin", "kfunc.js"), "inspect"], { encoding: "utf8" });
  assert.equal(noDist.status, 1);
  assert.match(noDist.stderr, /the CLI is not built yet/);
  // cli.ts's copy (what commander prints for `kfunc <verb> --version`-style parses) agrees
  const main = readFileSync(join(REPO_ROOT, "src", "cli", "cli.ts"), "utf8");
  assert.match(main, new RegExp(`const VERSION = "${version.replace(/\./g, "\\.")}"`));
});

test("the bundled CLI runs through its per-verb code cache: made, used, a rejected one replaced", () => {
  assert.ok(
    existsSync(join(REPO_ROOT, "dist", "cli", "bundle", "start.cjs")),
    "npm run build writes the loader",
  );
  const obj = compileFixture("attach-testrun");
  const cache = mkdtempSync(join(tmpdir(), "kfunc-cli-cc-"));
  try {
    const env = { KFUNC_KIT_CACHE: cache };
    const modules = kfuncEnv({ ...env, KFUNC_KIT_BUNDLE: "0" }, "btf", "dump", obj);
    assert.equal(modules.status, 0, modules.stderr);
    assert.ok(!existsSync(join(cache, "cli-code-cache")), "the ES modules keep no code cache");
    const first = kfuncEnv(env, "btf", "dump", obj);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, modules.stdout, "the bundle prints what the modules print");
    const kept = readdirSync(join(cache, "cli-code-cache"));
    assert.equal(kept.length, 1);
    assert.match(kept[0]!, /^[0-9a-f]{16}-btf-.*\.bin$/, "one cache, named by bundle and verb");
    const file = join(cache, "cli-code-cache", kept[0]!);
    assert.ok(statSync(file).size > 10_000, "the cache holds compiled code");
    const made = statSync(file).mtimeMs;
    const second = kfuncEnv(env, "btf", "dump", obj);
    assert.equal(second.stdout, modules.stdout);
    assert.equal(statSync(file).mtimeMs, made, "an accepted cache is not written again");
    writeFileSync(file, Buffer.alloc(4096, 7));
    const rejected = kfuncEnv(env, "btf", "dump", obj);
    assert.equal(rejected.status, 0, rejected.stderr);
    assert.equal(rejected.stdout, modules.stdout, "a rejected cache costs a compile, nothing else");
    assert.ok(statSync(file).size > 10_000, "and is replaced");
    const off = kfuncEnv({ ...env, KFUNC_KIT_CLI_CODE_CACHE: "0" }, "inspect", obj);
    assert.equal(off.status, 0, off.stderr);
    assert.equal(
      readdirSync(join(cache, "cli-code-cache")).length,
      1,
      "KFUNC_KIT_CLI_CODE_CACHE=0 keeps none",
    );
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test("the bundled CLI finds the files next to its modules (include/ for kfunc build)", () => {
  const dir = mkdtempSync(join(tmpdir(), "kfunc-cli-include-"));
  try {
    const src = join(dir, "p.bpf.c");
    writeFileSync(
      src,
      `#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\n#include "kfunc_kit.h"\nchar LICENSE[] SEC("license") = "GPL";\nSEC("xdp") int pass(struct xdp_md *ctx) { return XDP_PASS; }\n`,
    );
    const r = kfuncEnv({ KFUNC_KIT_CACHE: dir }, "build", src, "-o", join(dir, "p.o"), "--kernel", "host");
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(dir, "p.o")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the bundled CLI imports a user's TypeScript module (uvm --kfuncs), from a fresh and a kept code cache", () => {
  const obj = compileFixture("examples/seed/kfunc.bpf.c");
  const cache = mkdtempSync(join(tmpdir(), "kfunc-cli-uvm-"));
  try {
    for (const run of ["fresh", "cached"]) {
      const r = kfuncEnv(
        { KFUNC_KIT_CACHE: cache },
        ...["uvm", "run", obj, "--program", "handle_kprobe", "--kfuncs", "examples/seed/kfuncs.ts"],
      );
      assert.equal(r.status, 0, `${run}: ${r.stderr}`);
      assert.match(r.stdout, /Result: 10\n/, run);
    }
    assert.equal(readdirSync(join(cache, "cli-code-cache")).length, 1);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
