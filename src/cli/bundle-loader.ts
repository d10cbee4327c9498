/**
 * The CLI as one CommonJS file run through a V8 code cache (issue 13, cold start). `npm run build` bundles
 * src/cli/bundle-entry.ts into dist/cli/bundle/kfunc.cjs and writes the loader next to it (start.cjs),
 * which bin/kfunc.js runs. Node 20 has no on-disk compile cache (`module.enableCompileCache`, 22.1+), and
 * an ES-module CLI pays at every start for resolving and reading its modules and for compiling every
 * function it runs; the bundle is one file, and its code cache holds the functions a previous run of the
 * same verb compiled. Caches live in `<cache dir>/cli-code-cache/<bundle hash>-<verb>-<V8>[-<flags>].bin`
 * (the newest {@link KEEP} stay; flags: node's and NODE_OPTIONS, which V8 checks); `KFUNC_KIT_CLI_CODE_CACHE=0` runs the bundle without one.
 */
import { defaultCacheDir } from "../host/cache.ts";
import { cachedLoaderSource } from "../host/code-cache.ts";
import { VERBS } from "./verbs.ts";

/** Caches kept: one per verb and bundle build (a rebuilt bundle leaves the old ones to age out). */
export const KEEP = 32;

/** The loader's source for a bundle whose content hashes to `bundleHash` (it sits next to the bundle). */
export function cliLoaderSource(bundleHash: string): string {
  return cachedLoaderSource({
    // the cache directory is found by host/cache.ts's own function, compiled in (the loader imports nothing)
    prelude: `const { join } = path, { homedir } = require("node:os");
${defaultCacheDir.toString()}
const verb = ${JSON.stringify(VERBS.map(([name]) => name))}.includes(process.argv[2]) ? process.argv[2] : "_";
let flags = 0;
for (const c of process.execArgv.join(" ") + (process.env.NODE_OPTIONS ?? "")) flags = (Math.imul(flags, 31) + c.charCodeAt(0)) >>> 0;
const dir = join(defaultCacheDir(), "cli-code-cache");
const name = ${JSON.stringify(bundleHash)} + "-" + verb + "-" + process.versions.v8 + "-" + process.arch + (flags ? "-" + flags.toString(36) : "") + ".bin";`,
    bundle: `path.join(__dirname, "kfunc.cjs")`,
    cacheIn: `process.env.KFUNC_KIT_CLI_CODE_CACHE === "0" ? "" : join(dir, name)`,
    onFresh: `if (cacheIn)
  process.on("exit", () => {
    try { m.exports.keepCodeCache(dir, name, script.createCachedData(), ${KEEP}); } catch {}
  });`,
    after: `m.exports.setModuleImporter((specifier) => import(specifier));
m.exports.main(process.argv.slice(2)).then((code) => { process.exitCode = code; });`,
  });
}
