/**
 * Boot reliability: N consecutive `runInVm(["true"])` boots of the default kernel; prints failures (with the
 * console tail) and the median QEMU total. Usage: node --import tsx bench/vm-stress.ts [N=40] [kernel spec]
 */
import { setLogger } from "../src/log.ts";
import { prepareKernel, runInVm } from "../src/qemu/index.ts";

setLogger((level, m) => console.log(`log ${level}: ${m}`));
const N = Number(process.argv[2] ?? 40);
const kernel = await prepareKernel(process.argv[3]);
let fails = 0;
const totals: number[] = [];
for (let i = 0; i < N; i++) {
  try {
    const r = await runInVm({ kernel, command: ["true"], timeoutMs: 60_000 });
    totals.push(r.timings.total);
    if (r.exitCode !== 0) {
      fails++;
      console.log(`boot ${i}: exit ${r.exitCode}`);
    }
  } catch (e) {
    fails++;
    const c = (e as { console?: string }).console ?? "";
    console.log(`boot ${i}: ${(e as Error).message}\n${c.split("\n").slice(-20).join("\n")}`);
  }
}
totals.sort((a, b) => a - b);
console.log(
  `${kernel.release}: ${N} boots, ${fails} failed, median QEMU total ${((totals[Math.floor(totals.length / 2)] ?? 0) / 1000).toFixed(2)} s`,
);
