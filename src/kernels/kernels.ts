import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { defaultCacheDir, ensureWritableDir } from "../host/cache.ts";
import { PrivateApt } from "./apt.ts";
import { DEFAULT_KERNEL, readMarker, releaseOfSuite } from "./debian.ts";
import type { KernelVersion } from "./types.ts";

export interface CachedKernel {
  release: string;
  version: KernelVersion;
  suite: string | undefined;
  packageVersion: string | undefined;
  dir: string;
}

export interface KernelList {
  default: string;
  cached: CachedKernel[];
  /** What each suite of the private apt config currently points at. */
  suites: { suite: string; spec: string; release: string; cached: boolean }[];
  /** Every generic amd64 release the private apt lists know (`debian:<release>`). */
  available: string[];
}

/** Kernels in the cache, and (from the private apt lists; `apt-get update` only if missing) available ones. */
export async function listKernels(
  options: { cacheDir?: string; refresh?: boolean; offline?: boolean } = {},
): Promise<KernelList> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const dir = join(cacheDir, "kernels");
  const cached: CachedKernel[] = [];
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith(".")) continue;
      const m = readMarker(join(dir, name));
      if (m)
        cached.push({
          release: m.release,
          version: m.version,
          suite: m.suite,
          packageVersion: m.packageVersion,
          dir: join(dir, name),
        });
    }
  }
  const result: KernelList = { default: DEFAULT_KERNEL, cached, suites: [], available: [] };
  if (options.offline) return result;
  ensureWritableDir(cacheDir);
  const apt = new PrivateApt(cacheDir);
  await apt.ensure([], { refresh: options.refresh ?? false });
  for (const suite of apt.suites()) {
    const r = await releaseOfSuite(apt, suite).catch(() => undefined);
    if (r)
      result.suites.push({
        suite,
        spec: `debian:${suite}`,
        release: r.release,
        cached: cached.some((c) => c.release === r.release),
      });
  }
  result.available = (await apt.packageNames("linux-image-"))
    .map((n) => /^linux-image-(\d.*-amd64)-unsigned$/.exec(n)?.[1])
    .filter((r): r is string => r !== undefined && !r.endsWith("-cloud-amd64")) // no 9p in cloud kernels
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  return result;
}
