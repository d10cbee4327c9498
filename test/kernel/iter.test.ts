/** iter/task through attach(): the iterator's output lists this process with its comm. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { attach, IterLink } from "../../src/kernel/attach/index.ts";
import { loadObjectFile } from "../../src/kernel/index.ts";
import { compileFixture } from "../helpers/index.ts";
import { openFdCount } from "./attach-helpers.ts";

test("iter/task prints one line per process, including this one, and can be read again", async () => {
  using coll = await loadObjectFile(compileFixture("attach-iter"));
  using link = attach(coll.program("dump_task"));
  assert.ok(link instanceof IterLink);
  assert.equal(link.info.kind, "iter");
  const comm = readFileSync("/proc/self/comm", "utf8").trim();
  const lines = link.readText().trim().split("\n");
  assert.ok(lines.includes(`${process.pid} ${comm}`), `a line '${process.pid} ${comm}'`);
  assert.ok(lines.includes("1 " + readFileSync("/proc/1/comm", "utf8").trim()) || lines.length > 1);
  for (const l of lines) assert.match(l, /^\d+ \S.*$/);
  // every read is a fresh BPF_ITER_CREATE: same process still there, fds are closed after reading
  const fds = openFdCount();
  for (let i = 0; i < 20; i++) assert.ok(link.readText().includes(`${process.pid} ${comm}\n`));
  assert.equal(openFdCount(), fds);
});
