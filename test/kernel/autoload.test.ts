import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { UsageError, VerifierError } from "../../src/errors.ts";
import { loadCollection } from "../../src/kernel/index.ts";
import { kernelVersionCode } from "../../src/kernel/ksyms.ts";
import { testRun } from "../../src/kernel/test-run.ts";
import { setAutoload } from "../../src/object/index.ts";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";
import { fixtureSpec, requireBpf, vmlinuxHeaderDir } from "./load-helpers.ts";

test('SEC("?…") parses as libbpf does: autoload off, the section without the mark', () => {
  const spec = fixtureSpec("load-autoload");
  const byName = new Map(spec.programs.map((p) => [p.name, p]));
  assert.equal(byName.get("refused")?.section, "tc");
  assert.equal(byName.get("refused")?.autoload, false);
  assert.equal(byName.get("refused")?.type.name, "BPF_PROG_TYPE_SCHED_CLS");
  assert.equal(byName.get("read_kconfig")?.autoload, true);
  assert.ok((byName.get("refused")?.lineInfo.length ?? 0) > 0, ".BTF.ext records of '?tc' still found");
  assert.throws(() => setAutoload(spec, "nosuch", true), UsageError);
});

test("an autoload-off program is skipped by default, loaded when named or switched on", async (t) => {
  if (!requireBpf(t)) return;
  {
    using coll = await loadCollection(fixtureSpec("load-autoload"));
    assert.deepEqual([...coll.programs.keys()], ["read_kconfig"]);
  }
  await assert.rejects(
    loadCollection(fixtureSpec("load-autoload"), { programs: ["refused"] }),
    VerifierError,
  );
  const spec = fixtureSpec("load-autoload");
  setAutoload(spec, "refused", true);
  await assert.rejects(
    loadCollection(spec),
    (e: unknown) => e instanceof VerifierError && /refused/.test(String(e)),
  );
  setAutoload(spec, "refused", false);
  setAutoload(spec, "read_kconfig", false);
  using none = await loadCollection(spec);
  assert.equal(none.programs.size, 0);
});

test("LINUX_HAS_BPF_COOKIE / LINUX_HAS_SYSCALL_WRAPPER are answered by probing, as libbpf does", async (t) => {
  if (!requireBpf(t)) return;
  using coll = await loadCollection(fixtureSpec("load-autoload"));
  assert.equal(testRun(coll.program("read_kconfig")).retval, 0);
  const [major = 0, minor = 0] = release().split(".").map(Number);
  // Oracles independent of the code under test: bpf_get_attach_cookie exists since 5.15; the x86-64 wrapper
  // symbol is in /proc/kallsyms exactly when the kernel enters syscalls through wrappers.
  const cookie = major > 5 || (major === 5 && minor >= 15) ? 1 : 0;
  const wrapper = /\s__x64_sys_bpf$/m.test(readFileSync("/proc/kallsyms", "utf8")) ? 1 : 0;
  assert.equal(coll.variable("cookie").get(), cookie);
  if (process.arch === "x64") assert.equal(coll.variable("wrapper").get(), wrapper);
  assert.equal(coll.variable("kver").get(), kernelVersionCode());
});

test("kfunc test-run --program runs an autoload-off program; inspect marks it", async (t) => {
  if (!requireBpf(t)) return;
  const obj = compileFixture("load-autoload", { includeDirs: [vmlinuxHeaderDir()] });
  const cli = (args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), ...args], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
  const r = cli(["test-run", obj, "--program", "opt_in"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^opt_in \(syscall\): retval 7/m);
  const i = cli(["inspect", obj, "--json"]);
  assert.equal(i.status, 0, i.stderr);
  assert.match(i.stdout, /"opt_in"[^}]*"autoload":\s*false/);
});
