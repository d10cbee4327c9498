/**
 * `kfunc test` benchmark, warm cache, TCG: (1) the examples/kfunc-zoo suite on 6.12 (the zoo registers KPROBE
 * kfuncs, which 6.1 cannot build); (2) the `kfunc new` suite on 6.1 and 6.12 in one run; (3) for reference,
 * `runInVm(["true"])` on each kernel. Per kernel: boot (QEMU start → guest command), guest start (node +
 * the runner bundle + BTF index), per-test median (load + verify + test-run, guest clock), total.
 * Usage: node --import tsx bench/testing.ts [N]   (N runs of each, default 3, medians)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { prepareKernel, runInVm } from "../src/qemu/index.ts";
import { runTests, type TestRunResults } from "../src/testing/index.ts";
import { scaffold } from "../src/testing/scaffold.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
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

const work = mkdtempSync(join(tmpdir(), "kfunc-bench-test-"));
const newDir = join(work, "benchkf");
scaffold(newDir);
const rows: Record<string, number[]> = {};
const add = (k: string, v: number | undefined) => {
  if (v === undefined || !Number.isFinite(v)) return;
  rows[k] = [...(rows[k] ?? []), v];
};
const perTest = (r: TestRunResults, spec: string) =>
  r.kernels.find((k) => k.spec === spec)!.tests.map((t) => t.durationMs);
const check = (r: TestRunResults, what: string) => {
  if (!r.ok)
    throw new Error(
      `${what}: not all passed: ${JSON.stringify(r.summary)} ${r.kernels.map((k) => k.error ?? "").join(" ")}`,
    );
};

try {
  // warm-up: module builds, test objects, initramfs
  check(await runTests({ paths: [newDir], kernels: KERNELS }), "warm-up new");
  check(
    await runTests({ paths: [join(REPO, "examples", "kfunc-zoo")], kernels: [KERNELS[1]!] }),
    "warm-up zoo",
  );
  const zooTests: number[] = [];
  const newTests: Record<string, number[]> = {};
  for (let i = 0; i < N; i++) {
    for (const spec of KERNELS) {
      const k = await prepareKernel(spec);
      const t0 = performance.now();
      const v = await runInVm({ kernel: k, command: ["true"] });
      add(`vm run true: ${spec}`, performance.now() - t0);
      add(`vm run true boot: ${spec}`, (v.timings.qemuToInit ?? 0) + (v.timings.initToCommand ?? 0));
    }
    const two = await runTests({ paths: [newDir], kernels: KERNELS });
    check(two, "new suite");
    add("two-kernel run (kfunc new suite, 6.1 + 6.12)", two.durationMs);
    for (const c of two.kernels) {
      add(`boot: ${c.spec}`, c.timings["boot"]);
      add(`guest start: ${c.spec}`, c.timings["guest start"]);
      add(`column total: ${c.spec}`, c.timings["total"]);
      newTests[c.spec] = [...(newTests[c.spec] ?? []), ...perTest(two, c.spec)];
    }
    const zoo = await runTests({ paths: [join(REPO, "examples", "kfunc-zoo")], kernels: [KERNELS[1]!] });
    check(zoo, "zoo suite");
    add("zoo suite on 6.12 (12 tests)", zoo.durationMs);
    add("zoo: boot", zoo.kernels[0]!.timings["boot"]);
    add("zoo: guest start", zoo.kernels[0]!.timings["guest start"]);
    add("zoo: tests (guest command total)", zoo.kernels[0]!.timings["tests"]);
    zooTests.push(...perTest(zoo, KERNELS[1]!));
  }
  console.log(
    `N=${N}, load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}`,
  );
  console.log("| what | median | min | max |\n|---|---|---|---|");
  for (const [k, v] of Object.entries(rows))
    console.log(`| ${k} | ${s(median(v))} | ${s(Math.min(...v))} | ${s(Math.max(...v))} |`);
  const ms = (xs: number[]) =>
    `${median(xs).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}, n=${xs.length})`;
  console.log(`| per-test, zoo on 6.12 (guest clock) | ${ms(zooTests)} | | |`);
  for (const [k, v] of Object.entries(newTests))
    console.log(`| per-test, kfunc new suite on ${k} | ${ms(v)} | | |`);
  const target = 2 * median(rows["vm run true: debian:bookworm-backports"] ?? []) + 5000;
  console.log(`target for the two-kernel run: 2 × vm run true (6.12) + 5 s = ${s(target)}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
