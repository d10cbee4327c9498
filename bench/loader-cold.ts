import { readFileSync } from "node:fs";

const t0 = performance.now();
const { parseObject } = await import("../src/object/index.ts");
const { loadCollectionSync } = await import("../src/kernel/index.ts");
const t1 = performance.now();
const obj = "/tmp/kfunc-kit-bench-loader/loader-prog.bpf.o";
loadCollectionSync(parseObject(readFileSync(obj), obj)).close();
const t2 = performance.now();
loadCollectionSync(parseObject(readFileSync(obj), obj)).close();
const t3 = performance.now();
console.log(
  `imports ${(t1 - t0).toFixed(1)} ms, first load ${(t2 - t1).toFixed(1)} ms, second ${(t3 - t2).toFixed(1)} ms`,
);
