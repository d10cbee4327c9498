/**
 * `kfunc gen skeleton` and `kfunc build --skeleton` as a user runs them (a child process): the same object
 * gives the same bytes; --check passes on a current skeleton and fails (exit 1, naming the file and the
 * fix) on a stale or missing one; --js writes the pair; bad input exits 2 with a message, no stack trace.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { compileFixture, REPO_ROOT, tempDir } from "../helpers/index.ts";

function kfunc(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), ...args], {
    encoding: "utf8",
    cwd: REPO_ROOT,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("gen skeleton: identical bytes on every run; --check 0 when current, 1 when stale or missing", () => {
  const obj = compileFixture("skel-shapes");
  const dir = tempDir("kfunc-kit-skel-cli-");
  const out = join(dir, "shapes.skel.ts");
  const a = kfunc("gen", "skeleton", obj, "-o", out, "--name", "shapes");
  assert.equal(a.status, 0, a.stderr);
  assert.equal(a.stdout.trim(), out);
  const first = readFileSync(out);
  assert.equal(kfunc("gen", "skeleton", obj, "-o", out, "--name", "shapes").status, 0);
  assert.deepEqual(readFileSync(out), first);
  const ok = kfunc("gen", "skeleton", obj, "-o", out, "--name", "shapes", "--check");
  assert.equal(ok.status, 0, ok.stderr);
  writeFileSync(out, `${first.toString()}// edited\n`);
  const stale = kfunc("gen", "skeleton", obj, "-o", out, "--name", "shapes", "--check");
  assert.equal(stale.status, 1);
  assert.match(stale.stderr, new RegExp(`${out.replace(/[.]/g, "\\.")} is out of date with `));
  assert.match(stale.stderr, /hint: regenerate it: kfunc gen skeleton /);
  // --check writes nothing
  assert.match(readFileSync(out, "utf8"), /\/\/ edited\n$/);
  const json = kfunc("gen", "skeleton", obj, "-o", join(dir, "none.skel.ts"), "--check", "--json");
  assert.equal(json.status, 1);
  assert.equal(JSON.parse(json.stdout).ok, false);
  assert.ok(!existsSync(join(dir, "none.skel.ts")));
});

test("gen skeleton --js writes the .js and .d.ts pair; --path leaves the object out", () => {
  const obj = compileFixture("skel-perf");
  const dir = tempDir("kfunc-kit-skel-cli-");
  const r = kfunc("gen", "skeleton", obj, "-o", join(dir, "p.skel.js"), "--js", "--json");
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).files, [join(dir, "p.skel.js"), join(dir, "p.skel.d.ts")]);
  assert.match(readFileSync(join(dir, "p.skel.d.ts"), "utf8"), /export declare function open\(\): Opened;/);
  assert.match(readFileSync(join(dir, "p.skel.js"), "utf8"), /export function open\(\) \{/);
  const p = kfunc("gen", "skeleton", obj, "-o", join(dir, "q.skel.ts"), "--path");
  assert.equal(p.status, 0, p.stderr);
  const text = readFileSync(join(dir, "q.skel.ts"), "utf8");
  assert.doesNotMatch(text, /const OBJECT/);
  assert.match(text, /readSkeletonObject\(new URL\("\.\.?\/.*skel-perf.*\.o", import\.meta\.url\)/);
});

test("gen skeleton: bad input exits 2 with a message naming the item and the fix", () => {
  const obj = compileFixture("attach-cli");
  const cases: Array<[string[], RegExp]> = [
    [["gen", "skeleton", "/nonexistent.o"], /object '\/nonexistent\.o' does not exist/],
    [["gen", "skeleton", obj, "--record", "events"], /--record 'events': expected MAP=STRUCT/],
    [
      ["gen", "skeleton", obj, "--record", "evts=event"],
      /no map named 'evts'[\s\S]*hint: maps: events, opens/,
    ],
    [["gen", "skeleton", obj, "--embed", "--path"], /--embed and --path exclude each other/],
  ];
  for (const [args, msg] of cases) {
    const r = kfunc(...args, "-o", join(tmpdir(), `kk-skel-bad-${process.pid}.ts`));
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});
