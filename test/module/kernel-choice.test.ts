/**
 * One kernel resolver for every verb (src/kernels/resolve.ts), tried as a new user would: build the seed
 * module with `kfunc module build X`, then its program with `kfunc build --module X`, neither naming a
 * kernel. Both must pick the same kernel (on a host that cannot load modules, the default QEMU kernel);
 * before the resolver was shared, `kfunc build` looked for the module's headers of the host kernel.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { hostCanLoadModules, hostRelease } from "../../src/kernel/host.ts";
import { defaultKernel, resolveKernel } from "../../src/kernels/resolve.ts";
import { resolveTarget } from "../../src/module/index.ts";
import { DEFAULT_KERNEL } from "../../src/qemu/index.ts";
import { REPO_ROOT } from "../helpers/index.ts";

const tmp = mkdtempSync(join(tmpdir(), "kfunc-kernel-choice-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function kfunc(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `kfunc ${args.join(" ")}: exit ${r.status}\n${r.stderr}`);
  return { json: JSON.parse(r.stdout) as Record<string, unknown>, stderr: r.stderr };
}

test("kfunc module build X, then kfunc build --module X: the same default kernel, and the build works", () => {
  const seed = join(tmp, "seed");
  cpSync(join(REPO_ROOT, "examples", "seed"), seed, { recursive: true });
  const mod = kfunc("module", "build", seed, "--json").json as { kernel: string; header: string };
  const prog = kfunc("build", join(seed, "kfunc.bpf.c"), "--module", seed, "--json").json as {
    release: string;
    moduleHeaders: string[];
  };
  assert.equal(prog.release, mod.kernel, "kfunc build picked the kernel the module was built for");
  assert.deepEqual(prog.moduleHeaders, [mod.header]);
  if (!hostCanLoadModules().ok)
    assert.notEqual(mod.kernel, hostRelease(), "not the host: it cannot load modules");
});

test("the default depends only on the need, and resolveTarget follows it", async () => {
  assert.equal(defaultKernel("btf").spec, "host");
  const modules = defaultKernel("modules");
  assert.equal(modules.spec, hostCanLoadModules().ok ? "host" : DEFAULT_KERNEL);
  const target = await resolveTarget(undefined);
  const resolved = await resolveKernel(undefined, { needs: "modules" });
  assert.equal(target.release, resolved.release);
  assert.equal(target.reason, modules.reason);
  assert.equal(resolved.defaulted, true);
  await assert.rejects(resolveKernel("no-such-kernel"), /--kernel 'no-such-kernel': not host, debian/);
});
