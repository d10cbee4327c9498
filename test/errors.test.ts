/**
 * The error model: every code with a class is constructed through its class (scanned over src/), errno
 * survives wrapping (errnoOf / findCause / SyscallError.wrap), a kernel without vmlinux BTF answers
 * supports("kfuncCall") with false, and an EPERM hint asks about what the evidence points at.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import {
  BtfError,
  EnvironmentError,
  errnoOf,
  findCause,
  isKfuncKitError,
  KfuncError,
  type KfuncKitError,
  ModuleError,
  NotSupportedError,
  ObjectError,
  SyscallError,
  TYPED_ERROR_CODES,
  UsageError,
} from "../src/errors.ts";
import { epermHint } from "../src/kernel/capabilities.ts";
import { verifierError } from "../src/kernel/verifier-error.ts";
import { BPF_PROG_TYPE } from "../src/sys/constants.ts";
import { REPO_ROOT } from "./helpers/index.ts";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

test('no code that has an error class is constructed raw (new KfuncKitError("USAGE", …))', () => {
  const raw = new RegExp(`new KfuncKitError\\(\\s*"(${TYPED_ERROR_CODES.join("|")})"`, "g");
  const found: string[] = [];
  for (const file of sources(join(REPO_ROOT, "src"))) {
    const rel = relative(REPO_ROOT, file);
    if (rel === "src/errors.ts") continue; // the classes themselves (and wrap()'s errno-less fallback)
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(raw)) {
      const line = text.slice(0, m.index).split("\n").length;
      found.push(`${rel}:${line}: ${m[1]}`);
    }
  }
  assert.deepEqual(found, [], "use the class (UsageError, ObjectError, SyscallError.wrap, …) instead");
});

test("the scan sees raw constructions, on one line and split over lines", () => {
  const raw = new RegExp(`new KfuncKitError\\(\\s*"(${TYPED_ERROR_CODES.join("|")})"`, "g");
  const sample = 'throw new KfuncKitError("USAGE", "x");\nthrow new KfuncKitError(\n  "MODULE",\n  "y");\n';
  assert.deepEqual(
    [...sample.matchAll(raw)].map((m) => m[1]),
    ["USAGE", "MODULE"],
  );
});

test("each class carries its code, and isKfuncKitError accepts it", () => {
  const cases: Array<[KfuncKitError, string]> = [
    [new UsageError("u"), "USAGE"],
    [new ObjectError("o"), "OBJECT"],
    [new KfuncError("k"), "KFUNC"],
    [new ModuleError("m"), "MODULE"],
    [new EnvironmentError("e"), "ENVIRONMENT"],
    [new BtfError("f", 3, "b"), "BTF"],
    [new NotSupportedError("x", "6.1"), "NOT_SUPPORTED"],
    [new SyscallError("bpf", 1, "EPERM"), "SYSCALL"],
  ];
  for (const [e, code] of cases) {
    assert.equal(e.code, code, e.name);
    assert.ok(isKfuncKitError(e), e.name);
  }
});

test("SyscallError.wrap keeps errno on the outer error; errnoOf and findCause read the chain", () => {
  const inner = new SyscallError("perf_event_open(kprobe x)", 2, "ENOENT");
  const outer = SyscallError.wrap("kprobe 'p' → x: cannot create the probe", inner, { hint: "h" });
  assert.ok(outer instanceof SyscallError);
  assert.equal(outer.errno, 2);
  assert.equal(outer.errnoName, "ENOENT");
  assert.equal(outer.message, "kprobe 'p' → x: cannot create the probe");
  assert.equal(outer.hint, "h");
  assert.equal(outer.cause, inner);

  let fsError: unknown;
  try {
    readFileSync("/no/such/file");
  } catch (e) {
    fsError = e;
  }
  const wrapped = SyscallError.wrap("events file: cannot add probe", fsError);
  assert.ok(wrapped instanceof SyscallError);
  assert.equal(wrapped.errnoName, "ENOENT");
  assert.equal(errnoOf(new UsageError("a", { cause: new Error("b", { cause: fsError }) })), 2);
  assert.equal(errnoOf(new UsageError("no errno")), undefined);

  const plain = SyscallError.wrap("step", new Error("not a syscall"));
  assert.ok(!(plain instanceof SyscallError));
  assert.equal(plain.code, "SYSCALL");

  const deep = new ModuleError("m", { cause: new KfuncError("k", { cause: inner }) });
  assert.equal(findCause(deep, SyscallError), inner);
  assert.ok(findCause(deep, KfuncError) instanceof KfuncError);
  assert.equal(findCause(deep, BtfError), undefined);
});

test("a kernel without vmlinux BTF: supports('kfuncCall') is false, not an exception", (t) => {
  if (process.getuid?.() !== 0) return t.skip("needs root (a mount namespace hides /sys/kernel/btf)");
  // A private mount namespace with an empty tmpfs over /sys/kernel/btf: this kernel, minus its BTF.
  const script = `
    import { checkFeature, supports } from "${REPO_ROOT}/src/kernel/features.ts";
    let error;
    try { checkFeature("kfuncCall"); } catch (e) { error = { name: e.name, message: e.message, hint: e.hint }; }
    console.log(JSON.stringify({ kfuncCall: supports("kfuncCall"), error }));
  `;
  const r = spawnSync(
    "unshare",
    [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mount -t tmpfs none /sys/kernel/btf && exec "$0" --import tsx --input-type=module -e "$1"',
      process.execPath,
      script,
    ],
    { cwd: REPO_ROOT, encoding: "utf8" },
  );
  if (r.status !== 0 && /unshare failed|Operation not permitted|mount:/.test(r.stderr))
    return t.skip(`cannot make a mount namespace here: ${r.stderr.trim()}`);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    kfuncCall: boolean;
    error: { name: string; message: string; hint: string };
  };
  assert.equal(out.kfuncCall, false);
  assert.equal(out.error.name, "NotSupportedError");
  assert.match(out.error.message, /kernel BTF is missing at '\/sys\/kernel\/btf\/vmlinux'/);
  assert.match(out.error.hint, /CONFIG_DEBUG_INFO_BTF/);
});

test("an EPERM hint asks about the capabilities when they are missing, else about the kernel", () => {
  const all = (1n << 40n) - 1n;
  const noBpf = all & ~(1n << 39n) & ~(1n << 38n) & ~(1n << 21n);
  const advice = "does this kernel refuse BPF trampolines? use tp_btf";
  assert.match(
    epermHint("fentry", advice, { caps: noBpf, lockdown: undefined }),
    /^missing CAP_BPF and CAP_PERFMON\?/,
  );
  assert.match(
    epermHint("fentry", advice, { caps: all, lockdown: undefined }),
    /^the capabilities are there: does this kernel refuse/,
  );
  assert.match(epermHint("fentry", advice, { caps: all, lockdown: "integrity" }), /lockdown is 'integrity'/);
  assert.match(
    epermHint("fentry", advice, { caps: undefined, lockdown: undefined }),
    /missing CAP_BPF\/CAP_PERFMON \(run as root\?\), or does/,
  );

  const load = (caps: bigint) =>
    verifierError({
      program: "f",
      section: "fentry/do_unlinkat",
      progType: BPF_PROG_TYPE.TRACING,
      errnoName: "EPERM",
      log: "",
      lineInfo: [],
      btf: undefined,
      externNames: [],
      corePoison: new Map(),
      kernelRelease: "6.18.0",
      permissions: { caps, lockdown: undefined },
    });
  assert.match(load(noBpf).hint ?? "", /^missing CAP_BPF and CAP_PERFMON\?/);
  assert.doesNotMatch(
    load(noBpf).hint ?? "",
    /refuse/,
    "no verdict about trampolines without the capabilities",
  );
  assert.match(load(all).hint ?? "", /refuse BPF trampolines.*\?.*tp_btf.*kfunc vm run/s);
});
