import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isKfuncKitError } from "../../src/errors.ts";
import { loadModuleConfig, validateModuleConfig } from "../../src/module/config.ts";

const dir = mkdtempSync(join(tmpdir(), "kfunc-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const good = {
  name: "zoo",
  sources: ["zoo_kfuncs.c"],
  kfuncs: ["zoo_sum", { name: "zoo_acquire", flags: ["KF_ACQUIRE", "ret_null"] }],
  programTypes: ["TRACING", "BPF_PROG_TYPE_SYSCALL"],
};

function rejects(json: unknown, key: string, hint: RegExp): void {
  assert.throws(
    () => validateModuleConfig(json, "/m/kfunc.json", "/m"),
    (e: unknown) => {
      assert.ok(isKfuncKitError(e), String(e));
      assert.equal(e.code, "MODULE");
      assert.match(e.message, new RegExp(`^/m/kfunc\\.json: '${key.replace(/[[\].]/g, "\\$&")}': `));
      assert.match(e.hint ?? "", hint);
      return true;
    },
  );
}

test("a valid config is normalized: flag and program type prefixes, string kfuncs, defaults", () => {
  const c = validateModuleConfig(good, "/m/kfunc.json", "/m");
  assert.equal(c.name, "zoo");
  assert.equal(c.license, "GPL");
  assert.deepEqual(c.kfuncs, [
    { name: "zoo_sum", flags: [] },
    { name: "zoo_acquire", flags: ["ACQUIRE", "RET_NULL"] },
  ]);
  assert.deepEqual(c.programTypes, ["TRACING", "SYSCALL"]);
  assert.deepEqual(c.optionalProgramTypes, []);
  assert.deepEqual(
    validateModuleConfig({ ...good, optionalProgramTypes: ["kprobe"] }, "/m/kfunc.json", "/m")
      .optionalProgramTypes,
    ["KPROBE"],
  );
});

test("invalid configs fail naming the file, the key and the fix", () => {
  rejects({ ...good, name: "Bad-Name" }, "name", /lowercase/);
  rejects({ ...good, license: "Proprietary" }, "license", /"GPL"/);
  rejects(
    { ...good, kfuncs: [{ name: "x", flags: ["ACQUIRED"] }] },
    "kfuncs[0].flags[0]",
    /ACQUIRE, RELEASE/,
  );
  rejects({ ...good, kfuncs: [{ name: "x", flags: ["ACQUIRE", "RELEASE"] }] }, "kfuncs[0].flags", /split/);
  rejects({ ...good, kfuncs: ["a", "a"] }, "kfuncs[1].name", /duplicate/);
  rejects({ ...good, kfuncs: [] }, "kfuncs", /my_kfunc/);
  rejects({ ...good, programTypes: ["KPROBES"] }, "programTypes[0]", /KPROBE, TRACING/);
  rejects({ ...good, programTypes: ["UNSPEC", "XDP"] }, "programTypes", /alone/);
  rejects({ ...good, optionalProgramTypes: ["KPROBE", "TRACING"] }, "optionalProgramTypes[1]", /once/);
  rejects({ ...good, optionalProgramTypes: ["KPROBES"] }, "optionalProgramTypes[0]", /KPROBE, TRACING/);
  rejects(
    { ...good, programTypes: ["UNSPEC"], optionalProgramTypes: ["KPROBE"] },
    "optionalProgramTypes[0]",
    /alone/,
  );
  rejects({ ...good, sources: ["zoo.c"], name: "zoo" }, "sources[0]", /rename/);
  rejects({ ...good, sorces: [] }, "sorces", /known keys/);
  rejects({ ...good, init: "not an ident" }, "init", /my_init/);
});

test("loadModuleConfig reports a missing source file and bad JSON with the path", () => {
  writeFileSync(join(dir, "kfunc.json"), JSON.stringify(good));
  assert.throws(() => loadModuleConfig(dir), /'sources': 'zoo_kfuncs.c' does not exist/);
  writeFileSync(join(dir, "zoo_kfuncs.c"), "");
  assert.equal(loadModuleConfig(dir).sources[0], "zoo_kfuncs.c");
  writeFileSync(join(dir, "kfunc.json"), "{ name: zoo }");
  assert.throws(
    () => loadModuleConfig(dir),
    (e: unknown) => {
      assert.ok(isKfuncKitError(e));
      assert.match(e.message, /kfunc\.json: not valid JSON/);
      return true;
    },
  );
});
