/**
 * `buildModule` against the default QEMU kernel (Debian bookworm-backports 6.12, fetched once into the
 * kfunc-kit cache): the config-driven zoo, the hand-written seed module, compiler errors as file:line, and
 * the post-build check catching a module built without vmlinux BTF.
 */
import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isKfuncKitError } from "../../src/errors.ts";
import { buildModule } from "../../src/module/index.ts";
import { type ModuleTarget, resolveTarget } from "../../src/module/target.ts";
import { DEFAULT_KERNEL } from "../../src/qemu/index.ts";
import { REPO_ROOT } from "../helpers/fixtures.ts";

const tmp = mkdtempSync(join(tmpdir(), "kfunc-module-build-"));
const ZOO = join(REPO_ROOT, "examples", "kfunc-zoo");
const SEED = join(REPO_ROOT, "examples", "seed");
let target: ModuleTarget;

before(async () => {
  target = await resolveTarget(DEFAULT_KERNEL);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test("kfunc-zoo builds for the default QEMU kernel: 7 resolved kfuncs with prototypes and flags, a header", async () => {
  const r = await buildModule(ZOO, { kernel: DEFAULT_KERNEL, outDir: join(tmp, "zoo") });
  assert.equal(r.kernel, target.release);
  assert.equal(r.name, "kfunc_zoo");
  assert.ok(r.generated);
  assert.deepEqual(r.sets, [{ name: "kfunc_zoo_kfunc_ids", count: 7 }]);
  const byName = Object.fromEntries(r.kfuncs.map((k) => [k.name, k]));
  assert.equal(byName["zoo_add4"]?.prototype, "u64 zoo_add4(u32 a, u64 b, u32 c, u64 d)");
  assert.equal(byName["zoo_sum_bytes"]?.prototype, "u64 zoo_sum_bytes(const u8 *data, u32 data__sz)");
  assert.deepEqual(byName["zoo_obj_acquire"]?.flags, ["ACQUIRE", "RET_NULL"]);
  assert.deepEqual(byName["zoo_obj_release"]?.flags, ["RELEASE"]);
  assert.deepEqual(byName["zoo_sleep_us"]?.flags, ["SLEEPABLE"]);
  assert.match(r.buildLog, /BTF \[M\] .*kfunc_zoo\.ko/);
  const header = readFileSync(r.header, "utf8");
  assert.match(header, /^#ifndef __KFUNC_ZOO_KFUNCS_H$/m);
  assert.match(header, /^extern struct zoo_obj \*zoo_obj_acquire\(u32 id\) __ksym;$/m);
  assert.match(header, /^struct zoo_obj \{$/m);
  assert.deepEqual(r.warnings, []);
});

test("the hand-written seed module (Kbuild, no config) builds with the same BTF guarantee and check", async (t) => {
  if (!existsSync(join(SEED, "hello.c"))) return t.skip("examples/seed/hello.c is not there yet");
  const r = await buildModule(SEED, { kernel: DEFAULT_KERNEL, outDir: join(tmp, "seed") });
  assert.equal(r.name, "hello");
  assert.equal(r.generated, false);
  assert.deepEqual(
    r.kfuncs.map((k) => k.prototype),
    ["u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)"],
  );
});

test("compiler errors come back as file:line: message naming the user's file", async () => {
  const dir = join(tmp, "broken");
  mkdirSync(dir);
  cpSync(join(ZOO, "kfunc.json"), join(dir, "kfunc.json"));
  const src = readFileSync(join(ZOO, "zoo_kfuncs.c"), "utf8").replace(
    "return a + b + c + d;",
    "return a + b + undeclared_thing;",
  );
  writeFileSync(join(dir, "zoo_kfuncs.c"), src);
  const line = src.split("\n").findIndex((l) => l.includes("undeclared_thing")) + 1;
  await assert.rejects(buildModule(dir, { kernel: DEFAULT_KERNEL }), (e: unknown) => {
    assert.ok(isKfuncKitError(e), String(e));
    assert.equal(e.code, "MODULE");
    assert.ok(e.message.includes(`zoo_kfuncs.c:${line}: error: 'undeclared_thing' undeclared`), e.message);
    assert.ok(!e.message.includes("/build/"), `build-dir paths are mapped back: ${e.message}`);
    return true;
  });
});

test("a kfunc named in kfunc.json but not defined in the sources is refused before kbuild", async () => {
  const dir = join(tmp, "typo");
  mkdirSync(dir);
  const config = JSON.parse(readFileSync(join(ZOO, "kfunc.json"), "utf8"));
  config.kfuncs.push({ name: "zoo_not_written" });
  writeFileSync(join(dir, "kfunc.json"), JSON.stringify(config));
  cpSync(join(ZOO, "zoo_kfuncs.c"), join(dir, "zoo_kfuncs.c"));
  await assert.rejects(
    buildModule(dir, { kernel: DEFAULT_KERNEL }),
    /kfunc 'zoo_not_written' not defined in zoo_kfuncs\.c/,
  );
});

/** A kernel build dir that is the target's, minus `vmlinux`: every other entry is a symlink. */
function withoutVmlinux(headersDir: string): string {
  const shadow = join(tmp, "kdir-without-vmlinux");
  mkdirSync(shadow);
  for (const e of readdirSync(headersDir))
    if (e !== "vmlinux") symlinkSync(join(headersDir, e), join(shadow, e));
  assert.ok(!existsSync(join(shadow, "vmlinux")));
  return shadow;
}

test("the post-build check catches a module built WITHOUT vmlinux BTF, and names the fix", async () => {
  const shadow = withoutVmlinux(target.headersDir);
  await assert.rejects(
    buildModule(ZOO, { kernel: shadow, outDir: join(tmp, "no-btf"), btfGuarantee: false }),
    (e: unknown) => {
      assert.ok(isKfuncKitError(e), String(e));
      assert.equal(e.code, "MODULE");
      assert.match(e.message, /kfunc_zoo\.ko: no \.BTF section/);
      assert.match(e.message, /Skipping BTF generation … due to unavailability of vmlinux/);
      assert.match(e.hint ?? "", new RegExp(`put the target kernel's BTF at ${shadow}/vmlinux`));
      return true;
    },
  );
  // the .ko really is BTF-less with an unresolved set: the check is not guessing
  const ko = readFileSync(join(tmp, "no-btf", "kfunc_zoo.ko"));
  const { parseKernelModule } = await import("../../src/object/index.ts");
  const spec = parseKernelModule(ko, "kfunc_zoo.ko");
  assert.equal(spec.hasBtf, false);
  assert.equal(spec.kfuncSets[0]?.resolved, false);
});

test("with the guarantee on, a kernel build dir without vmlinux and no known BTF is refused before building", async () => {
  const shadow = join(tmp, "kdir-without-vmlinux");
  if (!existsSync(shadow)) withoutVmlinux(target.headersDir);
  await assert.rejects(buildModule(ZOO, { kernel: shadow, outDir: join(tmp, "no-btf-2") }), (e: unknown) => {
    assert.ok(isKfuncKitError(e));
    assert.match(e.message, /no vmlinux in .* and no BTF of that kernel known/);
    assert.match(e.hint ?? "", /\/sys\/kernel\/btf\/vmlinux/);
    return true;
  });
});
