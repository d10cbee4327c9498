/**
 * Classes 2 and 4 of the reliability probe, on the host: no silent wrong result (numeric options in
 * range, lossless JSON output, a module's own kernel BTF, vermagic before boot, C strings that survive
 * any text) and messages that name the real cause and the fix (privileges, test-run sizes and types,
 * module header files, pin roots, control characters, static inline kfuncs).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { jsonBytes } from "../../src/cli/commands/vm.ts";
import { intOption, secondsOption, U32_MAX } from "../../src/cli/options.ts";
import { effectiveCaps, missingBpfPrivilege } from "../../src/cli/privilege.ts";
import { isKfuncKitError } from "../../src/errors.ts";
import { cString } from "../../src/module/codegen.ts";
import { buildModule, moduleHeaderBase, validateModuleConfig } from "../../src/module/index.ts";
import { type PreparedKernel, prepareKernel } from "../../src/qemu/index.ts";
import { readModule } from "../../src/qemu/modules.ts";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";
import { all, kfunc, userError } from "./cli.ts";

let T: string;
let obj: string;
let harden: string;
let ko: string;
let kernel: PreparedKernel;
let bpffs: string | undefined;
const NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "HOME=/tmp"];

before(async () => {
  T = mkdtempSync(join(tmpdir(), "kfunc-harden-msg-"));
  chmodSync(T, 0o755);
  obj = join(T, "testrun.bpf.o");
  copyFileSync(compileFixture("attach-testrun.bpf.c"), obj);
  harden = join(T, "harden.bpf.o");
  copyFileSync(compileFixture(join(REPO_ROOT, "test/hardening/fixtures/harden.bpf.c")), harden);
  for (const f of [obj, harden]) chmodSync(f, 0o644);
  kernel = await prepareKernel();
  ko = join(T, "dummy.ko");
  writeFileSync(ko, await readModule(join(kernel.modulesDir, "kernel", "drivers", "net", "dummy.ko.xz")));
  const sizes: [string, number][] = [
    ["ctx3", 3],
    ["ctx12", 12],
    ["ctx24", 24],
    ["ctx100k", 100_000],
    ["d14", 14],
    ["d20m", 20_000_000],
  ];
  for (const [n, size] of sizes) writeFileSync(join(T, `${n}.bin`), Buffer.alloc(size));
  const dir = join(T, "bpffs");
  mkdirSync(dir);
  if (spawnSync("mount", ["-t", "bpf", "bpf", dir]).status === 0) bpffs = dir;
});
after(() => {
  if (bpffs) spawnSync("umount", [bpffs]);
  rmSync(T, { recursive: true, force: true });
});

const f = (n: string) => join(T, n);

test("P1-19 numeric options are range-checked against their field: nothing wraps or overflows", async () => {
  assert.equal(intOption("--repeat", "4294967295", 1, U32_MAX, "u32"), U32_MAX);
  for (const bad of ["4294967296", "4294967297", "0", "-1", "abc", "1e3", "0x10", "1.5", ""])
    assert.throws(() => intOption("--repeat", bad, 1, U32_MAX, "u32"), /--repeat/, bad);
  assert.equal(secondsOption("--duration", "0.5"), 500);
  for (const bad of ["1e10", "0", "-1", "abc", "Infinity"])
    assert.throws(() => secondsOption("--duration", bad), /--duration/);
  const rs = await all([
    () => kfunc(["test-run", obj, "-p", "xdp_filter", "--data-in", f("d14.bin"), "--repeat", "4294967297"]),
    () =>
      kfunc(["test-run", obj, "-p", "xdp_filter", "--data-in", f("d14.bin"), "--repeat", "1000000000000"]),
    () => kfunc(["run", harden, "--duration", "1e10"]),
    () => kfunc(["vm", "run", "--timeout", "1e10", "--", "true"]),
    () => kfunc(["vm", "run", "--cpus", "256", "--", "true"]),
    () => kfunc(["vm", "run", "--mem", "10Q", "--", "true"]),
  ]);
  for (const r of rs) {
    assert.equal(r.status, 2, `${r.args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /out of range|expected/, r.args.join(" "));
    assert.ok(!/booting|restoring/.test(r.stderr), `${r.args.join(" ")} started a VM`);
  }
});

test("P1-21 -g values must fit their variable (u8, u32), and must be name=value", async () => {
  const pin = bpffs ? ["--pin-root", bpffs] : [];
  const rs = await all([
    () => kfunc(["run", harden, "-p", "harden_raw", "--duration", "0.1", "-g", "small=300", ...pin]),
    () => kfunc(["run", harden, "-p", "harden_raw", "--duration", "0.1", "-g", "small=-1", ...pin]),
    () => kfunc(["run", harden, "-p", "harden_raw", "--duration", "0.1", "-g", "medium=4294967296", ...pin]),
    () => kfunc(["run", harden, "-p", "harden_raw", "--duration", "0.1", "-g", "small", ...pin]),
  ]);
  for (const r of rs.slice(0, 3)) {
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /does not fit the variable/);
  }
  assert.equal(rs[3]!.status, 2);
  assert.match(rs[3]!.stderr, /expected name=value/);
  if (!bpffs) return;
  const ok = await kfunc([
    "run",
    harden,
    "-p",
    "harden_raw",
    "--duration",
    "0.1",
    "-g",
    "small=255",
    "-g",
    "medium=4294967295",
    ...pin,
  ]);
  assert.equal(ok.status, 0, ok.stderr);
});

test("P1-30 a map pinned by name and no bpffs: the map, the path and the mount command; --pin-root", async (t) => {
  let notBpffs = "/sys/fs/bpf";
  let isBpf = false;
  try {
    isBpf = Number(statfsSync(notBpffs).type) === 0xcafe4a11;
  } catch {}
  const args = ["run", harden, "-p", "harden_raw", "--duration", "0.1"];
  if (isBpf) {
    notBpffs = f("plain");
    mkdirSync(notBpffs, { recursive: true });
    args.push("--pin-root", notBpffs);
  }
  const r = await kfunc(args);
  assert.equal(
    userError(r, `${notBpffs}/harden_pinned`, /'harden_pinned' is pinned by name[\s\S]*mount -t bpf bpf/, 2),
    undefined,
  );
  if (!bpffs) return t.skip("cannot mount a bpffs here");
  const ok = await kfunc(["run", harden, "-p", "harden_raw", "--duration", "0.1", "--pin-root", bpffs]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(existsSync(join(bpffs, "harden_pinned")));
});

test("P1-14/16/18/20 test-run names what each program type takes", async () => {
  const rs = await all([
    () => kfunc(["test-run", obj, "-p", "sys_add", "--ctx-in", f("ctx3.bin")]),
    () => kfunc(["test-run", obj, "-p", "sys_add"]),
    () => kfunc(["test-run", obj, "-p", "sys_add", "--ctx-in", f("ctx100k.bin")]),
    () => kfunc(["test-run", obj, "-p", "xdp_filter", "--data-in", f("d14.bin"), "--ctx-in", f("ctx3.bin")]),
    () => kfunc(["test-run", obj, "-p", "xdp_filter", "--data-in", f("d20m.bin")]),
    () => kfunc(["test-run", harden, "-p", "harden_tp_btf"]),
    () => kfunc(["test-run", obj, "-p", "sys_add", "--ctx-in", f("ctx12.bin")]),
    () => kfunc(["test-run", obj, "-p", "xdp_filter", "--data-in", f("d14.bin"), "--ctx-in", f("ctx24.bin")]),
  ]);
  const expect: [number, RegExp][] = [
    [2, /struct add_args \(12 bytes\); --ctx-in has 3 bytes[\s\S]*at most 65535/],
    [2, /struct add_args \(12 bytes\); --ctx-in has none/],
    [2, /at most 65535 bytes; ctxIn has 100000/],
    [2, /struct xdp_md of 24 bytes; ctxIn has 3/],
    [1, /ENOMEM[\s\S]*hint: packet data of 20000000 bytes is more than the kernel takes/],
    [2, /tp_btf programs cannot be test-run[\s\S]*kfunc run/],
    [0, /retval 0/],
    [0, /XDP_/],
  ];
  rs.forEach((r, i) => {
    const [status, pattern] = expect[i]!;
    assert.equal(r.status, status, `${r.args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr + r.stdout, pattern, r.args.join(" "));
    assert.ok(!r.stderr.includes("internal error"));
  });
});

test("P1-11 unprivileged run / test-run: 'needs root, or CAP_BPF + CAP_PERFMON'", async () => {
  assert.equal(missingBpfPrivilege(0n), "CAP_BPF + CAP_PERFMON");
  assert.equal(missingBpfPrivilege(1n << 21n), undefined); // CAP_SYS_ADMIN
  assert.equal(missingBpfPrivilege((1n << 38n) | (1n << 39n)), undefined);
  assert.equal(missingBpfPrivilege((1n << 38n) | (1n << 39n), { network: true }), "CAP_NET_ADMIN");
  assert.equal(missingBpfPrivilege(1n << 39n), "CAP_PERFMON");
  assert.equal(effectiveCaps("CapInh:\t0\nCapEff:\t000001ffffffffff\n"), 0x1ffffffffffn);
  const rs = await all([
    () => kfunc(["run", obj, "-p", "raw_double", "--duration", "0.1"], { prefix: NOBODY }),
    () => kfunc(["test-run", obj, "-p", "xdp_filter", "--data-in", f("d14.bin")], { prefix: NOBODY }),
  ]);
  for (const r of rs) {
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /needs root, or CAP_BPF \+ CAP_PERFMON[\s\S]*hint: run it as root/);
  }
});

test("P1-22 module header errors name the file", async () => {
  const trunc = f("trunc.ko");
  writeFileSync(trunc, Buffer.from(await readModule(ko)).subarray(0, 3000));
  const empty = f("empty.o");
  writeFileSync(empty, "");
  const files = ["/bin/ls", obj, trunc, empty];
  const rs = await all(files.map((file) => () => kfunc(["module", "header", file, "--base", kernel.btf])));
  rs.forEach((r, i) => {
    assert.equal(r.status, 1, r.stderr);
    assert.ok(r.stderr.includes(files[i]!) && !r.stderr.includes("<module>"), r.stderr);
  });
});

test("P1-23 module header's default base: the module's own kernel BTF, or a refusal, never the host's", () => {
  const bytes = new Uint8Array(readFileSync(ko));
  const release = kernel.release;
  const cached = moduleHeaderBase(bytes, ko, undefined, { hostRelease: "6.18.0-host" });
  assert.equal(cached.path, kernel.btf);
  assert.match(
    cached.note ?? "",
    new RegExp(`built for Linux ${release.replace(/[+.]/g, "\\$&")}, not this host's 6.18.0-host`),
  );
  assert.equal(
    moduleHeaderBase(bytes, ko, undefined, { hostRelease: release }).path,
    "/sys/kernel/btf/vmlinux",
  );
  assert.throws(
    () => moduleHeaderBase(bytes, ko, undefined, { hostRelease: "6.18.0-host", cacheDir: T }),
    (e: unknown) =>
      isKfuncKitError(e) &&
      /built for Linux .* default base is this host's BTF/.test(e.message) &&
      /--base/.test(e.hint ?? ""),
  );
  assert.equal(moduleHeaderBase(bytes, ko, "/x/btf").path, "/x/btf");
});

test("P3-17 a module built for another kernel is refused before booting, naming both releases", async () => {
  const r = await kfunc(["vm", "run", "--kernel", "debian:bookworm", "--insmod", ko, "--", "true"]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `built for Linux ${kernel.release.replace(/[+.]/g, "\\$&")} \\(its vermagic\\), but the VM runs 6\\.1\\.`,
    ),
  );
  assert.match(r.stderr, /hint: rebuild it for this kernel/);
  assert.ok(!/booting|restoring/.test(r.stderr));
});

test("P3-10 vm run --json output is lossless: UTF-8 as a string, anything else base64 with a flag", () => {
  assert.deepEqual(jsonBytes("stdout", Buffer.from("héllo\n")), { stdout: "héllo\n" });
  const bin = Buffer.from([0, 0xff, 0xfe, 0x80, 10, 0xc3]);
  const j = jsonBytes("stdout", bin);
  assert.equal(j["stdoutEncoding"], "base64");
  assert.deepEqual(Buffer.from(j["stdout"]!, "base64"), bin);
});

test("P2-13/14 C strings: one escaper survives any text through gcc; control characters are refused by the config", () => {
  const texts = [
    'a "quoted" */ desc \\ with ??/ trigraph ??= x',
    "tab\there\nnl \u0007 bell \u007f del",
    "ünï ✓",
    'x"); MODULE_LICENSE("Proprietary',
  ];
  const c = join(T, "s.c");
  writeFileSync(
    c,
    `#include <stdio.h>\nint main(void){${texts.map((s) => `fputs(${cString(s)}, stdout); putchar(0);`).join("")}return 0;}\n`,
  );
  const exe = join(T, "s");
  const cc = spawnSync("gcc", ["-std=c11", "-Wall", "-Werror", "-Wno-trigraphs", "-o", exe, c], {
    encoding: "utf8",
  });
  assert.equal(cc.status, 0, cc.stderr);
  assert.deepEqual(spawnSync(exe).stdout.toString("utf8").split("\0").slice(0, -1), texts);
  const base = { name: "mk_ok", sources: ["mk.c"], kfuncs: ["mk_add"], programTypes: ["TRACING"] };
  for (const key of ["description", "author"])
    for (const ch of ["\u0007", "\n", "\t", "\u001b", "\u007f"])
      assert.throws(
        () => validateModuleConfig({ ...base, [key]: `a ${ch} b` }, "kfunc.json", T),
        new RegExp(`'${key}'.*control character U\\+00`),
      );
  assert.equal(
    validateModuleConfig({ ...base, description: 'fine "quotes" \\ ??/' }, "kfunc.json", T).name,
    "mk_ok",
  );
});

