/**
 * Facts about the running kernel that cannot change until the next boot (feature probe results, vmlinux
 * BTF type ids of kfuncs), kept on disk between processes: `<cache>/boot/<boot_id>.json`, where boot_id is
 * /proc/sys/kernel/random/boot_id. A fresh process then skips the probes and the vmlinux name index. Best
 * effort: an unreadable or unwritable cache only means probing again. KFUNC_KIT_NO_BOOT_CACHE=1 turns it off;
 * KFUNC_KIT_BOOT_CACHE_DIR names the directory instead of `<cache>/boot` (the test runner's guests use it:
 * src/testing/guest-boot-cache.ts).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultCacheDir } from "../host/cache.ts";

type Entries = Record<string, unknown>;

let entries: Entries | undefined;
let file: string | undefined;
let disabled = false;

function bootDir(): string {
  const dir = process.env["KFUNC_KIT_BOOT_CACHE_DIR"];
  if (dir) return dir;
  return join(defaultCacheDir(), "boot");
}

function load(): Entries | undefined {
  if (entries || disabled) return entries;
  try {
    if (process.env["KFUNC_KIT_NO_BOOT_CACHE"]) throw new Error("off");
    const id = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new Error("no boot id");
    file = join(bootDir(), `${id}.json`);
  } catch {
    disabled = true;
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
    entries = parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Entries) : {};
  } catch {
    entries = {};
  }
  return entries;
}

/** The cached value for `key` in this boot, or undefined. */
export function bootCacheGet(key: string): unknown {
  return load()?.[key];
}

/** Records `value` (JSON) for `key` for the rest of this boot. */
export function bootCacheSet(key: string, value: unknown): void {
  const e = load();
  if (!e || !file || e[key] === value) return;
  e[key] = value;
  try {
    mkdirSync(join(file, ".."), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(e));
    renameSync(tmp, file); // atomic: a concurrent reader sees the old or the new file
  } catch {
    // not writable: this process keeps its in-memory copy
  }
}
