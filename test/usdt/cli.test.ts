/**
 * `kfunc usdt list` and `kfunc run --usdt`, run as a user would (child processes): the listing of a binary
 * (text and --json, equal to what the ELF layer reads) and of a process (its program and its library);
 * `kfunc run` of the usdt.bpf.h program against the target prints each record with the probe's arguments
 * decoded by BTF and exits 0 on Ctrl-C; the usage errors exit 2 naming the fix; examples/host-usdt prints
 * its requests' arguments through bpf_printk.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readUsdtBinary } from "../../src/kernel/attach/index.ts";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";
import { requireBpf, vmlinuxHeaderDir } from "../kernel/load-helpers.ts";
import { buildTarget, INPUTS_NEGATIVE, Target } from "./target.ts";

const CLI = ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts")];

function kfunc(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("kfunc usdt list: a binary (text, --json) and every binary a process maps", async (t) => {
  const build = buildTarget();
  const json = kfunc(["usdt", "list", build.exe, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const listed = JSON.parse(json.stdout) as {
    path: string;
    type: string;
    probes: Array<Record<string, unknown>>;
  };
  const bin = readUsdtBinary(build.exe);
  assert.equal(listed.path, build.exe);
  assert.equal(listed.type, "dyn");
  assert.deepEqual(
    listed.probes,
    bin.probes.map((p) => ({
      provider: p.provider,
      name: p.name,
      address: p.address,
      fileOffset: p.fileOffset,
      semaphore: p.semaphoreAddress,
      semaphoreOffset: p.semaphoreOffset,
      args: p.args,
    })),
  );
  const target = new Target(build.exe);
  t.after(() => target.quit());
  const text = kfunc(["usdt", "list", String(target.pid)]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^${build.exe} \\(ET_DYN\\): 17 probe call sites$`, "m"));
  assert.match(text.stdout, new RegExp(`^${build.lib} \\(ET_DYN\\): 1 probe call site$`, "m"));
  assert.match(
    text.stdout,
    /^ {2}kk:sema +0x[0-9a-f]+ {2}semaphore 0x[0-9a-f]+ {2}-4@8\(%rdi\) 2@4\(%rdi\)$/m,
  );
  assert.match(text.stdout, /^ {2}kk:none +0x[0-9a-f]+ {2}\(no arguments\)$/m);
  assert.match(text.stdout, /^ {2}kklib:lib +0x[0-9a-f]+ {2}4@12\(%rdi\) -8@16\(%rdi\)$/m);
  const bad = kfunc(["usdt", "list", "/etc/passwd"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /USDT binary '\/etc\/passwd' is not an ELF executable or shared library/);
});

test("kfunc run --usdt prints the probe's arguments decoded; usage errors exit 2", async (t) => {
  if (!requireBpf(t)) return;
  const build = buildTarget();
  const obj = compileFixture("usdt-args", { includeDirs: [vmlinuxHeaderDir()] });
  const target = new Target(build.exe);
  t.after(() => target.quit());
  const child = spawn(
    process.execPath,
    [
      ...CLI,
      ...["run", obj, "--usdt", `${build.exe}:kk:regs`, "--pid", String(target.pid)],
      ...["--ringbuf", "events", "--ringbuf-type", "usdt_event", "--json"],
    ],
    { cwd: REPO_ROOT },
  );
  const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  let err = "";
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const lines: Array<Record<string, unknown>> = [];
  let buf = "";
  const record = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const l = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
        buf = buf.slice(i + 1);
        lines.push(l);
        if (l["type"] === "running") void target.fire(INPUTS_NEGATIVE);
        if (l["type"] === "record") resolve(l);
      }
    });
    void exited.then((c) => reject(new Error(`kfunc run exited ${c}:\n${err}`)));
  });
  const r = await record;
  child.kill("SIGINT");
  assert.equal(await exited, 0, err);
  const attached = lines.find((l) => l["type"] === "attached")!;
  assert.deepEqual(
    [attached["kind"], attached["program"], attached["target"], attached["sites"]],
    ["usdt", "on_probe", `${build.exe}:kk:regs`, 1],
  );
  const v = r["value"] as { arg_cnt: number; pid: number; args: Array<number | string> };
  assert.equal(v.pid, target.pid);
  assert.equal(v.arg_cnt, 8);
  assert.deepEqual(
    v.args.slice(0, 8).map(String),
    INPUTS_NEGATIVE.map((x) => String(BigInt.asIntN(64, x))),
  );

  const noProbe = kfunc(["run", obj, "--usdt", `${build.exe}:kk:nope`, "-d", "1"]);
  assert.equal(noProbe.code, 2, noProbe.stderr);
  assert.match(noProbe.stderr, /has no probe 'kk:nope'\n {2}hint: its probes: kk:none, kk:regs/);
  const badSpec = kfunc(["run", obj, "--usdt", "kk:regs", "-d", "1"]);
  assert.equal(badSpec.code, 2);
  assert.match(badSpec.stderr, /usdt target 'kk:regs' is not <binary>:<provider>:<name>/);
  const bare = kfunc(["run", obj, "-d", "1"]);
  assert.equal(bare.code, 2);
  assert.match(
    bare.stderr,
    /skipping on_probe \(usdt\): SEC\("usdt"\) names no probe: attach it with --usdt/,
  );
});

test("examples/host-usdt: kfunc run --usdt … --trace prints each request's arguments", async (t) => {
  if (!requireBpf(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "kfunc-kit-host-usdt-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const app = join(dir, "myapp");
  execFileSync("gcc", ["-O2", "-o", app, join(REPO_ROOT, "examples/host-usdt/app.c")]);
  const obj = compileFixture(join(REPO_ROOT, "examples/host-usdt/requests.bpf.c"));
  const child = spawn(
    process.execPath,
    [...CLI, "run", obj, "--usdt", `${app}:myapp:request`, "--trace", "--json"],
    { cwd: REPO_ROOT },
  );
  const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  let err = "";
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  let appPid = 0;
  let buf = "";
  const messages: string[] = [];
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const l = JSON.parse(buf.slice(0, i)) as { type: string; pid?: number; message?: string };
        buf = buf.slice(i + 1);
        if (l.type === "running") {
          const a = spawnSync(app, [], { input: "250\n4000\n", encoding: "utf8" });
          appPid = a.pid ?? 0;
        }
        // trace_pipe is the whole machine's: keep our app's lines
        if (l.type === "trace" && l.pid === appPid) messages.push(l.message!);
        if (messages.length === 2) resolve();
      }
    });
    void exited.then((c) => reject(new Error(`kfunc run exited ${c}:\n${err}`)));
  });
  child.kill("SIGINT");
  assert.equal(await exited, 0, err);
  assert.deepEqual(messages, ["request 1 took 250 us, status 200", "request 2 took 4000 us, status 503"]);
});
