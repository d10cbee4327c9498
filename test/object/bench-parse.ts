/** Parse-time figures for docs/benchmarks.md: `npx tsx test/object/bench-parse.ts [path/to/module.ko]`. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseKernelModule, parseObject } from "../../src/object/index.ts";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";

function median(f: () => void, n: number): number {
  for (let i = 0; i < 50; i++) f();
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    runs.push((performance.now() - t0) / n);
  }
  return runs.sort((a, b) => a - b)[2]! * 1000;
}

const objects: Array<[string, string]> = [
  ["seed kfunc.bpf.c", compileFixture(join(REPO_ROOT, "examples/seed/kfunc.bpf.c"))],
  ["obj-maps", compileFixture("obj-maps")],
  ["obj-sections (101 programs)", compileFixture("obj-sections")],
];
for (const [name, file] of objects) {
  const b = new Uint8Array(readFileSync(file));
  console.log(
    `parseObject ${name} (${b.length} bytes): median ${median(() => parseObject(b, file), 300).toFixed(0)} µs`,
  );
}
const ko = process.argv[2];
if (ko) {
  const b = new Uint8Array(readFileSync(ko));
  console.log(
    `parseKernelModule ${ko} (${b.length} bytes): median ${median(() => parseKernelModule(b, ko), 1000).toFixed(0)} µs`,
  );
}
