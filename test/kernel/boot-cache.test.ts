/**
 * The per-boot cache (src/kernel/boot-cache.ts) on the host: probe results and vmlinux type ids land in
 * <cache>/boot/<boot_id>.json; a cached id that does not name the right type (a corrupt or foreign file) is
 * ignored and replaced, so a wrong cache can only cost time, never a wrong answer.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

const dir = mkdtempSync(join(tmpdir(), "kk-boot-cache-"));
process.env["KFUNC_KIT_CACHE"] = dir; // read at the cache's first use, below
delete process.env["KFUNC_KIT_NO_BOOT_CACHE"];
after(() => rmSync(dir, { recursive: true, force: true }));

const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
const file = join(dir, "boot", `${bootId}.json`);

test("a wrong cached id is ignored; probe results and the right ids are recorded for this boot", async () => {
  mkdirSync(join(dir, "boot"), { recursive: true });
  // id 1 is some other type in every vmlinux
  writeFileSync(file, JSON.stringify({ "vmlinux-ids:FUNC:bpf_task_from_pid": [1] }));
  const { vmlinuxBtf } = await import("../../src/kernel/kernel-btf.ts");
  const { vmlinuxTypesByName } = await import("../../src/kernel/vmlinux-ids.ts");
  const { supports } = await import("../../src/kernel/features.ts");
  const vmlinux = vmlinuxBtf();
  const want = vmlinux.findAllByName("bpf_task_from_pid", "FUNC").map((t) => t.id);
  assert.ok(want.length > 0);
  assert.deepEqual(
    vmlinuxTypesByName(vmlinux, "bpf_task_from_pid", "FUNC").map((t) => t.id),
    want,
  );
  assert.equal(supports("btfFunc"), true);
  const saved = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  assert.deepEqual(saved["vmlinux-ids:FUNC:bpf_task_from_pid"], want, "the wrong id was replaced");
  assert.equal(saved["feature:btfFunc"], true);
  // a BTF that is not the running kernel's never goes through the cache
  const { parseBtf } = await import("../../src/btf/index.ts");
  const copy = parseBtf(vmlinux.bytes);
  assert.deepEqual(
    vmlinuxTypesByName(copy, "bpf_task_release", "FUNC").map((t) => t.id),
    copy.findAllByName("bpf_task_release", "FUNC").map((t) => t.id),
  );
  assert.equal(
    (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>)["vmlinux-ids:FUNC:bpf_task_release"],
    undefined,
  );
});
