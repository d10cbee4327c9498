/**
 * Class 3 of the reliability probe (P1-04, P1-07, P1-10, P1-24, P1-29, P1-31, P6-07): a user's mistake
 * with a file is never an "internal error". Every verb that reads a file is driven through each problem
 * (a directory, a 3 GiB sparse file, no read permission as `nobody`, a missing path), every verb that
 * writes one through a directory, a missing directory and an unwritable place; a closed stdout ends every
 * verb quietly (141); a damaged cached kernel is named with the fix.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { defaultCacheDir } from "../../src/host/cache.ts";
import { type PreparedKernel, prepareKernel } from "../../src/qemu/index.ts";
import { readModule } from "../../src/qemu/modules.ts";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";
import { all, kfunc, MAIN, userError } from "./cli.ts";

let T: string;
let obj: string; // attach-testrun: xdp, tc, socket, syscall, raw_tp
let ko: string; // a module with BTF (dummy.ko of the default QEMU kernel)
let kernel: PreparedKernel;
const NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "HOME=/tmp"];

before(async () => {
  T = mkdtempSync(join(tmpdir(), "kfunc-harden-inputs-"));
  chmodSync(T, 0o755);
  obj = join(T, "testrun.bpf.o");
  copyFileSync(compileFixture("attach-testrun.bpf.c"), obj);
  chmodSync(obj, 0o644);
  kernel = await prepareKernel();
  const xz = join(kernel.modulesDir, "kernel", "drivers", "net", "dummy.ko.xz");
  ko = join(T, "dummy.ko");
  writeFileSync(ko, await readModule(xz));
  chmodSync(ko, 0o644);
  mkdirSync(join(T, "adir"));
  writeFileSync(join(T, "huge.o"), "");
  // sparse: 3 GiB that take no disk
  await new Promise<void>((res, rej) =>
    spawn("truncate", ["-s", "3G", join(T, "huge.o")], { stdio: "inherit" }).on("close", (c) =>
      c === 0 ? res() : rej(new Error(`truncate exit ${c}`)),
    ),
  );
  copyFileSync(obj, join(T, "noperm.o"));
  chmodSync(join(T, "noperm.o"), 0o600);
  writeFileSync(join(T, "noperm.c"), "int x;\n");
  chmodSync(join(T, "noperm.c"), 0o600);
});
after(() => rmSync(T, { recursive: true, force: true }));

/** Every verb's file arguments, with `F` where the bad file goes. */
const readers = (): string[][] => [
  ["inspect", "F"],
  ["inspect", ko, "--base", "F"],
  ["btf", "dump", "F"],
  ["btf", "dump", ko, "--base", "F"],
  ["run", "F", "--duration", "0.1"],
  ["test-run", "F", "-p", "xdp_filter"],
  ["test-run", obj, "-p", "xdp_filter", "--data-in", "F"],
  ["test-run", obj, "-p", "sys_add", "--ctx-in", "F"],
  ["module", "header", "F"],
  ["module", "header", ko, "--base", "F"],
  ["vm", "run", "--insmod", "F", "--", "true"],
];
const sub = (args: string[], f: string) => args.map((a) => (a === "F" ? f : a));

test("P1-04 a directory as the file: every verb names it, exit 1, no internal error", async () => {
  const dir = join(T, "adir");
  const rs = await all(readers().map((a) => () => kfunc(sub(a, dir))));
  const bad = rs.map((r) => userError(r, dir, /is a directory/)).filter(Boolean);
  assert.deepEqual(bad, []);
  const build = await kfunc(["build", dir]);
  assert.equal(userError(build, dir, /is a directory/, 2), undefined);
});

test("P1-07 a file over 2 GiB: every verb names it and the limit, before reading it", async () => {
  const huge = join(T, "huge.o");
  const rs = await all(readers().map((a) => () => kfunc(sub(a, huge))));
  assert.deepEqual(
    rs.map((r) => userError(r, huge, /3221225472 bytes, over the 2 GiB limit/)).filter(Boolean),
    [],
  );
});

test("P1-09 a missing file: every verb says it does not exist, exit 2", async () => {
  const missing = join(T, "nonexist.o");
  const rs = await all(readers().map((a) => () => kfunc(sub(a, missing))));
  assert.deepEqual(
    rs.map((r) => userError(r, missing, /does not exist|no such file/, 2)).filter(Boolean),
    [],
  );
});

test("P1-10 no read permission (as nobody): every reading verb names the file and the fix", async () => {
  const np = join(T, "noperm.o");
  const verbs = readers().filter((a) => a[0] !== "vm"); // vm run as nobody stops at the cache first
  const rs = await all(verbs.map((a) => () => kfunc(sub(a, np), { prefix: NOBODY })));
  assert.deepEqual(
    rs
      .map((r) => userError(r, np, /permission denied[\s\S]*hint: run as a user who may read it/))
      .filter(Boolean),
    [],
  );
  // clang reads the source itself: its message names the file
  const c = await kfunc(
    ["build", join(T, "noperm.c"), "-o", join(tmpdir(), `harden-nobody-${process.pid}.o`)],
    {
      prefix: NOBODY,
      env: { KFUNC_KIT_CACHE: defaultCacheDir() },
    },
  );
  assert.ok(!c.stderr.includes("internal error"), c.stderr);
  assert.notEqual(c.status, 0);
});

