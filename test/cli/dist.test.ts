/**
 * The compiled CLI (dist/, what `kfunc` and `npm run demo` run) — the other CLI tests run the TypeScript
 * sources through tsx, which hides problems that only exist in compiled output.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { compileFixture, REPO_ROOT, requireRoot } from "../helpers/index.ts";

const kfunc = (...args: string[]) =>
  spawnSync(process.execPath, ["bin/kfunc.js", ...args], { cwd: REPO_ROOT, encoding: "utf8" });

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
  const packet = join(mkdtempSync(join(tmpdir(), "kfunc-dist-")), "drop-me.bin");
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
  const dir = mkdtempSync(join(tmpdir(), "kfunc-version-"));
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
  // main.ts's copy (what commander prints for `kfunc <verb> --version`-style parses) agrees
  const main = readFileSync(join(REPO_ROOT, "src", "cli", "main.ts"), "utf8");
  assert.match(main, new RegExp(`const VERSION = "${version.replace(/\./g, "\\.")}"`));
});
