/**
 * Each test's last duration per kernel release, kept in the cache dir (`test-durations/<release>.json`:
 * source path → title → ms, guest clock), as jest keeps its test durations: the parallel guest runner
 * (`guestJobs` > 1) starts the slowest known tests first, so that a long one does not start last and leave the
 * other workers idle at the end. Tests without a recorded duration go first, in file order.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestOutcome, WorkItem } from "./types.ts";

type Durations = Record<string, Record<string, number>>;

const fileOf = (cacheDir: string, release: string) =>
  join(cacheDir, "test-durations", `${release.replace(/[^\w.+-]/g, "_")}.json`);

export function readDurations(cacheDir: string, release: string): Durations {
  const f = fileOf(cacheDir, release);
  if (!existsSync(f)) return {};
  try {
    const d = JSON.parse(readFileSync(f, "utf8")) as unknown;
    return d && typeof d === "object" && !Array.isArray(d) ? (d as Durations) : {};
  } catch {
    return {}; // a damaged cache only costs the order
  }
}

/** Records the durations of the tests that ran (not the not-run ones, nor crashes), keeping the others'. */
export function recordDurations(
  cacheDir: string,
  release: string,
  sourceOf: (file: string) => string | undefined,
  tests: TestOutcome[],
): void {
  const d = readDurations(cacheDir, release);
  let changed = false;
  for (const t of tests) {
    if (t.status === "not-run" || t.failure?.kind === "crash") continue;
    const source = sourceOf(t.file);
    if (source === undefined) continue;
    const perTitle = d[source] ?? {};
    perTitle[t.title] = t.durationMs;
    d[source] = perTitle;
    changed = true;
  }
  if (!changed) return;
  const f = fileOf(cacheDir, release);
  try {
    mkdirSync(join(cacheDir, "test-durations"), { recursive: true });
    // written whole, then renamed: a run at the same time reads the old file or the new one
    const tmp = `${f}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(d));
    renameSync(tmp, f);
  } catch {
    // a read-only cache dir: the next run starts in file order
  }
}

/** The work items in the order to start them: unknown durations first (file order), then longest first. */
export function schedule(items: (WorkItem & { source: string })[], d: Durations): WorkItem[] {
  const ms = (it: WorkItem & { source: string }) => d[it.source]?.[it.title] ?? Number.POSITIVE_INFINITY;
  return items
    .map((it, i) => ({ it, i, ms: ms(it) }))
    .sort((a, b) => b.ms - a.ms || a.i - b.i)
    .map(({ it: { source: _s, ...item } }) => item);
}
