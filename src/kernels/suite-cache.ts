/**
 * Remembers which release a Debian suite resolved to (`bookworm-backports` → `6.12.95+deb12-amd64`) once
 * that kernel is unpacked, so a run with a cached kernel neither reads nor refreshes the apt lists: it works
 * offline. `kfunc vm prepare --refresh` (options.refresh) looks the suite up again.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../host/cache.ts";

const file = (cacheDir: string) => join(cacheDir, "kernels", "suites.json");

function read(cacheDir: string): Record<string, { release: string; at: string }> {
  try {
    return JSON.parse(readFileSync(file(cacheDir), "utf8")) as Record<
      string,
      { release: string; at: string }
    >;
  } catch {
    return {};
  }
}

/** The release the suite resolved to last time, if any. */
export function rememberedRelease(cacheDir: string, suite: string): string | undefined {
  return read(cacheDir)[suite]?.release;
}

export function rememberRelease(cacheDir: string, suite: string, release: string): void {
  const all = read(cacheDir);
  if (all[suite]?.release === release) return;
  all[suite] = { release, at: new Date().toISOString() };
  writeFileAtomic(file(cacheDir), `${JSON.stringify(all, null, 2)}\n`);
}
