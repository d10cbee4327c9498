/**
 * The compiled CLI (dist/, what `kfunc` and `npm run demo` run) — the other CLI tests run the TypeScript
 * sources through tsx, which hides problems that only exist in compiled output.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
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
