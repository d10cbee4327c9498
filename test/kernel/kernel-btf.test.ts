import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { test } from "node:test";
import { VMLINUX_BTF_PATH, vmlinuxBtf } from "../../src/kernel/kernel-btf.ts";
import { REPO_ROOT } from "../helpers/index.ts";

const mappable = (): boolean => {
  const [maj = 0, min = 0] = release().split(".").map(Number);
  return maj > 6 || (maj === 6 && min >= 16);
};

test("vmlinuxBtf maps /sys/kernel/btf/vmlinux (Linux ≥ 6.16): the same bytes and types as reading it", (t) => {
  if (!existsSync(VMLINUX_BTF_PATH)) return t.skip(`${VMLINUX_BTF_PATH} does not exist (no kernel BTF)`);
  const btf = vmlinuxBtf();
  const read = new Uint8Array(readFileSync(VMLINUX_BTF_PATH));
  assert.ok(Buffer.from(btf.bytes).equals(read), "mapped bytes equal the file's");
  assert.ok(btf.findByName("task_struct", "STRUCT"));
  if (!mappable()) return t.skip(`kernel ${release()} < 6.16 cannot map it: read instead (checked above)`);
  // a mapping is not a Node Buffer from readFileSync, and it is not part of the JS heap
  assert.ok(!Buffer.isBuffer(btf.bytes), "the bytes are a view over the mapping");
  // KFUNC_KIT_NO_BTF_MMAP=1 reads instead; both parse to the same type count
  const script = `import { vmlinuxBtf } from "./src/kernel/kernel-btf.ts";
const b = vmlinuxBtf();
process.stdout.write(JSON.stringify({ next: b.nextId, buffer: Buffer.isBuffer(b.bytes) }));`;
  for (const [env, buffer] of [
    [{}, false],
    [{ KFUNC_KIT_NO_BTF_MMAP: "1" }, true],
  ] as const) {
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      env: { ...process.env, ...env },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { next: btf.nextId, buffer });
  }
});
