/**
 * The `kfunc run` and `kfunc test-run` commands, run as a user would (a child process): the host-unlink
 * example prints one line per `rm`, ring buffer records decoded by BTF in --json, Ctrl-C detaches
 * cleanly, maps dumped after detaching, and the clear errors (unknown program, kprobe on this host).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pmuType } from "../../src/sys/perf.ts";
import { compileFixture, REPO_ROOT, tempDir } from "../helpers/index.ts";

const CLI = ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts")];

function kfunc(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `kfunc run …` and resolves once it says it is running (programs attached). */
async function startRun(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [...CLI, "run", ...args], { cwd: REPO_ROOT });
  let out = "";
  let err = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kfunc run did not start:\n${err}`)), 60_000);
    // text mode says "running" on stderr, --json a {"type":"running"} line on stdout
    const check = () => {
      if (/\brunning\b/.test(err) || out.includes('"type":"running"')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      check();
    });
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      check();
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`kfunc run exited (${code}) before running:\n${err}`));
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

test("examples/host-unlink: `kfunc run unlink.bpf.o --trace` prints one line per rm; Ctrl-C detaches", async () => {
  const obj = compileFixture(join(REPO_ROOT, "examples/host-unlink/unlink.bpf.c"));
  const run = await startRun([obj, "--trace"]);
  try {
    const pids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const f = join(tmpdir(), `kfunc-kit-unlink-${process.pid}-${i}`);
      writeFileSync(f, "x");
      const r = spawnSync("rm", [f]);
      assert.equal(r.status, 0);
      assert.ok(!existsSync(f));
      pids.push(r.pid!);
    }
    const line = (pid: number) =>
      // the kernel prints "<...>" for a task whose comm fell out of its saved_cmdlines cache
      new RegExp(
        `^(?:rm|<\\.\\.\\.>)-${pid} .*BPF triggered do_unlinkat, PID: ${pid}\\. Result: ${pid}$`,
        "m",
      );
    await waitFor(() => pids.every((p) => line(p).test(run.stdout())), 10_000);
    for (const p of pids) assert.match(run.stdout(), line(p));
    for (const p of pids)
      assert.equal(
        run
          .stdout()
          .split("\n")
          .filter((l) => l.includes(`PID: ${p}.`)).length,
        1,
        `one line for rm ${p}`,
      );
  } finally {
    run.child.kill("SIGINT");
  }
  assert.equal(await run.exited, 0);
  assert.match(run.stderr(), /attached handle_unlinkat → tp_btf sys_enter/);
  assert.match(run.stderr(), /detached 1 program/);
});

test("--ringbuf with --ringbuf-type --json streams decoded records; --dump-maps prints the maps after detaching", async () => {
  const obj = compileFixture("attach-cli");
  const prefix = `/tmp/kkcli${process.pid}-`;
  const run = await startRun([
    obj,
    "--program",
    "rb_prefix",
    "--ringbuf",
    "events",
    "--ringbuf-type",
    "event",
    "-g",
    `prefix=${prefix}`,
    "--dump-maps",
    "--json",
    "--duration",
    "60",
  ]);
  try {
    for (let i = 0; i < 5; i++) {
      try {
        closeSync(openSync(`${prefix}${i}`, "r"));
      } catch {
        // ENOENT
      }
    }
    await waitFor(() => (run.stdout().match(/"type":"record"/g) ?? []).length >= 5, 10_000);
  } finally {
    run.child.kill("SIGTERM");
  }
  assert.equal(await run.exited, 0, run.stderr());
  const events = run
    .stdout()
    .trim()
    .split("\n")
    .map(
      (l) =>
        JSON.parse(l) as {
          type: string;
          value?: { pid: number; path: string };
          maps?: Record<string, unknown>;
        },
    );
  assert.equal(events[0]!.type, "attached");
  assert.equal(events[1]!.type, "running");
  const records = events.filter((e) => e.type === "record").map((e) => e.value!);
  assert.deepEqual(
    records.map((r) => [r.pid, r.path]),
    [0, 1, 2, 3, 4].map((i) => [process.pid, `${prefix}${i}`]),
  );
  const maps = events.at(-1)!;
  assert.equal(maps.type, "maps");
  assert.deepEqual(maps.maps!["opens"], [{ key: 1, value: 5 }]);
});

test("--duration ends the run by itself", () => {
  const r = kfunc(["run", compileFixture("attach-cli"), "-p", "rb_prefix", "-d", "0.5"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /stopping after 0\.5 s/);
  assert.match(r.stderr, /detached 1 program/);
});

test("an unknown program name exits 2 and lists the programs", () => {
  const r = kfunc(["run", compileFixture("attach-cli"), "--program", "nope"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no program named 'nope'/);
  assert.match(r.stderr, /programs: rb_prefix, kp_unlink, xdp_pass/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
});

test("a kprobe program on a kernel without kprobes: exit 1, why, and the VM runner to use", (t) => {
  if (pmuType("kprobe") !== undefined || existsSync("/sys/kernel/tracing/kprobe_events")) {
    t.skip("this kernel has kprobes; the refusal cannot be observed here");
    return;
  }
  const r = kfunc(["run", compileFixture("attach-cli"), "--program", "kp_unlink", "-d", "1"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /kprobe 'kp_unlink' → do_unlinkat: this kernel has neither a kprobe PMU/);
  assert.match(r.stderr, /hint: .*kfunc vm run/);
});

test("kfunc test-run: XDP retval and verdict from a packet file, --json, and usage errors", () => {
  const obj = compileFixture("attach-cli");
  const pkt = join(tempDir("kfunc-kit-pkt-"), "pkt.bin");
  writeFileSync(pkt, new Uint8Array(64));
  const text = kfunc(["test-run", obj, "--program", "xdp_pass", "--data-in", pkt, "--repeat", "100"]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^xdp_pass \(xdp\): retval 2 \(XDP_PASS\)$/m);
  assert.match(text.stdout, /average of 100 runs/);
  const json = kfunc(["test-run", obj, "-p", "xdp_pass", "--data-in", pkt, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const r = JSON.parse(json.stdout) as { retval: number; durationNs: number; dataOut: string };
  assert.equal(r.retval, 2);
  assert.equal(r.dataOut, "00".repeat(64));
  const bad = kfunc(["test-run", obj, "-p", "missing"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /programs: rb_prefix \(tracepoint\/syscalls\/sys_enter_openat\), kp_unlink/);
  const noData = kfunc(["test-run", obj, "-p", "xdp_pass"]);
  assert.equal(noData.code, 1);
  assert.match(noData.stderr, /hint: give packet data \(--data-in\)/);
});
