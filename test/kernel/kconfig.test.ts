/**
 * `.kconfig` externs as libbpf answers them: CONFIG_* from the kernel's config ($KFUNC_KIT_KCONFIG, then
 * /proc/config.gz, then /boot/config-<release>), weak ones 0 when absent, a strong one that cannot be
 * answered fails naming the config file. (The VM side, the guest kernel's own config, is in
 * test/corpus/corpus-vm.test.ts.)
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { KfuncKitError } from "../../src/errors.ts";
import { loadCollection } from "../../src/kernel/index.ts";
import { KCONFIG_ENV, kconfigCandidates, runningKconfig } from "../../src/kernel/ksyms.ts";
import { testRun } from "../../src/kernel/test-run.ts";
import { fixtureSpec, requireBpf } from "./load-helpers.ts";

function withConfig<T>(text: string | undefined, fn: () => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "kfunc-kit-kconfig-"));
  const file = join(dir, "config");
  if (text !== undefined) writeFileSync(file, text);
  const before = process.env[KCONFIG_ENV];
  process.env[KCONFIG_ENV] = file;
  return fn().finally(() => {
    if (before === undefined) delete process.env[KCONFIG_ENV];
    else process.env[KCONFIG_ENV] = before;
    rmSync(dir, { recursive: true, force: true });
  });
}

test("the config $KFUNC_KIT_KCONFIG names answers CONFIG_* externs; absent weak ones are 0", async (t) => {
  if (!requireBpf(t)) return;
  const text =
    'CONFIG_BPF_SYSCALL=y\nCONFIG_KFUNC_KIT_TRISTATE=m\nCONFIG_KFUNC_KIT_INT=0x2a\nCONFIG_KFUNC_KIT_STR="abc"\n';
  await withConfig(text, async () => {
    assert.equal(runningKconfig()?.file, process.env[KCONFIG_ENV]);
    using coll = await loadCollection(fixtureSpec("load-kconfig"));
    assert.equal(testRun(coll.program("read_config")).retval, 0);
    assert.equal(coll.variable("syscall_on").get(), 1);
    assert.equal(coll.variable("tristate").get(), 2, "m → LIBBPF_TRISTATE_MODULE");
    assert.equal(coll.variable("number").get(), 42);
    assert.equal(coll.variable("str").get(), "abc");
    assert.equal(coll.variable("absent").get(), 0);
  });
});

test("a strong CONFIG_* extern the config lacks fails naming the config file", async (t) => {
  if (!requireBpf(t)) return;
  await withConfig("CONFIG_SOMETHING_ELSE=y\n", async () => {
    await assert.rejects(
      loadCollection(fixtureSpec("load-kconfig")),
      (e: unknown) =>
        e instanceof KfuncKitError &&
        e.message.includes("extern (kconfig) 'CONFIG_BPF_SYSCALL': not set in the running kernel's config") &&
        e.message.includes(process.env[KCONFIG_ENV]!),
    );
  });
});

test("without $KFUNC_KIT_KCONFIG the running kernel's own config answers", async (t) => {
  if (!requireBpf(t)) return;
  await withConfig(undefined, async () => {
    // a named file that does not exist is passed over, like the others
    assert.deepEqual(kconfigCandidates("R").slice(1), ["/proc/config.gz", "/boot/config-R"]);
    const cfg = runningKconfig();
    if (!cfg) return t.skip("this kernel has neither /proc/config.gz nor /boot/config-<release>");
    const own = cfg.file.endsWith(".gz")
      ? gunzipSync(readFileSync(cfg.file)).toString()
      : readFileSync(cfg.file, "utf8");
    const expected = /^CONFIG_BPF_SYSCALL=y$/m.test(own) ? 1 : 0;
    using coll = await loadCollection(fixtureSpec("load-kconfig"));
    testRun(coll.program("read_config"));
    assert.equal(coll.variable("syscall_on").get(), expected);
  });
});
