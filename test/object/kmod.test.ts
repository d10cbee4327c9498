import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { cFuncPrototype } from "../../src/btf/c-printer.ts";
import { parseBtf } from "../../src/btf/index.ts";
import { isKfuncKitError } from "../../src/errors.ts";
import { parseKernelModule } from "../../src/object/index.ts";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";
import { findPreparedKernel } from "./prepared-kernel.ts";

const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** Builds examples/seed in a temp copy against `kdir`; returns the .ko path. */
function buildSeed(kdir: string): string {
  const dir = mkdtempSync(join(tmpdir(), "kfunc-kit-seed-"));
  temps.push(dir);
  cpSync(join(REPO_ROOT, "examples/seed"), dir, { recursive: true });
  const r = spawnSync("make", [`KDIR=${kdir}`], { cwd: dir, encoding: "utf8" });
  assert.equal(r.status, 0, `make failed:\n${r.stdout}\n${r.stderr}`);
  return join(dir, "hello.ko");
}

/** A view of a kbuild dir without its vmlinux: kbuild then skips module BTF and resolve_btfids. */
function withoutVmlinux(kdir: string): string {
  const dir = mkdtempSync(join(tmpdir(), "kfunc-kit-kdir-"));
  temps.push(dir);
  for (const e of readdirSync(kdir))
    if (e !== "vmlinux") symlinkSync(realpathSync(join(kdir, e)), join(dir, e));
  return dir;
}

const kernel = findPreparedKernel();

test("seed module built with vmlinux BTF: name, vermagic, .BTF, resolved set with the kfunc", (t) => {
  if (!kernel) {
    t.skip(
      "no prepared kernel with a kbuild dir and vmlinux in the kfunc-kit cache (>= 6.10; run `kfunc vm prepare` first)",
    );
    return;
  }
  const ko = buildSeed(kernel.headersDir);
  const mod = parseKernelModule(new Uint8Array(readFileSync(ko)), ko);
  assert.equal(mod.name, "hello");
  assert.equal(mod.modinfo["license"], "GPL");
  assert.ok(mod.vermagic?.startsWith(kernel.release), mod.vermagic);
  assert.equal(mod.hasBtf, true);
  assert.equal(mod.kfuncSets.length, 1);
  const set = mod.kfuncSets[0]!;
  assert.equal(set.name, "bpf_kfunc_example_ids_set");
  assert.equal(set.kind, "set8");
  assert.equal(set.resolved, true);
  assert.equal(set.count, 1);
  assert.equal(set.flags, 1, "BTF_SET8_KFUNCS (6.9+)");
  assert.deepEqual(set.functions, ["bpf_kfunc_call_test"]);
  const base = parseBtf(new Uint8Array(readFileSync(kernel.btf)), { source: kernel.btf });
  const btf = parseBtf(mod.btf!, { base, source: ko });
  const id = set.entries[0]!.id;
  assert.ok(id >= btf.firstId, "the id is one of the module's own types");
  assert.equal(cFuncPrototype(btf, id), "u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)");
});

test("seed module built without vmlinux: no .BTF and a set of zero ids", (t) => {
  if (!kernel) {
    t.skip(
      "no prepared kernel with a kbuild dir in the kfunc-kit cache (>= 6.10; run `kfunc vm prepare` first)",
    );
    return;
  }
  const ko = buildSeed(withoutVmlinux(kernel.headersDir));
  const mod = parseKernelModule(new Uint8Array(readFileSync(ko)), ko);
  assert.equal(mod.name, "hello");
  assert.equal(mod.hasBtf, false);
  assert.equal(mod.btf, undefined);
  const set = mod.kfuncSets[0]!;
  assert.equal(set.resolved, false);
  assert.equal(set.count, 0);
  assert.deepEqual(set.entries, [{ id: 0, flags: 0, func: "bpf_kfunc_call_test" }]);
});

test("parseKernelModule refuses an eBPF object (no .modinfo)", () => {
  const o = compileFixture(join(REPO_ROOT, "examples/seed/kfunc.bpf.c"));
  assert.throws(
    () => parseKernelModule(new Uint8Array(readFileSync(o)), o),
    (e: unknown) => isKfuncKitError(e) && e.code === "OBJECT" && e.message.includes("not a kernel module"),
  );
  assert.ok(existsSync(o));
});
