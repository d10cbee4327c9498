/**
 * Attach kinds this host refuses (multi-kprobes, BPF trampolines), proven on a real Debian kernel under
 * QEMU: our loader and attach() run inside the guest, each program counts the guest script's own
 * do_unlinkat calls, one unlink must count exactly once per program, and after close() the links are gone
 * from the kernel and a second unlink counts nothing. Where the guest kernel has no fprobe (6.1), the
 * multi-kprobe attach must fail with our NotSupportedError instead; the guest's kallsyms says which.
 * Needs the QEMU runner's kernel (downloaded and cached on first use); skips with the reason otherwise.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";
import { runGuestScript } from "../helpers/vm-guest.ts";
import { vmlinuxHeaderDir } from "./load-helpers.ts";

const KERNEL = process.env["KFUNC_KIT_TEST_KERNEL"] ?? "debian:bookworm-backports";

const MULTI = ["multi", "multi_glob", "kretmulti"] as const;
const TRAMPOLINES = ["fentry_unlink", "fexit_unlink"] as const;
const COUNTERS: Record<string, string> = {
  multi: "multi_hits",
  multi_glob: "glob_hits",
  kretmulti: "kretmulti_hits",
  fentry_unlink: "fentry_hits",
  fexit_unlink: "fexit_hits",
};

const guestScript = (obj: string) => `
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { emitResult } from "${REPO_ROOT}/src/qemu/result-channel.ts";
import { parseObject } from "${REPO_ROOT}/src/object/index.ts";
import { loadCollection, setGlobal } from "${REPO_ROOT}/src/kernel/index.ts";
import { attach } from "${REPO_ROOT}/src/kernel/attach/index.ts";
import { allIds, linkInfo } from "${REPO_ROOT}/src/sys/bpf-obj.ts";
const spec = parseObject(readFileSync(${JSON.stringify(obj)}), ${JSON.stringify(obj)});
setGlobal(spec, "target_tgid", process.pid);
const coll = await loadCollection(spec);
const counters = ${JSON.stringify(COUNTERS)};
const read = () => Object.fromEntries(
  ["multi_hits", "glob_hits", "kretmulti_hits", "fentry_hits", "fexit_hits", "multi_dfd", "kretmulti_ret",
   "fentry_dfd", "fexit_ret", "fentry_path"].map((n) => [n, coll.variable(n).get()]),
);
const unlinkOnce = (tag) => {
  const f = "/tmp/kk-tracing-" + tag + "-" + process.pid;
  writeFileSync(f, "x");
  unlinkSync(f);
  return f;
};
const out = {
  release: release(),
  fprobe: /^[0-9a-f]+ [Tt] register_fprobe$/m.test(readFileSync("/proc/kallsyms", "utf8")),
  links: {}, errors: {}, linkIds: [],
};
const links = [];
for (const name of Object.keys(counters)) {
  try {
    const l = attach(coll.program(name));
    links.push(l);
    out.links[name] = l.info;
    out.linkIds.push(linkInfo(l.fd).id);
  } catch (e) {
    out.errors[name] = { type: e?.constructor?.name, code: e?.code, message: String(e?.message), hint: e?.hint };
  }
}
out.before = read();
out.liveBefore = allIds("link").filter((id) => out.linkIds.includes(id));
out.path = unlinkOnce("a");
out.during = read();
for (const l of links) l.close();
out.closed = links.map((l) => l.closed);
let live = [];
for (let i = 0; i < 50; i++) {
  live = allIds("link").filter((id) => out.linkIds.includes(id));
  if (live.length === 0) break;
  await new Promise((r) => setTimeout(r, 20));
}
out.liveAfter = live;
unlinkOnce("b");
out.after = read();
coll.close();
emitResult({ type: "result", value: out });
`;

interface GuestResult {
  release: string;
  fprobe: boolean;
  links: Record<string, { kind: string; target: string; mechanism: string }>;
  errors: Record<string, { type: string; code: string; message: string; hint?: string }>;
  linkIds: number[];
  liveBefore: number[];
  liveAfter: number[];
  closed: boolean[];
  path: string;
  before: Record<string, number | string>;
  during: Record<string, number | string>;
  after: Record<string, number | string>;
}

test(`kprobe.multi (name, glob), kretprobe.multi, fentry, fexit on do_unlinkat inside QEMU (${KERNEL})`, {
  timeout: 900_000,
}, (t) => {
  const obj = compileFixture("attach-tracing-vm", { includeDirs: [vmlinuxHeaderDir()] });
  const res = runGuestScript<GuestResult>(t, KERNEL, guestScript(obj), obj);
  if (!res) return;
  const ctx = `guest ${res.release}: ${JSON.stringify(res)}`;
  t.diagnostic(`guest ${res.release}, fprobe ${res.fprobe}: counts ${JSON.stringify(res.during)}`);

  // Trampolines work in every guest kernel we run (5.5+ with BTF).
  for (const name of TRAMPOLINES) {
    assert.equal(res.errors[name], undefined, `${name} attached (${ctx})`);
    assert.equal(res.links[name]!.mechanism, "bpf_link");
    assert.equal(res.links[name]!.target, "do_unlinkat");
  }
  assert.equal(res.links["fentry_unlink"]!.kind, "fentry");
  assert.equal(res.links["fexit_unlink"]!.kind, "fexit");
  assert.equal(res.during["fentry_dfd"], -100, "fentry saw do_unlinkat's first argument: AT_FDCWD");
  assert.equal(res.during["fentry_path"], res.path, "fentry read the unlinked path through struct filename");
  assert.equal(res.during["fexit_ret"], 0, "fexit saw do_unlinkat's return value: 0");

  // kprobe.multi: attached where the guest kernel has fprobe, else our NotSupportedError (never a skip).
  const attached = res.fprobe ? [...MULTI, ...TRAMPOLINES] : [...TRAMPOLINES];
  if (res.fprobe) {
    for (const name of MULTI) assert.equal(res.errors[name], undefined, `${name} attached (${ctx})`);
    assert.deepEqual(
      MULTI.map((n) => [res.links[n]!.kind, res.links[n]!.target, res.links[n]!.mechanism]),
      [
        ["kprobe.multi", "do_unlinkat", "bpf_link"],
        ["kprobe.multi", "do_unlinka*", "bpf_link"],
        ["kretprobe.multi", "do_unlinkat", "bpf_link"],
      ],
    );
    assert.equal(res.during["multi_dfd"], -100, "kprobe.multi ran at entry: PT_REGS_PARM1 is AT_FDCWD");
    assert.equal(res.during["kretmulti_ret"], 0, "kretprobe.multi ran at return: PT_REGS_RC is 0");
  } else {
    for (const name of MULTI) {
      const e: GuestResult["errors"][string] | undefined = res.errors[name];
      assert.ok(e, `${name}: no fprobe in ${res.release}, yet attach did not fail (${ctx})`);
      assert.equal(e.type, "NotSupportedError");
      assert.match(e.message, /: EOPNOTSUPP: this kernel has no fprobe-based multi-kprobes/);
      assert.match(e.message, new RegExp(`^k(ret)?probe\\.multi '${name}' → do_unlinka`));
      assert.match(e.hint ?? "", /kfunc vm run/);
    }
  }

  // One unlink: exactly one hit per attached program; nothing before, nothing after close().
  for (const name of Object.keys(COUNTERS)) {
    const c = COUNTERS[name]!;
    assert.equal(res.before[c], 0, `${c} before the unlink`);
    assert.equal(res.during[c], attached.includes(name as never) ? 1 : 0, `${c} after one unlink (${ctx})`);
    assert.equal(res.after[c], res.during[c], `${c} unchanged by an unlink after close()`);
  }
  assert.equal(res.linkIds.length, attached.length, "one kernel link per attached program");
  assert.deepEqual(res.liveBefore.sort(), [...res.linkIds].sort(), "the links were live while attached");
  assert.deepEqual(
    res.closed,
    attached.map(() => true),
  );
  assert.deepEqual(res.liveAfter, [], "close() released every link in the kernel");
});
