import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { EnvironmentError } from "../errors.ts";
import { processAlive } from "./lock.ts";

/** The cache root: `$KFUNC_KIT_CACHE`, default `~/.cache/kfunc-kit`. */
export function defaultCacheDir(): string {
  const env = process.env["KFUNC_KIT_CACHE"];
  if (env) return env;
  const xdg = process.env["XDG_CACHE_HOME"];
  return join(xdg || join(homedir(), ".cache"), "kfunc-kit");
}

/** mkdir -p without `recursive: true`, which spins forever on some paths (e.g. under /proc) in Node 20. */
function mkdirParents(dir: string): void {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  if (parent !== dir) mkdirParents(parent);
  mkdirSync(dir);
}

/** Creates `dir` (and parents) and checks it is writable; throws a clear error otherwise. */
export function ensureWritableDir(dir: string): string {
  try {
    mkdirParents(dir);
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new EnvironmentError(`cache dir '${dir}': not writable (${(e as Error).message})`, {
      cause: e,
      hint: "set KFUNC_KIT_CACHE to a writable directory (or pass --cache DIR)",
    });
  }
  return dir;
}

/** A unique sibling temp path for building `final` before an atomic rename. */
export function tempSibling(final: string): string {
  return join(
    dirname(final),
    `.tmp-${final.split("/").pop()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
  );
}

/**
 * Renames a finished temp dir/file into place. If another process finished first, ours is dropped and
 * theirs is used (both are complete by construction).
 */
export function publish(temp: string, final: string): void {
  try {
    renameSync(temp, final);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOTEMPTY" || code === "EEXIST") {
      rmSync(temp, { recursive: true, force: true });
      return;
    }
    throw e;
  }
}

/** Removes temp entries (from {@link tempSibling}) in `dir` whose process died mid-way (e.g. a killed unpack). */
export function sweepStaleTemps(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const m = /^\.tmp-.*-(\d+)-[a-z0-9]+$/.exec(name);
    if (m && Number(m[1]) !== process.pid && !processAlive(Number(m[1])))
      rmSync(join(dir, name), { recursive: true, force: true });
  }
}

/** Writes a small file atomically (temp + rename): readers never see half of it. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = tempSibling(file);
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** Keeps the `keep` newest files (by mtime) of `dir` whose names `match`, and removes the others. */
export function keepNewest(dir: string, keep: number, match: (name: string) => boolean): void {
  const files = readdirSync(dir)
    .filter(match)
    .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of files.slice(keep)) rmSync(join(dir, f), { force: true });
}
