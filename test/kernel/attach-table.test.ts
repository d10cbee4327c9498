/**
 * One attach table: each SEC definition (src/object/sections.ts) carries its attach kind, the parsed
 * ProgramSpec carries it on, and attach() dispatches on it. A section that parses but that kfunc-kit cannot
 * attach (uprobe.multi, kprobe.session, struct_ops…) is refused by name, before any syscall. No root needed:
 * the refusals happen before the program's fd is used.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { isKfuncKitError, NotSupportedError, UsageError } from "../../src/errors.ts";
import { attach, isAutoAttachable, notAttachableReason } from "../../src/kernel/attach/index.ts";
import {
  ATTACH_TYPE,
  attachablePrefixes,
  attachBtfName,
  matchSection,
  parseObject,
  SECTION_DEFS,
} from "../../src/object/index.ts";
import { compileFixture } from "../helpers/index.ts";

const fake = (section: string) => ({ name: "p", section, fd: -1 });

test("every SEC definition has an attach kind; the multi/session uprobes, struct_ops and freplace are 'unsupported'", () => {
  const kind = (s: string) => matchSection(s)?.def.attach;
  assert.equal(kind("kprobe/do_unlinkat"), "kprobe");
  assert.equal(kind("kretprobe/do_unlinkat"), "kprobe");
  assert.equal(kind("uretprobe.s//bin/sh:main"), "uprobe");
  assert.equal(kind("tp/syscalls/sys_enter_openat"), "tracepoint");
  assert.equal(kind("raw_tp.w/sys_enter"), "raw_tracepoint");
  assert.equal(kind("lsm.s/file_open"), "trampoline");
  assert.equal(kind("iter/task"), "iter");
  assert.equal(kind("perf_event"), "perf_event");
  for (const s of ["xdp", "tc/ingress", "socket", "syscall", "cgroup/connect4", "sk_msg"])
    assert.equal(kind(s), "none", s);
  for (const s of [
    "uprobe.multi//bin/sh:*",
    "uretprobe.multi//bin/sh:*",
    "uprobe.session//bin/sh:*",
    "kprobe.session/do_*",
    "struct_ops/x",
    "freplace/f",
    "lsm_cgroup/file_open",
  ])
    assert.equal(kind(s), "unsupported", s);
  assert.ok(SECTION_DEFS.every((d) => typeof d.attach === "string"));
});

test("a parsed object's ProgramSpec carries the attach kind of its section", () => {
  const path = compileFixture("obj-sections");
  const spec = parseObject(new Uint8Array(readFileSync(path)), path);
  const bySection = new Map(spec.programs.map((p) => [p.section, p.attachKind]));
  assert.equal(bySection.get("kprobe/do_unlinkat"), "kprobe");
  assert.equal(bySection.get("uprobe.multi//bin/sh:*"), "unsupported");
  assert.equal(bySection.get("tp_btf/sched_switch"), "tp_btf");
  assert.equal(bySection.get("xdp"), "none");
  for (const p of spec.programs) assert.equal(p.attachKind, matchSection(p.section)?.def.attach, p.section);
});

test("attach() refuses a section that parses but cannot be attached by name, before touching the kernel", () => {
  for (const [section, prefix] of [
    ["uprobe.multi//bin/sh:*", "uprobe.multi"],
    ["kprobe.session/do_unlinkat", "kprobe.session"],
    ["struct_ops/dummy", "struct_ops"],
  ] as const) {
    assert.throws(
      () => attach(fake(section)),
      (e: unknown) => {
        assert.ok(e instanceof NotSupportedError, `${section}: ${String(e)}`);
        assert.match(e.message, new RegExp(`cannot attach ${prefix.replace(".", "\\.")} programs`));
        assert.match(e.hint ?? "", /use a section kfunc-kit attaches: kprobe, uprobe/);
        return true;
      },
    );
    assert.equal(isAutoAttachable(section), false, section);
    assert.match(notAttachableReason(section), /cannot attach/);
  }
});

test("attach() refuses test-run kinds with a pointer to test-run, and unknown sections with the attachable list", () => {
  assert.throws(
    () => attach(fake("tc/ingress")),
    (e: unknown) => isKfuncKitError(e) && e.code === "NOT_SUPPORTED" && /kfunc test-run/.test(e.hint ?? ""),
  );
  assert.throws(
    () => attach(fake("foo/bar")),
    (e: unknown) =>
      e instanceof UsageError &&
      /unknown section 'foo\/bar'/.test(e.message) &&
      /tp_btf, fentry/.test(e.hint ?? ""),
  );
  assert.throws(
    () => attach(fake("kprobe")),
    (e: unknown) => e instanceof UsageError && /no function to attach to/.test(e.message),
  );
  assert.ok(attachablePrefixes().includes("usdt") && !attachablePrefixes().includes("xdp"));
});

test("isAutoAttachable derives from the table: a kind that attaches itself and a named target", () => {
  assert.equal(isAutoAttachable("kprobe/do_unlinkat"), true);
  assert.equal(isAutoAttachable("iter/task"), true);
  assert.equal(isAutoAttachable("kprobe"), false);
  assert.equal(isAutoAttachable("kprobe/"), false);
  assert.equal(isAutoAttachable("perf_event"), false);
  assert.equal(isAutoAttachable("xdp"), false);
  assert.match(notAttachableReason("kprobe"), /names no target/);
  assert.match(notAttachableReason("usdt"), /--usdt/);
  assert.match(notAttachableReason("xdp"), /kfunc test-run/);
});

test("BTF attach targets are named next to the section table (btf_trace_, bpf_lsm_, bpf_iter_)", () => {
  assert.deepEqual(attachBtfName(ATTACH_TYPE.TRACE_RAW_TP, "sys_enter"), {
    name: "btf_trace_sys_enter",
    kind: "TYPEDEF",
  });
  assert.deepEqual(attachBtfName(ATTACH_TYPE.LSM_MAC, "file_open"), {
    name: "bpf_lsm_file_open",
    kind: "FUNC",
  });
  assert.deepEqual(attachBtfName(ATTACH_TYPE.TRACE_ITER, "task"), { name: "bpf_iter_task", kind: "FUNC" });
  assert.deepEqual(attachBtfName(ATTACH_TYPE.TRACE_FENTRY, "do_unlinkat"), {
    name: "do_unlinkat",
    kind: "FUNC",
  });
});
