/** One KernelVersion and one parser (src/kernel-version.ts); the older names are the same function. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { kernelVersionCode } from "../src/kernel/ksyms.ts";
import { formatVersion, parseKernelVersion, versionAtLeast, versionCode } from "../src/kernel-version.ts";
import { parseKernelVersion as qemuParse } from "../src/kernels/types.ts";
import { parseRelease } from "../src/module/kernel-features.ts";

test("releases and Debian package versions parse into one KernelVersion", () => {
  assert.deepEqual(parseKernelVersion("6.12.95+deb12-amd64"), { major: 6, minor: 12, patch: 95 });
  assert.deepEqual(parseKernelVersion("6.1.0-37-amd64"), { major: 6, minor: 1, patch: 0 });
  assert.deepEqual(parseKernelVersion("6.12.95-1~bpo12+1"), { major: 6, minor: 12, patch: 95 });
  assert.deepEqual(parseKernelVersion("6.18"), { major: 6, minor: 18, patch: 0 });
  assert.equal(parseKernelVersion("linux"), undefined);
  assert.deepEqual(qemuParse("linux"), { major: 0, minor: 0, patch: 0 }, "qemu's form keeps its 0.0.0");
  assert.equal(parseRelease, parseKernelVersion);
});

test("comparisons, formatting and LINUX_VERSION_CODE", () => {
  const v = parseKernelVersion("6.10.3")!;
  assert.ok(versionAtLeast(v, 6, 10));
  assert.ok(!versionAtLeast(v, 6, 11));
  assert.equal(formatVersion(v), "6.10");
  assert.equal(versionCode({ major: 6, minor: 1, patch: 300 }), (6 << 16) | (1 << 8) | 255);
  assert.equal(kernelVersionCode("6.18.44-fc"), (6 << 16) | (18 << 8) | 44);
});
