/** Host facts read in one place (src/kernel/host.ts): the kallsyms parser, checked against this host's file. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { kallsymsText, parseKallsyms, VMLINUX_BTF_PATH } from "../../src/kernel/host.ts";
import { VMLINUX_BTF_PATH as fromKernelBtf } from "../../src/kernel/kernel-btf.ts";
import { HOST_BTF } from "../../src/module/target.ts";

test("parseKallsyms reads address, type, name and the module of module symbols", () => {
  const text =
    "ffffffff81000000 T _text\nffffffffc0a01000 t zoo_add4\t[kfunc_zoo]\n0000000000000000 D jiffies\n";
  assert.deepEqual(
    [...parseKallsyms(text)],
    [
      { name: "_text", type: "T", address: "ffffffff81000000", module: undefined },
      { name: "zoo_add4", type: "t", address: "ffffffffc0a01000", module: "kfunc_zoo" },
      { name: "jiffies", type: "D", address: "0000000000000000", module: undefined },
    ],
  );
});

test("on this host: every line of /proc/kallsyms parses, and the count matches the line count", (t) => {
  const text = kallsymsText();
  if (!text) return t.skip("/proc/kallsyms is not readable here");
  const lines = text.split("\n").filter((l) => l.trim() !== "").length;
  let n = 0;
  for (const s of parseKallsyms(text)) {
    n++;
    assert.ok(s.name && s.type.length === 1 && /^[0-9a-f]+$/.test(s.address), JSON.stringify(s));
  }
  assert.equal(n, lines);
  assert.equal(readFileSync("/proc/kallsyms", "utf8").length > 0, true);
});

test("one vmlinux BTF path: the older names are the same constant", () => {
  assert.equal(VMLINUX_BTF_PATH, "/sys/kernel/btf/vmlinux");
  assert.equal(fromKernelBtf, VMLINUX_BTF_PATH);
  assert.equal(HOST_BTF, VMLINUX_BTF_PATH);
});
