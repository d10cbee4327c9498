/** Bad input to `kfunc vm`: each error names the problem and the fix, with exit 2 for usage errors. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "./helpers.ts";

test("unknown kernel spec → usage error (exit 2) listing valid specs", () => {
  const r = runCli(["vm", "run", "--kernel", "fedora:40", "--", "true"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown kernel spec 'fedora:40'/);
  assert.match(r.stderr, /hint: use debian:<suite>/);
});

test("Debian's cloud flavour (no 9p) → usage error pointing at the generic one", () => {
  const r = runCli(["vm", "prepare", "--kernel", "debian:6.12.95+deb12-cloud-amd64"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cloud flavour has no 9p/);
  assert.match(r.stderr, /debian:6.12.95\+deb12-amd64/);
});

test("a kernel image path that does not exist → usage error", () => {
  const r = runCli(["vm", "run", "--kernel", "./no/such/bzImage", "--", "true"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /kernel image '.\/no\/such\/bzImage': no such file/);
});

test("--insmod of a missing file, bad --cpus, no command → usage errors", () => {
  assert.match(
    runCli(["vm", "run", "--insmod", "/nonexistent.ko", "--", "true"]).stderr,
    /--insmod '\/nonexistent.ko': no such file/,
  );
  const cpus = runCli(["vm", "run", "--cpus", "zero", "--", "true"]);
  assert.equal(cpus.code, 2);
  assert.match(cpus.stderr, /--cpus 'zero'/);
  assert.equal(runCli(["vm", "run"]).code, 2);
});

test("unwritable cache dir → clear error naming KFUNC_KIT_CACHE", () => {
  const r = runCli(["vm", "prepare", "--cache", "/proc/kfunc-kit-cache"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cache dir '\/proc\/kfunc-kit-cache': not writable/);
  assert.match(r.stderr, /hint: set KFUNC_KIT_CACHE/);
});

test("a Debian suite that does not exist → error naming the suite; sources are restored", () => {
  const cache = mkdtempSync(join(tmpdir(), "kfunc-badsuite-"));
  try {
    const r = runCli(["vm", "prepare", "--cache", cache, "--kernel", "debian:no-such-suite"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no-such-suite/);
    assert.match(r.stderr, /hint: .*suite/);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test("an exact release apt does not know → error pointing at `kfunc vm kernels`", () => {
  const r = runCli(["vm", "prepare", "--kernel", "debian:9.9.9-99-amd64"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no package 'linux-image-9.9.9-99-amd64-unsigned'/);
  assert.match(r.stderr, /kfunc vm kernels/);
});

test("no apt-get / no qemu-system-x86_64 on PATH → error naming the package to install", () => {
  const bin = mkdtempSync(join(tmpdir(), "kfunc-nobin-"));
  const cache = mkdtempSync(join(tmpdir(), "kfunc-noapt-"));
  try {
    symlinkSync(process.execPath, join(bin, "node"));
    const env = { ...process.env, PATH: bin };
    const noApt = runCli(["vm", "prepare", "--cache", cache], { env });
    assert.equal(noApt.code, 1);
    assert.match(noApt.stderr, /'apt-get' not found/);
    assert.match(noApt.stderr, /apt-get install apt/);
    const noQemu = runCli(["vm", "run", "--", "true"], { env });
    assert.equal(noQemu.code, 1);
    assert.match(noQemu.stderr, /'qemu-system-x86_64' not found/);
    assert.match(noQemu.stderr, /apt-get install qemu-system-x86/);
  } finally {
    rmSync(bin, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  }
});

test("vm kernels --json lists the cached default kernel and what each suite points at", () => {
  const r = runCli(["vm", "kernels", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as {
    cached: { release: string }[];
    suites: { suite: string; release: string; cached: boolean }[];
    available: string[];
  };
  const bpo = j.suites.find((s) => s.suite.endsWith("-backports"));
  assert.ok(bpo, "a backports suite");
  assert.ok(
    j.cached.some((c) => c.release === bpo.release),
    "default kernel is cached (other tests prepared it)",
  );
  assert.ok(j.available.includes(bpo.release));
});
