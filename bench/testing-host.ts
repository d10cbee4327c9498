/**
 * `kfunc test`'s per-test cost on the host kernel (load + verify + test-run of one test program with its
 * auxiliary programs, as the guest runner does): bench/c/testing-host.test.bpf.c run by runObjectTests in one
 * process, ROUNDS rounds after a warm-up round, alternating rounds with a LoadSession (module BTF and the
 * object's BTF loaded once per run, what the guest runner does) and without (each load loads them again);
 * medians per test and over all tests. Add `--cpu-prof` to node
 * to see where a test's time goes (the same code runs in the guest, ~100× slower under TCG).
 * Usage: node --import tsx bench/testing-host.ts [ROUNDS]   (default 20)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LoadSession } from "../src/kernel/load-session.ts";
import { compileTest } from "../src/testing/compile.ts";
import { runObjectTests } from "../src/testing/execute.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.argv[2] ?? 20);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const cacheDir = mkdtempSync(join(tmpdir(), "kfunc-bench-test-host-"));
try {
  const { object } = compileTest(join(HERE, "c", "testing-host.test.bpf.c"), {
    kernelBtf: "/sys/kernel/btf/vmlinux",
    moduleDirs: [],
    cacheDir,
  });
  const t0 = performance.now();
  const first = await runObjectTests(object, "testing-host.test.bpf.c");
  const firstMs = performance.now() - t0;
  const bad = first.filter((r) => r.status !== "pass");
  if (bad.length) throw new Error(`not all passed: ${JSON.stringify(bad, null, 2)}`);
  const modes = ["session", "no session"] as const;
  const per = new Map<string, Record<(typeof modes)[number], number[]>>();
  const rounds: Record<(typeof modes)[number], number[]> = { session: [], "no session": [] };
  const session = new LoadSession();
  for (let i = 0; i < ROUNDS; i++) {
    for (const mode of i % 2 ? [...modes].reverse() : modes) {
      const t = performance.now();
      const results = await runObjectTests(object, "testing-host.test.bpf.c", {
        session: mode === "session" ? session : false,
      });
      rounds[mode].push(performance.now() - t);
      for (const r of results) {
        const row = per.get(r.title) ?? { session: [], "no session": [] };
        row[mode].push(r.durationMs);
        per.set(r.title, row);
      }
    }
  }
  session.close();
  console.log(
    `rounds=${ROUNDS} per mode, ${first.length} tests, load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}`,
  );
  console.log(`first round (cold process): ${firstMs.toFixed(1)} ms`);
  console.log("| test | with LoadSession, median ms | without, median ms |\n|---|---|---|");
  for (const [t, v] of per)
    console.log(`| ${t} | ${median(v.session).toFixed(2)} | ${median(v["no session"]).toFixed(2)} |`);
  const all = (m: (typeof modes)[number]) => median([...per.values()].flatMap((v) => v[m])).toFixed(2);
  console.log(`| **all tests** | **${all("session")}** | **${all("no session")}** |`);
  console.log(
    `| whole object (parse + all tests), median round | ${median(rounds.session).toFixed(1)} | ${median(rounds["no session"]).toFixed(1)} |`,
  );
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}
