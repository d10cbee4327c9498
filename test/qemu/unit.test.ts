/**
 * Pieces of the QEMU runner that need no boot: the cpio writer (checked with the system's cpio), apt
 * source parsing, module resolution and vmlinux/BTF extraction against the real cached Debian kernel.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { before, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { sweepStaleTemps } from "../../src/host/cache.ts";
import { dependsNames, parseStanzas } from "../../src/kernels/apt.ts";
import { findDebianArchive, parseDeb822Sources, parseOneLineSources } from "../../src/kernels/sources.ts";
import { writeCpio } from "../../src/qemu/cpio.ts";
import { runScript, shq } from "../../src/qemu/guest-init.ts";
import { bzImageRelease, extractVmlinux, type PreparedKernel, prepareKernel } from "../../src/qemu/index.ts";
import { ensureInitramfs } from "../../src/qemu/initramfs.ts";
import { resolveModules } from "../../src/qemu/modules.ts";

let kernel: PreparedKernel;
before(async () => {
  kernel = await prepareKernel(); // the default kernel; downloads once into the cache
});

test("writeCpio: the system's cpio lists and extracts our newc archive byte-exactly", () => {
  const dir = mkdtempSync(join(tmpdir(), "kfunc-cpio-"));
  try {
    const data = new Uint8Array(1001).map((_, i) => i % 251);
    const bytes = writeCpio([
      { name: "a", mode: 0o040755 },
      { name: "a/odd-size.bin", mode: 0o100644, data },
      { name: "run.sh", mode: 0o100755, data: new TextEncoder().encode("echo hi\n") },
    ]);
    const listing = execFileSync("cpio", ["-t", "--quiet"], { input: bytes }).toString().trim().split("\n");
    assert.deepEqual(listing, ["a", "a/odd-size.bin", "run.sh"]);
    execFileSync("cpio", ["-id", "--quiet"], { input: bytes, cwd: dir });
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, "a/odd-size.bin"))), data);
    assert.equal(
      execFileSync("stat", ["-c", "%a", join(dir, "run.sh")])
        .toString()
        .trim(),
      "755",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("apt sources: one-line and deb822 files give the Debian archive URI and keyring", () => {
  const one = parseOneLineSources(
    "# c\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib\ndeb-src http://x bookworm main\n",
    "s.list",
  );
  assert.deepEqual(one, [
    {
      uri: "http://mirror.example/debian",
      suites: ["bookworm"],
      components: ["main", "contrib"],
      signedBy: "/k.gpg",
      file: "s.list",
    },
  ]);
  const d822 = parseDeb822Sources(
    "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n\nTypes: deb\nEnabled: no\nURIs: http://off\nSuites: bookworm\nComponents: main\n",
    "debian.sources",
  );
  assert.equal(d822.length, 2);
  const archive = findDebianArchive([...d822], "bookworm");
  assert.equal(archive?.uri, "http://deb.debian.org/debian");
  assert.equal(archive?.signedBy, "/usr/share/keyrings/debian-archive-keyring.gpg");
});

test("apt-cache stanzas: Depends names with alternatives and versions", () => {
  const [s] = parseStanzas(
    "Package: linux-headers-6.12.95+deb12-amd64\nVersion: 6.12.95-1~bpo12+1\nDepends: linux-base (>= 4.12~), linux-headers-6.12.95+deb12-common (= 6.12.95-1~bpo12+1), linux-image-x (= 1) | linux-image-x-unsigned (= 1), linux-kbuild-6.12.95+deb12, gcc-12\nDescription: a\n b\n",
  );
  assert.deepEqual(dependsNames(s!.get("Depends")), [
    "linux-base",
    "linux-headers-6.12.95+deb12-common",
    "linux-image-x",
    "linux-image-x-unsigned",
    "linux-kbuild-6.12.95+deb12",
    "gcc-12",
  ]);
});

test("prepareKernel: headers Makefile points at the unpacked -common dir; image is the ELF vmlinux", () => {
  assert.match(kernel.release, /^\d+\.\d+\.\d+.*-amd64$/);
  assert.ok(kernel.headersDir && existsSync(kernel.headersDir));
  const mk = readFileSync(join(kernel.headersDir, "Makefile"), "utf8");
  assert.match(mk, /^include \/.*\/kernels\/.*\/root\/usr\/src\/linux-headers-.*-common\/Makefile$/m);
  assert.doesNotMatch(mk, /^include \/usr\/src\//m);
  const common = /^include (\S+)$/m.exec(mk)![1]!;
  assert.ok(existsSync(common), `${common} exists`);
  assert.equal(kernel.image, kernel.vmlinuxElf);
  const head = readFileSync(kernel.image).subarray(0, 4);
  assert.deepEqual([...head], [0x7f, 0x45, 0x4c, 0x46]);
  assert.equal(
    bzImageRelease(readFileSync(join(kernel.root, "boot", `vmlinuz-${kernel.release}`))),
    kernel.release,
  );
});

test("vmlinux BTF: equals the .BTF that Debian's headers vmlinux carries (an independent copy)", async () => {
  const ours = readFileSync(kernel.btf);
  assert.deepEqual([...ours.subarray(0, 2)], [0x9f, 0xeb], "BTF magic");
  const headersVmlinux = join(kernel.headersDir!, "vmlinux");
  const raw = readFileSync(headersVmlinux);
  if (raw[0] !== 0x7f) {
    // 6.1: no vmlinux shipped; we wrote our BTF there
    assert.deepEqual(raw, ours);
    return;
  }
  // oracle: llvm-objcopy's dump of the headers' own BTF-only vmlinux
  const dumped = join(mkdtempSync(join(tmpdir(), "kfunc-btf-")), "vmlinux.btf");
  execFileSync("llvm-objcopy", ["--dump-section", `.BTF=${dumped}`, headersVmlinux, "/dev/null"]);
  assert.equal(Buffer.compare(readFileSync(dumped), ours), 0, "same bytes as llvm-objcopy's .BTF dump");
  rmSync(dirname(dumped), { recursive: true, force: true });
  // and extraction is deterministic from the bzImage
  const x = await extractVmlinux(
    readFileSync(join(kernel.root, "boot", `vmlinuz-${kernel.release}`)),
    "vmlinuz",
  );
  assert.equal(Buffer.compare(Buffer.from(x.btf!), ours), 0);
});

test("resolveModules: 9p closure from modinfo depends=, dependencies first", async () => {
  const mods = await resolveModules(kernel.modulesDir, ["9p"]);
  const names = mods.map((m) => m.name);
  assert.equal(names.at(-1), "9p");
  assert.ok(names.includes("9pnet"), names.join(" "));
  assert.ok(names.indexOf("9pnet") < names.indexOf("9p"));
  for (const m of mods)
    assert.deepEqual([...m.bytes.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], `${m.name} is plain ELF`);
  await assert.rejects(
    resolveModules(kernel.modulesDir, ["no_such_module_xyz"]),
    /no_such_module_xyz.*not found/,
  );
});

test("initramfs: gzip'd newc with /init, static busybox and the 9p modules in load order", async () => {
  const path = await ensureInitramfs(kernel);
  const bytes = gunzipSync(readFileSync(path));
  const list = execFileSync("cpio", ["-t", "--quiet"], { input: bytes }).toString().split("\n");
  for (const f of ["init", "bin/busybox", "modules/9p.ko", "modules/9pnet_virtio.ko", "modules/order"])
    assert.ok(list.includes(f), `${f} in ${list.join(" ")}`);
});

test("guest run script: arguments are quoted, not interpreted", () => {
  assert.equal(shq("it's $HOME"), `'it'\\''s $HOME'`);
  const s = runScript({ command: ["echo", "$(reboot)", "a b"], cwd: "/w", env: { X: "1 2" }, insmod: [] });
  assert.match(s, /set -- 'echo' '\$\(reboot\)' 'a b'/);
  assert.match(s, /export X='1 2'/);
  const out = execFileSync("sh", ["-c", `set -- 'echo' '$(reboot)' 'a b'; "$@"`]).toString();
  assert.equal(out, "$(reboot) a b\n");
});

test("sweepStaleTemps: removes temp dirs of dead processes only (a killed unpack never lingers)", () => {
  const dir = mkdtempSync(join(tmpdir(), "kfunc-sweep-"));
  try {
    // a pid that is certainly dead: a child that has exited
    const dead = execFileSync("sh", ["-c", "echo $$"]).toString().trim();
    const stale = join(dir, `.tmp-6.12.95+deb12-amd64-${dead}-abc123`);
    const mine = join(dir, `.tmp-6.12.95+deb12-amd64-${process.pid}-def456`);
    const done = join(dir, "6.12.95+deb12-amd64");
    for (const d of [stale, mine, done]) mkdirSync(d);
    sweepStaleTemps(dir);
    assert.equal(existsSync(stale), false);
    assert.equal(existsSync(mine), true);
    assert.equal(existsSync(done), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("prepareKernel: an exact cached release needs no apt at all (stubbed apt tools fail)", async () => {
  const stubs = mkdtempSync(join(tmpdir(), "kfunc-stubs-"));
  const path = process.env["PATH"];
  try {
    for (const t of ["apt-get", "apt-cache", "dpkg"])
      writeFileSync(join(stubs, t), "#!/bin/sh\nexit 99\n", { mode: 0o755 });
    process.env["PATH"] = `${stubs}:${path}`;
    const exact = await prepareKernel(`debian:${kernel.release}`);
    assert.deepEqual({ ...exact, spec: kernel.spec }, kernel);
  } finally {
    process.env["PATH"] = path;
    rmSync(stubs, { recursive: true, force: true });
  }
});
