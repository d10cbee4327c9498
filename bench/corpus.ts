/**
 * Loading the libbpf-tools corpus (test/corpus) in one guest process per side, in one boot of the Debian
 * 6.12 guest: libbpf 1.1 (test/corpus/libbpf-loader.c, one C process fed object paths) and kfunc-kit (one
 * Node process), N passes over the corpus, each object loaded by both sides back to back (alternating who
 * goes first) so both see the same machine load. Reports the total (sum over the objects loaded by both;
 * first pass, and the median pass) and the per-object median load time (open/parse + load, no attach).
 * Usage: node --import tsx bench/corpus.ts [N=5]
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { corpus, libbpfLoader } from "../test/corpus/corpus.ts";
import type { BenchRow } from "../test/corpus/guest-corpus.ts";
import { bundleGuestScript } from "../test/helpers/guest-bundle.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const N = Number(process.argv[2] ?? 5);
const KERNEL = process.env["KFUNC_KIT_TEST_KERNEL"] ?? "debian:bookworm-backports";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const c = await corpus();
const stage = mkdtempSync(join(tmpdir(), "kfunc-kit-bench-corpus-"));
try {
  const loader = join(stage, "libbpf-loader");
  copyFileSync(libbpfLoader(), loader);
  const objects = c.objects.map((o) => {
    const p = join(stage, `${o.name}.bpf.o`);
    copyFileSync(o.path, p);
    return { name: o.name, path: p };
  });
  const script = join(stage, "guest.mts");
  writeFileSync(
    script,
    `import { benchCorpus } from "${REPO}/test/corpus/guest-corpus.ts";
const rows = await benchCorpus(${JSON.stringify({ objects, loader, passes: N })});
console.log("RESULT " + JSON.stringify(rows));
`,
  );
  const started = performance.now();
  const r = spawnSync(
    process.execPath,
    [
      ...[
        "--import",
        "tsx",
        join(REPO, "src/cli/main.ts"),
        "vm",
        "run",
        "--kernel",
        KERNEL,
        "--timeout",
        "1200",
      ],
      ...["--share", stage, "--share", REPO, "--", process.execPath, bundleGuestScript(script)],
    ],
    { cwd: REPO, encoding: "utf8", maxBuffer: 64 << 20 },
  );
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`no RESULT from the guest (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
  const rows = JSON.parse(line.slice(7)) as BenchRow[];
  const both = rows.filter((x) => x.libbpf.loaded && x.kfunc.loaded);
  const pass = (side: "libbpf" | "kfunc", i: number) =>
    both.reduce((a, x) => a + (x[side].loadMs[i] ?? 0), 0);
  const passes = (side: "libbpf" | "kfunc") => Array.from({ length: N }, (_, i) => pass(side, i));
  const lib = passes("libbpf");
  const kk = passes("kfunc");
  const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
  console.log(
    `corpus: libbpf-tools ${c.version}, ${both.length} of ${rows.length} objects loaded by both; ${N} passes; ${KERNEL}, TCG; load average ${loadavg()[0]!.toFixed(1)}; boot + run ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
  );
  console.log("| | libbpf 1.1 | kfunc-kit | ratio |");
  console.log("|---|---|---|---|");
  console.log(`| total, first pass | ${fmt(lib[0]!)} | ${fmt(kk[0]!)} | ${(kk[0]! / lib[0]!).toFixed(2)}× |`);
  console.log(
    `| total, median pass | ${fmt(median(lib))} | ${fmt(median(kk))} | ${(median(kk) / median(lib)).toFixed(2)}× |`,
  );
  const perObj = both.map((x) => ({
    name: x.name,
    lib: median(x.libbpf.loadMs),
    kk: median(x.kfunc.loadMs),
  }));
  console.log(
    `| per-object median (median of the ${both.length}) | ${fmt(median(perObj.map((p) => p.lib)))} | ${fmt(median(perObj.map((p) => p.kk)))} | ${median(perObj.map((p) => p.kk / p.lib)).toFixed(2)}× |`,
  );
  console.log("\n| object | libbpf median | kfunc-kit median | ratio |\n|---|---|---|---|");
  for (const p of perObj)
    console.log(`| ${p.name} | ${fmt(p.lib)} | ${fmt(p.kk)} | ${(p.kk / p.lib).toFixed(2)}× |`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
