// The CLI's ES-module entry (dist/cli/main.js); bin/kfunc.js prefers the bundle (src/cli/bundle-entry.ts).
import { main } from "./cli.ts";

process.exitCode = await main(process.argv.slice(2));
