/**
 * `kfunc vm run` end to end: each test boots the real Debian kernel under QEMU (TCG here, ~4-5 s a boot),
 * so checks are combined into few boots. Never skipped: QEMU and the kernel download are requirements.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type PreparedKernel, prepareKernel } from "../../src/qemu/index.ts";
import { readModule } from "../../src/qemu/modules.ts";
import { cliArgs, qemuProcesses, runCli, spawnCli, waitFor } from "./helpers.ts";

let kernel: PreparedKernel;
let work: string;

before(async () => {
  kernel = await prepareKernel();
  work = mkdtempSync(join(tmpdir(), "kfunc-vmtest-"));
});
after(() => rmSync(work, { recursive: true, force: true }));

test("vm run: release, exit code 42, separate stdout/stderr, shared dir rw, --insmod, node, --env", async () => {
  // a small module from the kernel's own modules dir, decompressed (busybox insmod takes plain .ko)
  const dummyXz = execFileSync("find", [kernel.modulesDir, "-name", "dummy.ko*"])
    .toString()
    .trim()
    .split("\n")[0]!;
  const dummy = join(work, "dummy.ko");
  writeFileSync(dummy, await readModule(dummyXz));
  const script = [
    "uname -r",
    "echo to-stderr >&2",
    "grep -o '^dummy ' /proc/modules",
    "echo written-in-guest > from-guest.txt",
    `node -e 'console.log("node", process.version, process.env.KFUNC_TEST)'`,
    "pwd",
    "ls --version | head -n1",
    "sha256sum < /sys/kernel/btf/vmlinux | cut -d' ' -f1",
    "exit 42",
  ].join("; ");
  const r = runCli(
    [
      "vm",
      "run",
      "--json",
      "--insmod",
      dummy,
      "--share",
      work,
      "-e",
      "KFUNC_TEST=hello there",
      "--",
      "sh",
      "-c",
      script,
    ],
    { cwd: work },
  );
  assert.equal(r.code, 42, r.stderr);
  const j = JSON.parse(r.stdout) as { exitCode: number; stdout: string; stderr: string; console: string };
  assert.equal(j.exitCode, 42);
  assert.equal(
    j.stdout,
    `${kernel.release}\ndummy \nnode ${process.version} hello there\n${work}\n${execFileSync("ls", ["--version"]).toString().split("\n")[0]}\n${createHash("sha256").update(readFileSync(kernel.btf)).digest("hex")}\n`,
    "stdout: uname -r, /proc/modules, node -e, cwd, the host's own ls, the guest's BTF == our vmlinux.btf — nothing else",
  );
  assert.equal(j.stderr, "to-stderr\n");
  assert.doesNotMatch(j.console, /to-stderr|written-in-guest/);
  assert.equal(readFileSync(join(work, "from-guest.txt"), "utf8"), "written-in-guest\n");
});

test("vm run streams: exit 1, 30000 lines of stdout byte-exact on our stdout, stderr apart, no console", () => {
  const r = runCli(
    ["vm", "run", "--share", work, "--", "sh", "-c", "seq 1 30000; echo err-line >&2; exit 1"],
    {
      cwd: work,
    },
  );
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, execFileSync("seq", ["1", "30000"]).toString(), "nothing lost, nothing added");
  assert.match(r.stderr, /^err-line$/m);
  assert.doesNotMatch(r.stderr, /sysrq|Power down/, "kernel console not mixed into stderr");
});

test("vm run: the command is the host's binary found on PATH, with argv[0] as given (no builtin, no applet)", () => {
  // the run script is busybox ash, whose own ls would refuse --version and whose echo is a builtin
  const ls = runCli(["vm", "run", "--share", work, "--", "ls", "--version"], { cwd: work });
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /^ls \(GNU coreutils\)/);
  const argv0 = runCli(
    ["vm", "run", "--share", work, "--", "bash", "-c", 'x=$(readlink /proc/$$/exe); echo "$0"; echo "$x"'],
    {
      cwd: work,
    },
  );
  assert.equal(argv0.code, 0, argv0.stderr);
  assert.equal(argv0.stdout, "bash\n/usr/bin/bash\n");
});

test("vm run on a terminal of 0 columns (script(1) without a size): plain progress lines, the output, exit 0", () => {
  // ora redrew its spinner without end on such a pty (tens of MB of cursor-up codes, the run never ended)
  const cmd = [process.execPath, ...cliArgs(["vm", "run", "--share", work, "--", "echo", "from-a-pty"])]
    .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
    .join(" ");
  const r = spawnSync("script", ["-qec", cmd, "/dev/null"], {
    cwd: work,
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    timeout: 120_000,
    maxBuffer: 1 << 20,
  });
  assert.equal(r.status, 0, `${r.error ?? ""} ${r.stderr}`);
  assert.match(r.stdout, /from-a-pty/);
  assert.ok(r.stdout.length < 4096, `${r.stdout.length} bytes of terminal output`);
});

test("vm run --kernel <local bzImage>: boots it; a command missing in the guest exits 127 clearly", () => {
  const bzImage = join(kernel.root, "boot", `vmlinuz-${kernel.release}`);
  const r = runCli(["vm", "run", "--kernel", bzImage, "--share", work, "--", "no-such-command-xyz", "arg"], {
    cwd: work,
  });
  assert.equal(r.code, 127, r.stderr);
  assert.match(r.stderr, /no-such-command-xyz: command not found in the guest/);
  assert.equal(r.stdout, "");
});

test("vm run --timeout: a hung command ends with the console tail, non-zero, and no QEMU left", async () => {
  const marker = mkdtempSync(join(work, "timeout-"));
  const r = runCli(["vm", "run", "--timeout", "20", "--share", marker, "--", "sleep", "600"], {
    cwd: marker,
  });
  assert.equal(r.code, 1);
  // the stage is named too ("the command was still running" unless the boot itself was slower than 20 s)
  assert.match(r.stderr, /timed out after 20 s \((the command was still running|stuck|the kernel)/);
  assert.match(r.stderr, /kernel console/);
  assert.deepEqual(qemuProcesses(marker), [], "no qemu-system process with this run's share left");
});

test("vm run: Ctrl-C (SIGINT) and SIGKILL of the CLI leave no QEMU behind", async () => {
  for (const sig of ["SIGINT", "SIGKILL"] as const) {
    const marker = mkdtempSync(join(work, `${sig}-`));
    const child = spawnCli(["vm", "run", "--share", marker, "--", "sh", "-c", "echo ready; sleep 600"], {
      cwd: marker,
    });
    let out = "";
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.stderr!.resume();
    const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
    assert.ok(await waitFor(() => out.includes("ready"), 120_000), "command started in the guest");
    assert.equal(qemuProcesses(marker).length, 1, "one QEMU running for this run");
    child.kill(sig);
    const code = await exited;
    if (sig === "SIGINT") assert.equal(code, 130);
    // SIGKILL: QEMU goes through its parent-death signal
    assert.ok(await waitFor(() => qemuProcesses(marker).length === 0, 10_000), `${sig}: QEMU is gone`);
  }
});

test("vm run: cold cache (fresh apt lists, unpack, vmlinux, initramfs) then warm with apt-get unusable", () => {
  const cache = mkdtempSync(join(tmpdir(), "kfunc-coldcache-"));
  try {
    // the .deb files are reused (no 122 MB download); everything else starts empty
    const main = join(kernel.root, "..", "..", "..");
    execFileSync("mkdir", ["-p", join(cache, "debs")]);
    execFileSync("sh", ["-c", `ln -s ${main}/debs/*.deb ${cache}/debs/`]);
    if (existsSync(join(main, "accel.json"))) execFileSync("cp", [join(main, "accel.json"), cache]);
    const cold = runCli(["vm", "run", "--cache", cache, "--share", work, "--", "uname", "-r"], { cwd: work });
    assert.equal(cold.code, 0, cold.stderr);
    assert.equal(cold.stdout, `${kernel.release}\n`);
    assert.match(cold.stderr, /unpacked .* into/);
    assert.match(cold.stderr, /initramfs for/);
    assert.ok(existsSync(join(cache, "apt", "sources.list")));
    assert.ok(existsSync(join(cache, "kernels", kernel.release, "kernel.json")));
    // warm: apt-get and dpkg replaced by failing stubs on PATH → proves no download/unpack happens
    const stubs = mkdtempSync(join(tmpdir(), "kfunc-stubs-"));
    for (const t of ["apt-get", "dpkg"])
      writeFileSync(join(stubs, t), "#!/bin/sh\necho stub >&2\nexit 99\n", { mode: 0o755 });
    const env = { ...process.env, PATH: `${stubs}:${process.env["PATH"]}` };
    const warm = runCli(["vm", "run", "--cache", cache, "--share", work, "--", "true"], { cwd: work, env });
    rmSync(stubs, { recursive: true, force: true });
    assert.equal(warm.code, 0, warm.stderr);
    assert.doesNotMatch(warm.stderr, /unpacked|initramfs for|downloading/);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
