#!/usr/bin/env node
// The `kfunc` command. A CommonJS file (bin/package.json says so): Node starts a CommonJS entry without
// its ES-module loader, so `kfunc --version` costs what `node -e 0` costs (docs/benchmarks.md, "start-up").
// Everything else runs the compiled CLI (npm test / npm run demo / npm run build make dist/): the
// CommonJS bundle through its V8 code cache (dist/cli/bundle/start.cjs, src/cli/bundle-loader.ts) when it
// is not older than the modules, else (or with KFUNC_KIT_BUNDLE=0) the ES modules, dist/cli/main.js.
"use strict";
const { readFileSync, statSync, writeSync } = require("node:fs");
const { join } = require("node:path");

const argv = process.argv;
if (argv.length === 3 && (argv[2] === "--version" || argv[2] === "-V")) {
  const version = `${JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")).version}\n`;
  // fd 1 directly: touching process.stdout would build a stream (for a pipe, a net.Socket) first
  try {
    writeSync(1, version);
  } catch (e) {
    if (e.code === "EAGAIN") process.stdout.write(version); // a non-blocking stdout: let the stream wait
    else if (e.code === "EPIPE") process.exitCode = 141; // the reader went away, as main.ts handles it
    else {
      process.stderr.write(`kfunc: cannot write to standard output: ${e.code ?? e.message}\n`);
      process.exitCode = 1;
    }
  }
} else {
  // Node ≥ 22.1 keeps compiled code in an on-disk cache between runs; Node 20 has no such API.
  require("node:module").enableCompileCache?.();
  const mtime = (path) => {
    try {
      return statSync(path).mtimeMs;
    } catch {
      return -1;
    }
  };
  const loader = join(__dirname, "..", "dist", "cli", "bundle", "start.cjs");
  const main = join(__dirname, "..", "dist", "cli", "main.js");
  const mainTime = mtime(main);
  if (mainTime < 0) {
    process.stderr.write("kfunc: the CLI is not built yet; run `npm run setup` (or `npm run build`) first\n");
    process.exit(1);
  }
  if (process.env.KFUNC_KIT_BUNDLE !== "0" && mtime(loader) >= mainTime) require(loader);
  else import(require("node:url").pathToFileURL(main).href);
}
