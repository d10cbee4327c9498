/**
 * The repository's own checks, so CI enforces them: tests run through tsx, which strips types without
 * checking them, so strict typing is only real if tsc runs; and the linter/formatter.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";

const ROOT = new URL("..", import.meta.url).pathname;
const bin = (name: string) => `${ROOT}node_modules/.bin/${name}`;

test("TypeScript strict: tsc --noEmit over src, test, bench, examples", () => {
  const r = spawnSync(bin("tsc"), ["-p", "tsconfig.json", "--noEmit"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, `tsc found problems:\n${r.stdout}${r.stderr}`);
});

test("biome: lint and format", () => {
  const r = spawnSync(bin("biome"), ["check", "--diagnostic-level=error"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(
    r.status,
    0,
    `biome check found problems (npx biome check --write fixes most):\n${r.stdout}${r.stderr}`,
  );
});