test("P2-16 a kfunc defined static inline is named as inlined (no BTF id), before kbuild", async () => {
  const dir = f("static-inline");
  mkdirSync(dir);
  writeFileSync(
    join(dir, "kfunc.json"),
    JSON.stringify({
      name: "mk_si",
      sources: ["mk_kfuncs.c"],
      kfuncs: ["mk_add", "mk_two"],
      programTypes: ["TRACING"],
    }),
  );
  writeFileSync(
    join(dir, "mk_kfuncs.c"),
    `#include "kfunc_module.h"\n__bpf_kfunc_start_defs();\n__bpf_kfunc u64 mk_add(u32 a, u64 b) { return a + b; }\nstatic inline u64 mk_two(u32 a) { return a * 2; }\n__bpf_kfunc_end_defs();\n`,
  );
  await assert.rejects(
    buildModule(dir, { kernel: "debian:bookworm-backports" }),
    (e: unknown) =>
      isKfuncKitError(e) &&
      /'mk_two' defined static \(inline\).*no BTF id/.test(e.message) &&
      !/mk_add/.test(e.message),
  );
  assert.ok(!existsSync(join(dir, "build")), "kbuild did not run");
});

test("P2-16 a hand-written module's static inline kfunc: the check names it as inlined, not 'did resolve_btfids run?'", async () => {
  const dir = f("seed-static-inline");
  mkdirSync(dir);
  copyFileSync(join(REPO_ROOT, "examples/seed/Kbuild"), join(dir, "Kbuild"));
  const src = readFileSync(join(REPO_ROOT, "examples/seed/hello.c"), "utf8")
    .split("\n")
    .filter((l) => l !== "__bpf_kfunc u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d);")
    .map((l) =>
      l === "__bpf_kfunc u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)"
        ? "static inline u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)"
        : l,
    )
    .join("\n");
  assert.match(src, /static inline u64 bpf_kfunc_call_test/);
  writeFileSync(join(dir, "hello.c"), src);
  await assert.rejects(
    buildModule(dir, { kernel: "debian:bookworm-backports" }),
    (e: unknown) =>
      isKfuncKitError(e) &&
      /'bpf_kfunc_call_test' has no BTF id.*static inline function is inlined/.test(e.message) &&
      !/resolve_btfids/.test(e.hint ?? ""),
  );
});

test("P1-06 a .ko given to run / test-run: named as a kernel module, with the verbs that take one", async () => {
  const rs = await all([
    () => kfunc(["run", ko, "--duration", "0.1"]),
    () => kfunc(["test-run", ko, "-p", "x"]),
  ]);
  for (const r of rs)
    assert.equal(userError(r, ko, /a kernel module, not an eBPF object[\s\S]*vm run --insmod/, 2), undefined);
});
