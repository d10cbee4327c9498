/**
 * Bundles a TypeScript entry (a script that runs inside the QEMU guest) into one ESM file with esbuild.
 * In the guest every file comes from the host over 9p, and under TCG each file opened costs milliseconds:
 * `node --import tsx script.ts` opens hundreds (tsx + our modules) and takes minutes; one bundle, seconds.
 * The bundle lives under node_modules/.cache so that `koffi` (external: a native addon) still resolves.
 */
import { mkdirSync } from "node:fs";
import { basename, isAbsolute, join } from "node:path";
import { buildSync } from "esbuild";

const ROOT = new URL("../..", import.meta.url).pathname;

export function bundleGuestScript(entry: string): string {
  const outDir = join(ROOT, "node_modules", ".cache", "kfunc-kit-guest");
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `${basename(entry).replace(/\.m?ts$/, "")}-${process.pid}.mjs`);
  buildSync({
    entryPoints: [isAbsolute(entry) ? entry : join(ROOT, entry)],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["koffi"],
    outfile,
    logLevel: "warning",
    // CommonJS dependencies (commander) call require() for node builtins: give the ESM bundle one.
    banner: {
      js: 'import { createRequire as __kfuncRequire } from "node:module"; const require = __kfuncRequire(import.meta.url);',
    },
  });
  return outfile;
}
