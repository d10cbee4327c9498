/**
 * V8 code caches for CommonJS bundles run through `vm.Script` with `cachedData`: the `kfunc test` guest
 * runner (src/testing/code-cache.ts) and the CLI (src/cli/bundle-loader.ts). V8 then deserialises the
 * functions a previous run compiled instead of parsing and compiling them again. V8 checks a cache against
 * its own version, its flags and the source's *length* only, so a cache must be kept under a key that
 * names the bundle's content; a cache V8 rejects costs a normal compile, and the loader makes a new one.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { keepNewest, writeFileAtomic } from "./cache.ts";

/**
 * The parts of a loader, as JavaScript source: `prelude` (statements that may declare what the rest uses),
 * `bundle` and `cacheIn` (expressions: the bundle's path, the cache file to read or "" for none),
 * `onFresh` (statements run before the bundle when there is no usable cache; `script`, the vm.Script, and
 * `m`, the bundle's module, are in scope) and `after` (statements after the bundle ran, `m` in scope).
 */
export interface CachedLoaderParts {
  prelude?: string;
  bundle: string;
  cacheIn: string;
  onFresh: string;
  after?: string;
}

/**
 * The source of a plain CommonJS loader (no dependency) that runs a CommonJS bundle through its code cache.
 * Code in a `vm.Script` cannot `import()` on Node 20 (a script from a code cache loses even the
 * experimental `importModuleDynamically` loader): a bundle must hold no dynamic import of its own.
 */
export function cachedLoaderSource(p: CachedLoaderParts): string {
  return `"use strict";
const fs = require("node:fs"), vm = require("node:vm"), path = require("node:path"), { createRequire } = require("node:module");
${p.prelude ?? ""}
const bundle = ${p.bundle}, cacheIn = ${p.cacheIn};
let cachedData;
if (cacheIn) try { cachedData = fs.readFileSync(cacheIn); } catch {}
const src = fs.readFileSync(bundle, "utf8");
const script = new vm.Script("(function (exports, require, module, __filename, __dirname) {" + src + "\\n})", {
  filename: bundle,
  cachedData,
});
const m = { exports: {} };
if (!cachedData || script.cachedDataRejected) {
${p.onFresh}
}
script.runInThisContext()(m.exports, createRequire(bundle), m, bundle, path.dirname(bundle));
${p.after ?? ""}
`;
}

/** Keeps a new cache as `<dir>/<name>` (atomically: a reader never sees half of it) and the `keep` newest `.bin` files of `dir`. */
export function keepCodeCache(dir: string, name: string, data: Uint8Array, keep: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, name), data);
  keepNewest(dir, keep, (f) => f.endsWith(".bin"));
}
