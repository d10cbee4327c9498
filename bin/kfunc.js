#!/usr/bin/env node
// The `kfunc` command: runs the compiled CLI (npm test / npm run demo / npm run build make dist/).
import { existsSync } from "node:fs";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("kfunc: the CLI is not built yet; run `npm run setup` (or `npm run build`) first\n");
  process.exit(1);
}
await import(main.href);
