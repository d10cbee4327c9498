import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { readInputFile } from "../src/files.ts";

test("readInputFile reads sysfs and procfs files to the end, whatever size they report", (t) => {
  // /sys/kernel/btf/vmlinux reports its size but hands out a page per read(); /proc/kallsyms reports 0 and
  // is megabytes long (the buffer grows past its first 64 KiB)
  const files = ["/sys/kernel/btf/vmlinux", "/proc/kallsyms"].filter((f) => existsSync(f));
  if (files.length === 0) return t.skip("neither /sys/kernel/btf/vmlinux nor /proc/kallsyms exists here");
  for (const f of files) {
    const ours = readInputFile(f);
    const node = new Uint8Array(readFileSync(f));
    assert.ok(node.length > 0, `${f} is not empty`);
    assert.equal(ours.length, node.length, f);
    assert.ok(Buffer.from(ours).equals(node), `${f}: same bytes as readFileSync`);
  }
});
