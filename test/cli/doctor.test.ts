/**
 * `kfunc doctor --json` on this host, checked against independent evidence (the files the kernel exposes),
 * so the test holds on any machine: here it must report no modules and no kprobes, and say what to do.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { DoctorReport } from "../../src/module/doctor.ts";
import { REPO_ROOT } from "../helpers/fixtures.ts";

function doctor(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), "doctor", ...args],
    {
      cwd: REPO_ROOT,
      encoding: "utf8",
    },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const json = doctor(["--json"]);
const report = JSON.parse(json.stdout) as DoctorReport;
const byId = (id: string) => {
  const c = report.checks.find((x) => x.id === id);
  assert.ok(c, `check '${id}' missing`);
  return c;
};

test("doctor --json exits 0 and reports every check, with a fix for each one that is not ok", () => {
  assert.equal(json.code, 0, json.stderr);
  assert.equal(report.kernel, release());
  const ids = report.checks.map((c) => c.id);
  for (const id of [
    "kernel",
    "btf",
    "btf-modules",
    "modules",
    "kprobes",
    "trampolines",
    "tracefs",
    "pahole",
    "clang",
    "headers",
    "privileges",
    "qemu",
    "kernels",
  ])
    assert.ok(ids.includes(id), `missing ${id}`);
  for (const c of report.checks)
    if (c.status === "fail" || c.status === "warn") assert.ok(c.fix, `${c.id} has no fix`);
  assert.ok(report.summary.length > 0);
});

test("module support and kprobes match what the kernel exposes (on this host: neither, with the VM alternative)", () => {
  const modules = byId("modules");
  assert.equal(modules.status, existsSync("/proc/modules") ? "ok" : "fail");
  const kprobes = byId("kprobes");
  const kprobeEvidence =
    existsSync("/sys/bus/event_source/devices/kprobe/type") ||
    existsSync("/sys/kernel/tracing/kprobe_events") ||
    existsSync("/sys/kernel/debug/tracing/kprobe_events");
  assert.equal(kprobes.status, kprobeEvidence ? "ok" : "fail");
  if (!existsSync("/proc/modules")) {
    assert.match(modules.detail, /no \/proc\/modules/);
    assert.match(modules.fix ?? "", /VM/);
    assert.ok(report.summary.some((s) => /not on this host kernel/.test(s)));
  }
  assert.equal(byId("btf").status, existsSync("/sys/kernel/btf/vmlinux") ? "ok" : "fail");
});

test("the trampoline check really loads an fentry program: ok, or the errno the kernel gave", () => {
  const t = byId("trampolines");
  if (t.status === "ok") assert.match(t.detail, /an fentry\/\S+ program loads/);
  else assert.match(t.detail, /BPF_PROG_LOAD → E[A-Z]+/);
});

test("plain doctor prints marks, fixes and the summary", () => {
  const r = doctor([]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^kfunc doctor: Linux /);
  assert.match(r.stdout, /[✔✖⚠] loadable modules \(CONFIG_MODULES\)/);
  assert.match(r.stdout, /^• /m);
});
