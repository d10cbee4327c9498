/**
 * The kernel's verifier selftests under `kfunc test` on the 6.12 guest, warm cache (source unpacked, objects
 * compiled), TCG: the whole run including the boot, the boot, the guest runner's start, the per-test median
 * and the slowest tests (guest clock). The same run as the CI test (test/verifier-selftests/suite.ts).
 * Usage: node --import tsx bench/verifier-selftests.ts [N] [--compare] [--filter RE]
 *   N runs (default 1; medians) with the CI test's 2 guest workers; --compare: each round runs guestJobs 1,
 *   then guestJobs 2 (alternated, so both sides see the same load); --filter: only tests whose title matches.
 */
import { loadavg } from "node:os";
import { runVerifierSelftests } from "../test/verifier-selftests/suite.ts";

const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 1);
const compare = args.includes("--compare");
const fi = args.indexOf("--filter");
const filter = fi >= 0 ? args[fi + 1] : undefined;
const sides = compare ? [1, 2] : [2];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const rowsOf: Record<number, Record<string, number[]>> = {};
let slowest: string[] = [];
const loads: string[] = [];
for (let i = 0; i < N; i++)
  for (const guestJobs of sides) {
    const rows = rowsOf[guestJobs] ?? {};
    rowsOf[guestJobs] = rows;
    const add = (k: string, v: number | undefined) => {
      if (v !== undefined && Number.isFinite(v)) rows[k] = [...(rows[k] ?? []), v];
    };
    const r = await runVerifierSelftests({ guestJobs, ...(filter ? { filter } : {}) });
    loads.push(loadavg()[0]!.toFixed(1));
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
  `verifier selftests on debian:bookworm-backports, warm cache, TCG, ${N} round(s)${filter ? `, --filter ${filter}` : ""}, load after each run ${loads.join(" ")}`,
);
const keys = Object.keys(rowsOf[sides[0]!]!);
console.log(`${"".padEnd(28)} ${sides.map((j) => `guestJobs ${j}`.padStart(12)).join(" ")}`);
for (const k of keys)
  console.log(
    `${k.padEnd(28)} ${sides
      .map((j) =>
        median(rowsOf[j]![k]!)
          .toFixed(k.includes("(s)") ? 1 : 0)
          .padStart(12),
      )
      .join(" ")}`,
  );
console.log(`slowest tests:\n  ${slowest.join("\n  ")}`);
