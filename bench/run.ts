/**
 * Runs the benchmarks, one after another (they compete for 2 cores otherwise):
 * `npm run bench` runs all, `npm run bench -- btf-dump loader` a selection. Each prints its own table.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";

const dir = new URL(".", import.meta.url).pathname;
const all = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .map((f) => f.slice(0, -3));
const chosen = process.argv.length > 2 ? process.argv.slice(2) : all;
for (const name of chosen) {
  if (!all.includes(name)) {
    console.error(`unknown benchmark '${name}'; there are: ${all.join(", ")}`);
    process.exit(2);
  }
  console.log(`\n=== bench/${name}.ts`);
  const r = spawnSync(process.execPath, ["--import", "tsx", `${dir}${name}.ts`], { stdio: "inherit" });
  if (r.status !== 0) process.exitCode = 1;
}
