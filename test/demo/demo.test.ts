/**
 * The reference scenario in a real Debian 6.12 kernel under QEMU (never skipped: CI boots QEMU).
 * Runs the CLI exactly as a user does (`kfunc demo --json`) and checks every promise of the scenario.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { before, test } from "node:test";

const ROOT = new URL("../..", import.meta.url).pathname;

before(() => {
  const b = spawnSync("npm", ["run", "-s", "build"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(b.status, 0, `npm run build failed:\n${b.stdout}${b.stderr}`);
});

test("kfunc demo: hello.ko kfunc called from kprobe/do_unlinkat prints Result: 10 for every rm", {
  timeout: 600_000,
}, () => {
  const r = spawnSync(process.execPath, ["bin/kfunc.js", "demo", "--json", "--files", "4"], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 590_000,
  });
  assert.equal(
    r.status,
    0,
    `kfunc demo exited ${r.status}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`,
  );
  const result = JSON.parse(r.stdout) as {
    ok: boolean;
    kernel: string;
    summary: {
      insmodLog: string[];
      attached: string[];
      rmPids: number[];
      traceLines: string[];
      results: number[];
      rmmodWhileAttached: string;
      rmmodAfter: string;
      rmmodLog: string[];
    };
  };
  const s = result.summary;
  assert.equal(result.ok, true);
  assert.match(result.kernel, /^6\.12\./);
  assert.ok(s.insmodLog.includes("Hello, world!"), `insmod log: ${s.insmodLog.join(" | ")}`);
  assert.ok(s.insmodLog.includes("bpf_kfunc_example: module loaded"));
  assert.deepEqual(s.attached, ["handle_kprobe (kprobe/do_unlinkat)"]);
  assert.equal(s.rmPids.length, 4);
  // one line per rm, each naming that rm's PID, each with the kfunc's result 1+2+3+4
  for (const pid of s.rmPids)
    assert.ok(
      s.traceLines.includes(`BPF triggered do_unlinkat, PID: ${pid}. Result: 10`),
      `no line for PID ${pid}: ${s.traceLines.join(" | ")}`,
    );
  assert.ok(s.results.every((x) => x === 10));
  assert.match(
    s.rmmodWhileAttached,
    /EAGAIN|EBUSY/,
    "rmmod must be refused while the program holds the module",
  );
  assert.equal(s.rmmodAfter, "ok");
  assert.ok(s.rmmodLog.includes("Goodbye, world!"));
});

test("kfunc demo --kernel host explains why this host cannot, or runs", { timeout: 120_000 }, () => {
  const r = spawnSync(process.execPath, ["bin/kfunc.js", "demo", "--kernel", "host"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (r.status === 0) {
    assert.match(r.stdout, /Result: 10/);
    return;
  }
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot load modules|no kprobes|older than 6\.10/);
  assert.match(r.stderr, /kfunc demo/, "the hint points at the VM");
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
});
