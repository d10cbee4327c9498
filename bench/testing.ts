/**
 * `kfunc test` benchmark, warm cache, TCG: the examples/kfunc-zoo suite on debian:bookworm (6.1) and
 * debian:bookworm-backports (6.12) in one run, with `--jobs 1` (one kernel after the other) and `--jobs 2`
 * (both VMs at once), and for reference `runInVm(["true"])` on each kernel; all in one process, the order
 * of the three rotating every round so that each sees the same machine load. Per kernel: boot (QEMU start →
 * guest command), guest start (node + the runner bundle + koffi + vmlinux BTF parse + feature probes, until
 * the runner is ready), per-test median (load + verify + test-run, guest clock), column total. The
 * `--jobs 1` run also without the guest's per-boot cache kept on the host (`KFUNC_KIT_GUEST_BOOT_CACHE=0`:
 * src/testing/guest-boot-cache.ts, the guest probes in every run), in the same rotation, so the two are
 * compared under the same load; `--jobs 2` also with 2 vCPUs per VM (4 vCPU threads on this machine's 2
 * cores, as before the cores were shared out).
 * Usage: node --import tsx bench/testing.ts [N]   (N rounds, default 3, after a warm-up run; medians)
 */
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { prepareKernel, runInVm } from "../src/qemu/index.ts";
import { runTests, type TestRunResults } from "../src/testing/index.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ZOO = join(REPO, "examples", "kfunc-zoo");
const N = Number(process.argv[2] ?? 3);
const KERNELS = ["debian:bookworm", "debian:bookworm-backports"];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rows: Record<string, number[]> = {};
const add = (k: string, v: number | undefined) => {
  if (v === undefined || !Number.isFinite(v)) return;
  rows[k] = [...(rows[k] ?? []), v];
};
const perTest: Record<string, number[]> = {};
const failures: string[] = [];
/** A run with a failure still counts for the timings; the failures are listed at the end. */
const check = (r: TestRunResults, what: string) => {
  for (const k of r.kernels) {
    if (k.error) failures.push(`${what}: ${k.spec}: ${k.error}`);
    for (const t of k.tests)
      if (t.status === "fail" || t.status === "error" || t.status === "not-run")
        failures.push(
          `${what}: ${k.release}: ${t.title}: ${t.status} ${t.reason ?? ""} ${t.failure ? `${t.failure.expected} / ${t.failure.got}` : ""}`,
        );
  }
};

/**
 * `bootCache` false: the guest probes in every run, as before src/testing/guest-boot-cache.ts. `vmCpus`: each
 * VM's vCPUs, where the default shares the host's cores out between VMs that run at once.
 */
const zoo = async (jobs: number, bootCache = true, vmCpus?: number) => {
  process.env["KFUNC_KIT_GUEST_BOOT_CACHE"] = bootCache ? "1" : "0";
  const r = await runTests({ paths: [ZOO], kernels: KERNELS, jobs, ...(vmCpus ? { vmCpus } : {}) });
  delete process.env["KFUNC_KIT_GUEST_BOOT_CACHE"];
  const how = `--jobs ${jobs}${bootCache ? "" : ", no guest boot cache"}${vmCpus ? `, ${vmCpus} vCPUs each` : ""}`;
  check(r, `zoo ${how}`);
  add(`two-kernel zoo run, ${how}`, r.durationMs);
  for (const c of r.kernels) {
    const k = c.release?.split(".").slice(0, 2).join(".") ?? c.spec;
    add(`  ${k} boot (${how})`, c.timings["boot"]);
    add(`  ${k} guest start (${how})`, c.timings["guest start"]);
    add(`    ${k} of which node + runner loaded (${how})`, c.timings["guest start: node + runner loaded"]);
    add(`    ${k} of which BTF + feature probes (${how})`, c.timings["guest start: BTF + feature probes"]);
    add(`  ${k} guest command: start + tests (${how})`, c.timings["tests"]);
    add(`  ${k} column total (${how})`, c.timings["total"]);
    const key = `${k}, ${how}`;
    perTest[key] = [
      ...(perTest[key] ?? []),
      ...c.tests.filter((t) => t.status !== "skip").map((t) => t.durationMs),
    ];
  }
};
const vmTrue = async () => {
  for (const spec of KERNELS) {
    const k = await prepareKernel(spec);
    const t0 = performance.now();
    const v = await runInVm({ kernel: k, command: ["true"] });
    add(`vm run true: ${spec}`, performance.now() - t0);
    add(`  vm run true boot: ${spec}`, (v.timings.qemuToInit ?? 0) + (v.timings.initToCommand ?? 0));
  }
};

// warm-up: module builds, test objects, initramfs, suite lookups
check(await runTests({ paths: [ZOO], kernels: KERNELS }), "warm-up");
const steps = [vmTrue, () => zoo(1), () => zoo(1, false), () => zoo(2), () => zoo(2, true, 2)];
for (let i = 0; i < N; i++) for (let j = 0; j < steps.length; j++) await steps[(i + j) % steps.length]!();
console.log(
  `N=${N}, load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}`,
);
console.log("| what | median | min | max |\n|---|---|---|---|");
for (const [k, v] of Object.entries(rows))
  console.log(`| ${k} | ${s(median(v))} | ${s(Math.min(...v))} | ${s(Math.max(...v))} |`);
for (const [k, v] of Object.entries(perTest)) {
  const rest = (xs: number[]) => xs.filter((_, i) => i % (v.length / N) !== 0);
  console.log(
    `| per test, zoo on ${k} (guest clock; n=${v.length}) | ${median(v).toFixed(1)} ms | ${Math.min(...v).toFixed(1)} ms | ${Math.max(...v).toFixed(1)} ms |`,
  );
  console.log(`|   without each run's first test | ${median(rest(v)).toFixed(1)} ms | | |`);
}
console.log(`failures: ${failures.length ? `\n${failures.join("\n")}` : "none"}`);
const one = (spec: string) => median(rows[`vm run true: ${spec}`] ?? []);
console.log(
  `target for the two-kernel run: 2 × vm run true + 5 s = ${s(one(KERNELS[0]!) + one(KERNELS[1]!) + 5000)} (sum of the two kernels' vm run true + 5 s), or ${s(2 * Math.max(one(KERNELS[0]!), one(KERNELS[1]!)) + 5000)} (2 × the slower)`,
);
