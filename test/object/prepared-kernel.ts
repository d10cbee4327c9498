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

/** The newest cached kernel at least `min` (default 6.10: the seed module's KPROBE kfunc hook needs it). */
export function findPreparedKernel(min: [number, number] = [6, 10]): CachedKernel | undefined {
  const root =
    process.env["KFUNC_KIT_CACHE"] ??
    join(process.env["XDG_CACHE_HOME"] || join(homedir(), ".cache"), "kfunc-kit");
  const dir = join(root, "kernels");
  if (!existsSync(dir)) return undefined;
  let best: (CachedKernel & { v: number }) | undefined;
  for (const release of readdirSync(dir).sort()) {
    const meta = join(dir, release, "kernel.json");
    if (!existsSync(meta)) continue;
    const k = JSON.parse(readFileSync(meta, "utf8")) as {
      headersDir?: string;
      btf?: string;
      version?: { major: number; minor: number };
    };
    if (!k.headersDir || !k.btf || !k.version) continue;
    const v = k.version.major * 1000 + k.version.minor;
    if (v < min[0] * 1000 + min[1]) continue;
    const headersDir = join(dir, release, k.headersDir);
    const btf = join(dir, release, k.btf);
    if (existsSync(join(headersDir, "vmlinux")) && existsSync(btf) && (!best || v > best.v))
      best = { release, headersDir, btf, v };
  }
  return best && { release: best.release, headersDir: best.headersDir, btf: best.btf };
}
