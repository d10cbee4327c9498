#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner through tsx (Node 20's --test takes no globs).
// Extra arguments filter test files by substring: `npm run test:only -- btf`.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const passthrough = process.argv.slice(2).filter((a) => a.startsWith("-"));

function find(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "fixtures" && e.name !== "node_modules") out.push(...find(p));
    } else if (e.name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const files = find(join(root, "test"))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(", ")}`);
  process.exit(1);
}
// Tests of every layer use Debian's kernels (module builds, BTF of other kernels, QEMU boots): fetch them
// once up front (cached in ~/.cache/kfunc-kit; a warm run touches no network) so that none has to skip.
if (filters.length === 0) {
  for (const kernel of ["debian:bookworm-backports", "debian:bookworm"]) {
    const p = spawnSync(process.execPath, ["bin/kfunc.js", "vm", "prepare", "--kernel", kernel, "--json"], {
      cwd: root,
      stdio: ["ignore", "ignore", "inherit"],
    });
    if (p.status !== 0) {
      console.error(`preparing the QEMU kernel ${kernel} failed (exit ${p.status})`);
      // In CI nothing may skip for want of a kernel: stop here, with the reason printed above.
      if (process.env.CI) process.exit(1);
      console.error("the tests that need it will skip or fail and say why");
    }
  }
}
const r = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=1", "--test-reporter=spec", ...passthrough, ...files],
  { cwd: root, stdio: "inherit" },
);
process.exit(r.status ?? 1);
