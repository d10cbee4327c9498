/**
 * A V8 code cache for the guest runner (issue 9, "guest start"). A restored VM has no translated code, so
 * under TCG every byte of the runner V8 compiles at start costs; with a code cache V8 deserialises the
 * compiled functions instead. The runner is started through a small CommonJS loader (written into the
 * run's directory) that runs the CommonJS bundle of src/testing/guest.ts through `vm.Script` with
 * `cachedData`. The cache is produced in the guest's node (at exit, so it holds the functions the run
 * compiled), handed back through the run's directory and kept host-side under
 * `<cacheDir>/guest-code-cache/`, keyed by the bundle's content, node's and V8's versions and the node
 * flags. V8 checks the cache itself too (source, version, flags): a rejected cache only costs a normal
 * compile, and the loader then writes a fresh one (the loader and the keeping are src/host/code-cache.ts's,
 * shared with the CLI). `KFUNC_KIT_GUEST_CODE_CACHE=0` turns it off (the runner then starts as the plain
 * ESM bundle, as before).
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { cachedLoaderSource, keepCodeCache } from "../host/code-cache.ts";

export interface GuestLoader {
  /** The loader script to run as `node <loader> <plan.json>` (argv stays the runner's). */
  loader: string;
  /** After the run: keep the cache the guest produced (when it did). */
  collect(): void;
}

/** guest-workers.ts's WORKER_ARG (not imported: the host side need not load the guest's modules); a worker never writes the cache. */
const WORKER_ARG = "--worker";
const IN_NAME = "code-cache.bin";
const OUT_NAME = "code-cache.new";

/** The loader's source: the paths baked in as JSON strings; a worker never writes the cache. */
function loaderSource(bundle: string, cacheIn: string | undefined, cacheOut: string): string {
  return cachedLoaderSource({
    bundle: JSON.stringify(bundle),
    cacheIn: JSON.stringify(cacheIn ?? ""),
    onFresh: `if (process.argv[3] !== ${JSON.stringify(WORKER_ARG)})
  process.on("exit", () => {
    try { fs.writeFileSync(${JSON.stringify(cacheOut)}, script.createCachedData()); } catch {}
  });`,
  });
}

/** The cache's key: what V8 checks, plus the node flags the runner is started with. */
function cacheKey(bundle: string, nodeArgs: readonly string[]): string {
  return createHash("sha256")
    .update(readFileSync(bundle))
    .update(`\0${process.version}\0${process.versions.v8}\0${process.arch}\0${nodeArgs.join(" ")}`)
    .digest("hex")
    .slice(0, 32);
}

/**
 * Writes the loader for `bundle` (the runner as CommonJS) into `runDir` with the cached code for it, if the
 * host cache has one. Undefined when switched off by `KFUNC_KIT_GUEST_CODE_CACHE=0`.
 */
export function guestLoader(
  bundle: string,
  runDir: string,
  cacheDir: string,
  nodeArgs: readonly string[],
): GuestLoader | undefined {
  if (process.env["KFUNC_KIT_GUEST_CODE_CACHE"] === "0") return undefined;
  const dir = join(cacheDir, "guest-code-cache");
  const kept = join(dir, `${cacheKey(bundle, nodeArgs)}.bin`);
  let cacheIn: string | undefined;
  if (existsSync(kept)) {
    cacheIn = join(runDir, IN_NAME);
    copyFileSync(kept, cacheIn);
  }
  const cacheOut = join(runDir, OUT_NAME);
  const loader = join(runDir, "runner.cjs");
  writeFileSync(loader, loaderSource(bundle, cacheIn, cacheOut));
  return {
    loader,
    collect() {
      try {
        if (!existsSync(cacheOut) || statSync(cacheOut).size === 0) return;
        keepCodeCache(dir, basename(kept), readFileSync(cacheOut), KEEP);
      } catch {
        // a cache that cannot be kept only costs the next run a normal compile
      }
    },
  };
}

/** Caches kept: one per bundle build, so a source tree that changes leaves old ones; the newest few stay. */
const KEEP = 8;
