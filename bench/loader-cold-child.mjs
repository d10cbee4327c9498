// One fresh-process load for bench/loader-cold.ts, in plain JavaScript so that node runs it without tsx:
// the package's compiled modules (dist/), imported as a user's script imports them, with no loader hooks
// in the way. Prints {imports, first, second} in ms.
import { existsSync, readFileSync } from "node:fs";

const obj = "/tmp/kfunc-kit-bench-loader/loader-prog.bpf.o";
const t0 = performance.now();
const dist = new URL("../dist/", import.meta.url);
if (!existsSync(new URL("kernel/index.js", dist))) throw new Error("build first: npm run build");
const { parseObject } = await import(new URL("object/index.js", dist).href);
const { loadCollectionSync } = await import(new URL("kernel/index.js", dist).href);
if (process.env.KFUNC_KIT_BENCH_PRELOAD_KOFFI) (await import(new URL("sys/libc.js", dist).href)).koffi();
const t1 = performance.now();
loadCollectionSync(parseObject(readFileSync(obj), obj)).close();
const t2 = performance.now();
loadCollectionSync(parseObject(readFileSync(obj), obj)).close();
const t3 = performance.now();
process.stdout.write(JSON.stringify({ imports: t1 - t0, first: t2 - t1, second: t3 - t2 }));
