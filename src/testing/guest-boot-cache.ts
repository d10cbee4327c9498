/**
 * The guest runner's per-boot cache (src/kernel/boot-cache.ts: feature probe results and the vmlinux ids of
 * kfuncs and CO-RE candidates), kept on the host between runs (issue 9, "guest start"). A guest's home is a
 * tmpfs, so without this every run probes again and builds the ~100k-name vmlinux index under TCG. A VM
 * restored from a saved state (src/qemu/snapshot.ts) is the same boot each time (the same
 * /proc/sys/kernel/random/boot_id), so what the last restored run learnt holds for the next one; a cold boot
 * has a new boot id and starts empty. The files go in and out through the run's directory (the guest writes
 * there) and are kept under `<cacheDir>/guest-boot/<boot_id>.json`, the newest few.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { keepNewest, writeFileAtomic } from "../host/cache.ts";

export interface GuestBootCache {
  /** The environment that points the guest's boot cache at the run's copy. */
  env: Record<string, string>;
  /** After the run: keep what the guest wrote. */
  collect(): void;
}

/** Boot ids kept: one per saved VM state (kernel × memory × vCPUs …) plus the cold boots since. */
const KEEP = 16;
const NAME = /^[0-9a-f-]{36}\.json$/;

/**
 * Copies the kept files into `<runDir>/boot`; undefined when `KFUNC_KIT_NO_BOOT_CACHE` is set or
 * `KFUNC_KIT_GUEST_BOOT_CACHE=0` (then the guest probes in every run, as before).
 */
export function guestBootCache(runDir: string, cacheDir: string): GuestBootCache | undefined {
  if (process.env["KFUNC_KIT_NO_BOOT_CACHE"] || process.env["KFUNC_KIT_GUEST_BOOT_CACHE"] === "0")
    return undefined;
  const kept = join(cacheDir, "guest-boot");
  const inRun = join(runDir, "boot");
  mkdirSync(inRun, { recursive: true });
  const before = new Map<string, string>();
  for (const f of list(kept)) {
    try {
      const text = readFileSync(join(kept, f), "utf8");
      writeFileSync(join(inRun, f), text);
      before.set(f, text);
    } catch {
      // unreadable: the guest probes again
    }
  }
  return {
    env: { KFUNC_KIT_BOOT_CACHE_DIR: inRun },
    collect() {
      try {
        for (const f of list(inRun)) {
          const now = readFileSync(join(inRun, f), "utf8");
          if (before.get(f) === now) continue;
          mkdirSync(kept, { recursive: true });
          writeFileAtomic(join(kept, f), now);
        }
        keepNewest(kept, KEEP, (f) => NAME.test(f));
      } catch {
        // a cache that cannot be kept only costs the next run its probes
      }
    },
  };
}

function list(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => NAME.test(f));
}
