import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { EnvironmentError } from "../errors.ts";
import { publish, tempSibling } from "../host/cache.ts";
import { runTool } from "../host/exec.ts";
import type { PreparedKernel } from "../kernels/types.ts";
import type { Progress } from "../progress.ts";
import { type CpioEntry, DIR, EXEC, FILE, SYMLINK, writeCpio } from "./cpio.ts";
import { INIT_SCRIPT } from "./guest-init.ts";
import { resolveModules } from "./modules.ts";

/** Modules the initramfs needs to mount a virtio-9p root (dependencies are resolved from modinfo). */
export const ROOT_MODULES = ["virtio_pci", "9pnet_virtio", "9p"];

const enc = new TextEncoder();
const BUSYBOX = "/bin/busybox";

/** Whether an ELF64 executable asks for a dynamic loader (PT_INTERP): a static busybox does not. */
function hasInterpreter(b: Uint8Array): boolean {
  if (b.length < 64 || b[0] !== 0x7f || b[4] !== 2) return false;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const phoff = Number(v.getBigUint64(32, true));
  const phentsize = v.getUint16(54, true);
  const phnum = v.getUint16(56, true);
  for (let i = 0; i < phnum && phoff + (i + 1) * phentsize <= b.length; i++)
    if (v.getUint32(phoff + i * phentsize, true) === 3) return true;
  return false;
}

/** The cached base initramfs of a kernel; its name changes with the /init script. */
export function initramfsPath(kernel: PreparedKernel): string {
  const v = createHash("sha256").update(INIT_SCRIPT).digest("hex").slice(0, 10);
  return join(dirname(kernel.btf), `initramfs-${v}.cpio.gz`);
}

/**
 * Builds (once per kernel, then cached) the base initramfs: static busybox, /init and the kernel's own
 * 9p/virtio modules, as a gzip'd newc cpio written by us.
 */
export async function ensureInitramfs(kernel: PreparedKernel, progress?: Progress): Promise<string> {
  const out = initramfsPath(kernel);
  if (existsSync(out)) return out;
  progress?.step(`building initramfs for ${kernel.release}`);
  if (!existsSync(BUSYBOX))
    throw new EnvironmentError(`${BUSYBOX} not found (the VM's initramfs is built from it)`, {
      hint: "install it: apt-get install busybox-static",
    });
  const busybox = readFileSync(BUSYBOX);
  if (hasInterpreter(busybox)) {
    throw new EnvironmentError(`${BUSYBOX} is dynamically linked; the initramfs needs a static one`, {
      hint: "install busybox-static (apt-get install busybox-static)",
    });
  }
  const mods = await resolveModules(kernel.modulesDir, ROOT_MODULES);
  // applet links written into the archive: cheaper than `busybox --install` at every boot under TCG
  const applets = (await runTool(BUSYBOX, ["--list"])).stdout
    .toString()
    .split("\n")
    .filter((a) => /^[\w.[-]+$/.test(a) && a !== "busybox");
  const entries: CpioEntry[] = [
    ...["bin", "dev", "proc", "sys", "newroot", "modules", "kfunc"].map((name) => ({ name, mode: DIR })),
    { name: "bin/busybox", mode: EXEC, data: busybox },
    { name: "init", mode: EXEC, data: enc.encode(INIT_SCRIPT) },
    ...applets.map((a) => ({ name: `bin/${a}`, mode: SYMLINK, data: enc.encode("busybox") })),
    ...mods.map((m) => ({ name: `modules/${m.name}.ko`, mode: FILE, data: m.bytes })),
    { name: "modules/order", mode: FILE, data: enc.encode(mods.map((m) => `${m.name}\n`).join("")) },
  ];
  const tmp = tempSibling(out);
  writeFileSync(tmp, gzipSync(writeCpio(entries), { level: 1 }));
  publish(tmp, out);
  // archives made for earlier /init scripts are never used again
  for (const f of readdirSync(dirname(out)))
    if (/^initramfs-[0-9a-f]+\.cpio\.gz$/.test(f) && join(dirname(out), f) !== out)
      rmSync(join(dirname(out), f), { force: true });
  progress?.succeed(`initramfs for ${kernel.release}: ${mods.map((m) => m.name).join(" ") || "no modules"}`);
  return out;
}

/** The small per-run archive appended to the base initramfs (the kernel unpacks concatenated archives). */
export function runArchive(files: { name: string; data: Uint8Array; mode?: number }[]): Uint8Array {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.name.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  const entries: CpioEntry[] = [
    ...[...dirs].sort().map((name) => ({ name, mode: DIR })),
    ...files.map((f) => ({ name: f.name, mode: f.mode ?? FILE, data: f.data })),
  ];
  return gzipSync(writeCpio(entries), { level: 1 });
}
