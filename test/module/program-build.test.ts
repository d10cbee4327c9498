/**
 * The eBPF side: `kfunc build` (buildProgram) with vmlinux.h printed from the target kernel's BTF and the
 * module's generated kfuncs.h, and generateKfuncHeader on a built .ko (plain and __weak).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { parseBtf } from "../../src/btf/index.ts";
import { buildProgram } from "../../src/compile/index.ts";
import { isKfuncKitError } from "../../src/errors.ts";
import { type BuiltModule, buildModule, generateKfuncHeader } from "../../src/module/index.ts";
import { parseObject } from "../../src/object/index.ts";
import { DEFAULT_KERNEL } from "../../src/qemu/index.ts";
import { REPO_ROOT } from "../helpers/fixtures.ts";

const ZOO = join(REPO_ROOT, "examples", "kfunc-zoo");
const tmp = mkdtempSync(join(tmpdir(), "kfunc-program-build-"));
let built: BuiltModule;

before(async () => {
  built = await buildModule(ZOO, { kernel: DEFAULT_KERNEL, outDir: join(tmp, "zoo") });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test("kfunc build compiles the zoo programs against vmlinux.h and kfunc_zoo.kfuncs.h; the externs are kfuncs", async () => {
  const r = await buildProgram(join(ZOO, "bpf", "zoo.bpf.c"), {
    kernel: DEFAULT_KERNEL,
    modules: [built.buildDir],
    output: join(tmp, "zoo.bpf.o"),
  });
  assert.equal(r.release, built.kernel);
  assert.match(readFileSync(r.vmlinuxH, "utf8").slice(0, 200), /#ifndef __VMLINUX_H__/);
  assert.deepEqual(r.moduleHeaders, [built.header]);
  const spec = parseObject(readFileSync(r.object), r.object);
  const kfuncs = spec.externs.filter((e) => e.kind === "kfunc");
  const byName = Object.fromEntries(kfuncs.map((e) => [e.name, e]));
  for (const k of [
    "zoo_sum_bytes",
    "zoo_obj_acquire",
    "zoo_obj_release",
    "zoo_obj_value",
    "zoo_sleep_us",
    "zoo_add4",
  ])
    assert.equal(byName[k]?.weak, false, `${k} is a strong kfunc extern`);
  assert.equal(byName["zoo_not_in_any_kernel"]?.weak, true);
  assert.equal(byName["zoo_live_objects"]?.weak, true);
});

test("without --module the missing header is explained", async () => {
  await assert.rejects(
    buildProgram(join(ZOO, "bpf", "zoo.bpf.c"), { kernel: DEFAULT_KERNEL, output: join(tmp, "x.o") }),
    (e: unknown) => {
      assert.ok(isKfuncKitError(e));
      assert.match(e.message, /'kfunc_zoo\.kfuncs\.h' file not found/);
      assert.match(e.hint ?? "", /--module <module dir>/);
      return true;
    },
  );
});

test("generateKfuncHeader from the .ko: include guard, module types, prototypes in declaration order, __weak", () => {
  const base = parseBtf(readFileSync(built.target.btf!), { source: "vmlinux" });
  const ko = readFileSync(built.ko);
  const h = generateKfuncHeader(ko, base);
  const externs = h.split("\n").filter((l) => l.startsWith("extern "));
  assert.deepEqual(externs, [
    "extern u64 zoo_add4(u32 a, u64 b, u32 c, u64 d) __ksym;",
    "extern u64 zoo_sum_bytes(const u8 *data, u32 data__sz) __ksym;",
    "extern struct zoo_obj *zoo_obj_acquire(u32 id) __ksym;",
    "extern void zoo_obj_release(struct zoo_obj *obj) __ksym;",
    "extern u64 zoo_obj_value(struct zoo_obj *obj) __ksym;",
    "extern int zoo_live_objects(void) __ksym;",
    "extern int zoo_sleep_us(u32 us) __ksym;",
  ]);
  assert.match(h, /\/\* KF_ACQUIRE \| KF_RET_NULL \*\/\nextern struct zoo_obj \*zoo_obj_acquire/);
  assert.match(h, /struct zoo_obj \{\n\trefcount_t ref;\n\tu32 id;\n\tu64 value;\n\};/);
  const weak = generateKfuncHeader(ko, base, { weak: true });
  assert.match(weak, /^extern int zoo_sleep_us\(u32 us\) __weak __ksym;$/m);
});
