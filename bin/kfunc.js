#!/usr/bin/env node
// The `kfunc` command: runs the compiled CLI (npm test / npm run demo / npm run build make dist/),
// dist/cli/main.js. The single-file bundle (dist/cli/bundle/) is opt-in with KFUNC_KIT_BUNDLE=1: it was not
// faster here (docs/benchmarks.md), and code in it that finds files next to its own module (the demo's seed
// dir, include/, the test runner's guest bundle) would look in the wrong place.
import { statSync } from "node:fs";
import module from "node:module";

// Node ≥ 22.1 keeps compiled code in an on-disk cache between runs; Node 20 has no such API.
module.enableCompileCache?.();

const mtime = (url) => {
  try {
    return statSync(url).mtimeMs;
  } catch {
    return -1;
  }
};
const bundle = new URL("../dist/cli/bundle/kfunc.js", import.meta.url);
const main = new URL("../dist/cli/main.js", import.meta.url);
const mainTime = mtime(main);
if (mainTime < 0) {
  process.stderr.write("kfunc: the CLI is not built yet; run `npm run setup` (or `npm run build`) first\n");
  process.exit(1);
}
const useBundle = process.env.KFUNC_KIT_BUNDLE === "1" && mtime(bundle) >= mainTime;
await import((useBundle ? bundle : main).href);