test("P1-24 -o: a directory, a missing directory, an unwritable place are named with the fix", async () => {
  const base = join(T, "vmlinux.btf");
  copyFileSync(kernel.btf, base);
  chmodSync(base, 0o644);
  const cases: [string, RegExp][] = [
    [join(T, "adir"), /is a directory, not a file[\s\S]*hint: name a file/],
    [join(T, "nodir", "x.h"), /directory '.*nodir' does not exist[\s\S]*mkdir -p/],
  ];
  for (const [out, pattern] of cases) {
    const r = await kfunc(["module", "header", ko, "--base", base, "-o", out]);
    assert.equal(userError(r, out, pattern), undefined);
  }
  const ro = join(T, "ro.h");
  const r = await kfunc(["module", "header", ko, "--base", base, "-o", ro], { prefix: NOBODY });
  assert.equal(userError(r, ro, /permission denied/), undefined);
  assert.ok(!existsSync(ro));
  const ok = join(T, "ok.h");
  const good = await kfunc(["module", "header", ko, "--base", base, "-o", ok]);
  assert.equal(good.status, 0, good.stderr);
  assert.match(readFileSync(ok, "utf8"), /#ifndef __DUMMY_KFUNCS_H/);
  const b = await kfunc([
    "build",
    join(REPO_ROOT, "test/fixtures/attach-testrun.bpf.c"),
    "-o",
    join(T, "adir"),
  ]);
  assert.equal(userError(b, join(T, "adir"), /is a directory/, 2), undefined);
});

test("P1-29 an unwritable cache for kfunc build: 'cache dir … not writable' and the fix", async () => {
  const cache = join(T, "nobody-cache");
  const r = await kfunc(["build", join(REPO_ROOT, "test/fixtures/attach-testrun.bpf.c"), "-o", "/tmp/x.o"], {
    prefix: NOBODY,
    env: { KFUNC_KIT_CACHE: cache },
  });
  assert.equal(userError(r, cache, /not writable[\s\S]*hint: set KFUNC_KIT_CACHE/), undefined);
});

test("P6-07 a cached kernel that lost a file: every verb that uses it says it is damaged and how to fix it", async () => {
  const cache = join(T, "cache");
  const dir = join(cache, "kernels", kernel.release);
  mkdirSync(dir, { recursive: true });
  const real = join(defaultCacheDir(), "kernels", kernel.release);
  copyFileSync(join(real, "kernel.json"), join(dir, "kernel.json"));
  symlinkSync(join(real, "root"), join(dir, "root"));
  if (existsSync(join(real, "vmlinux"))) symlinkSync(join(real, "vmlinux"), join(dir, "vmlinux"));
  // no vmlinux.btf
  const spec = `debian:${kernel.release}`;
  const env = { KFUNC_KIT_CACHE: cache };
  const rs = await all([
    () => kfunc(["vm", "prepare", "--kernel", spec], { env }),
    () =>
      kfunc(
        [
          "build",
          join(REPO_ROOT, "test/fixtures/attach-testrun.bpf.c"),
          "-o",
          join(T, "k.o"),
          "--kernel",
          spec,
        ],
        { env },
      ),
    () =>
      kfunc(
        ["module", "build", join(REPO_ROOT, "examples/seed"), "--kernel", spec, "--out", join(T, "seed")],
        { env },
      ),
  ]);
  assert.deepEqual(
    rs
      .map((r) =>
        userError(r, join(dir, "vmlinux.btf"), /is damaged[\s\S]*hint: remove it and prepare it again/),
      )
      .filter(Boolean),
    [],
  );
});

/** Runs the CLI with its stdout closed before it writes: a pipe whose reader is gone. */
function closedStdout(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stderr }));
  });
}

test("P1-31 a closed stdout ends every verb quietly with 141: no EPIPE stack trace", async () => {
  const ctx = join(T, "ctx65535.bin");
  writeFileSync(ctx, Buffer.alloc(65535));
  const trace = compileFixture("attach-trace.bpf.c");
  const rs = await all(
    [
      ["test-run", obj, "-p", "sys_add", "--ctx-in", ctx],
      ["test-run", obj, "-p", "sys_add", "--ctx-in", ctx, "--json"],
      ["run", trace, "--json", "--duration", "3"],
      ["inspect", obj],
      ["btf", "dump", "/sys/kernel/btf/vmlinux"],
      ["kfuncs"],
      ["module", "header", ko, "--base", kernel.btf],
    ].map((a) => () => closedStdout(a).then((r) => ({ a, ...r }))),
  );
  for (const r of rs) {
    assert.ok(!/EPIPE|Unhandled|internal error/.test(r.stderr), `${r.a.join(" ")}:\n${r.stderr}`);
    assert.equal(r.status, 141, `${r.a.join(" ")}: exit ${r.status}\n${r.stderr}`);
  }
});
