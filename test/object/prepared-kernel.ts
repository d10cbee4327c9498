/** Finds a kernel that `prepareKernel` (src/qemu) already unpacked into the cache, without downloading. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface CachedKernel {
  release: string;
  /** kbuild dir (linux-headers-<release>) containing a vmlinux (raw BTF) */
  headersDir: string;
  /** raw vmlinux BTF of that kernel */
  btf: string;
}

export function findPreparedKernel(): CachedKernel | undefined {
  const root =
    process.env["KFUNC_KIT_CACHE"] ??
    join(process.env["XDG_CACHE_HOME"] || join(homedir(), ".cache"), "kfunc-kit");
  const dir = join(root, "kernels");
  if (!existsSync(dir)) return undefined;
  for (const release of readdirSync(dir).sort()) {
    const meta = join(dir, release, "kernel.json");
    if (!existsSync(meta)) continue;
    const k = JSON.parse(readFileSync(meta, "utf8")) as { headersDir?: string; btf?: string };
    if (!k.headersDir || !k.btf) continue;
    const headersDir = join(dir, release, k.headersDir);
    const btf = join(dir, release, k.btf);
    if (existsSync(join(headersDir, "vmlinux")) && existsSync(btf)) return { release, headersDir, btf };
  }
  return undefined;
}
