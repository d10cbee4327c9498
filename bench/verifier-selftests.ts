/**
 * The kernel's verifier selftests under `kfunc test` on the 6.12 guest, warm cache (source unpacked, objects
 * compiled), TCG: the whole run including the boot, the boot, the guest runner's start, the per-test median
 * and the slowest tests (guest clock). The same run as the CI test (test/verifier-selftests/suite.ts).
 * Usage: node --import tsx bench/verifier-selftests.ts [N]   (N runs, default 1; medians)
 */
import { loadavg } from "node:os";
import { runVerifierSelftests } from "../test/verifier-selftests/suite.ts";

const N = Number(process.argv[2] ?? 1);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const rows: Record<string, number[]> = {};
const add = (k: string, v: number | undefined) => {
  if (v !== undefined && Number.isFinite(v)) rows[k] = [...(rows[k] ?? []), v];
};
let slowest: string[] = [];
for (let i = 0; i < N; i++) {
  const r = await runVerifierSelftests();
  const col = r.results.kernels[0]!;
  const d = col.tests.map((t) => t.durationMs);
  add("whole run incl. boot (s)", r.wallMs / 1000);
  add("boot (s)", (col.timings["boot"] ?? 0) / 1000);
  add("guest runner start (s)", (col.timings["guest start"] ?? 0) / 1000);
  add("tests in the guest (s)", (col.timings["tests"] ?? 0) / 1000);
  add("per-test median (ms)", median(d));
  add("tests (count)", d.length);
  add("passed (count)", r.results.summary.passed);
  slowest = [...col.tests]
    .sort((a, b) => b.durationMs - a.durationMs)
    .slice(0, 5)
    .map((t) => `${t.title} (${t.file.split("/").pop()}): ${(t.durationMs / 1000).toFixed(1)} s`);
}
console.log(
  `verifier selftests on debian:bookworm-backports, warm cache, TCG, ${N} run(s), load ${loadavg()[0]!.toFixed(1)}`,
);
for (const [k, v] of Object.entries(rows))
  console.log(`${k.padEnd(28)} ${median(v).toFixed(k.includes("(s)") ? 1 : 0)}`);
console.log(`slowest tests:\n  ${slowest.join("\n  ")}`);
