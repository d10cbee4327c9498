/**
 * Debian 12's own 6.1 kernel (`debian:bookworm`): xz-compressed bzImage, virtio_pci and friends as modules,
 * headers without a vmlinux. One boot.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { prepareKernel, runInVm } from "../../src/qemu/index.ts";

test("debian:bookworm (6.1): prepared with BTF in the headers, boots with its virtio/9p modules", async () => {
  const k = await prepareKernel("debian:bookworm");
  assert.match(k.release, /^6\.1\.\d+-\d+-amd64$/);
  assert.equal(k.version.major, 6);
  assert.equal(k.version.minor, 1);
  // Debian's 6.1 headers ship no vmlinux: the image's BTF is put there so kbuild makes module BTF
  assert.deepEqual(readFileSync(join(k.headersDir!, "vmlinux")), readFileSync(k.btf));
  const r = await runInVm({
    kernel: k,
    cwd: "/",
    shares: [],
    command: [
      "sh",
      "-c",
      "uname -r; cut -d' ' -f1 /proc/modules | sort | tr '\\n' ' '; echo; sha256sum < /sys/kernel/btf/vmlinux",
    ],
  });
  assert.equal(r.exitCode, 0, r.stderr);
  const [release, modules, btfSum] = r.stdout.split("\n");
  assert.equal(release, k.release);
  for (const m of ["9p", "9pnet_virtio", "virtio_pci", "virtio_ring"])
    assert.ok(modules!.split(" ").includes(m), modules);
  const ours = createHash("sha256").update(readFileSync(k.btf)).digest("hex");
  assert.equal(
    btfSum!.split(" ")[0],
    ours,
    "our vmlinux.btf == the running 6.1 kernel's /sys/kernel/btf/vmlinux",
  );
});
