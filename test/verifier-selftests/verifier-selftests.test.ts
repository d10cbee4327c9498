/**
 * The kernel's own verifier selftests under `kfunc test` (issue #16): every progs/verifier_*.c of Debian's
 * linux-source-6.12 at the 6.12 guest kernel's version, unchanged, compiled with the selftests' flags and
 * clang-19, run in ONE `kfunc test` run on the 6.12 guest (one boot), with the verdicts test_progs gets.
 * test/verifier-selftests/known.json names each test that does not pass, with its reason: a test not on
 * the list that does not pass fails this test, and so does a listed test that passes (the list stays
 * honest). A runner that loads nothing fails it too: the deliberately wrong expectations of
 * test/fixtures/verifier-selftests/deliberate.c must be reported as failures, and most `__failure __msg`
 * tests must have matched their messages in a real verifier log.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { before, test } from "node:test";
import { defaultCacheDir } from "../../src/kernels/index.ts";
import { parseObject } from "../../src/object/index.ts";
import { compileTest } from "../../src/testing/compile.ts";
import { parseTestCases, type TestOutcome } from "../../src/testing/index.ts";
import { rootSkip } from "../helpers/index.ts";
import {
  CLANG,
  DELIBERATE,
  keyOf,
  LAST_RUN,
  perFile,
  runVerifierSelftests,
  type SuiteRun,
  tableText,
} from "./suite.ts";

const KNOWN_FILE = join(dirname(new URL(import.meta.url).pathname), "known.json");
const known = (JSON.parse(readFileSync(KNOWN_FILE, "utf8")) as { tests: Record<string, string> }).tests;

const why =
  rootSkip("to boot QEMU and load eBPF programs") ||
  (spawnSync(CLANG, ["--version"]).status === 0 ? false : `needs ${CLANG} (apt-get install clang-19)`) ||
  (spawnSync("qemu-system-x86_64", ["--version"]).status === 0 ? false : "needs qemu-system-x86_64");

let run: SuiteRun;
let suite: TestOutcome[];
let deliberate: TestOutcome[];

before(
  async () => {
    if (why) return;
    run = await runVerifierSelftests();
    const col = run.results.kernels[0]!;
    suite = col.tests.filter((t) => basename(t.file) !== basename(DELIBERATE));
    deliberate = col.tests.filter((t) => basename(t.file) === basename(DELIBERATE));
    mkdirSync(dirname(LAST_RUN()), { recursive: true });
    writeFileSync(
      LAST_RUN(),
      `${JSON.stringify({ version: run.source.version, exact: run.source.exact, wallMs: run.wallMs, results: run.results }, null, 1)}\n`,
    );
    const rows = perFile(suite);
    process.stdout.write(
      `\nverifier selftests (linux-source-6.12 ${run.source.version}${run.source.exact ? "" : ", the closest to the guest kernel"}) on ${col.release}:\n${tableText(rows)}\n` +
        `run: ${(run.wallMs / 1000).toFixed(1)} s (${JSON.stringify(col.timings)})\n`,
    );
  },
  { timeout: 3_600_000 },
);

test("the 6.12 column ran: one boot, every verifier_*.c compiled and loaded", { skip: why }, () => {
  const col = run.results.kernels[0]!;
  assert.equal(col.error, undefined, col.error);
  assert.match(col.release ?? "", /^6\.12\./);
  const files = new Set(suite.map((t) => basename(t.file)));
  assert.equal(files.size, run.source.sources.length, `files with results: ${files.size}`);
  // a file kfunc-kit cannot read at all is one result (its reason in known.json), never a silent gap
  const broken = suite.filter(
    (t) =>
      (t.program === "(compile)" || t.program === "(object)" || t.program === "(annotations)") &&
      !known[keyOf(t)],
  );
  assert.deepEqual(
    broken.map((t) => `${t.title}: ${t.reason}`),
    [],
  );
});

test("the deliberately wrong expectations are reported as failures, the right ones pass", {
  skip: why,
}, () => {
  const by = (p: string) => deliberate.filter((t) => t.program === p);
  const kinds = (p: string) => by(p).map((t) => `${t.status}:${t.failure?.kind ?? ""}`);
  assert.deepEqual(kinds("wrong_msg"), ["fail:msg"]);
  assert.deepEqual(kinds("wrong_retval"), ["fail:retval"]);
  assert.deepEqual(kinds("wrong_xlated"), ["fail:xlated"]);
  for (const p of ["leak_unpriv", "right_msg", "right_xlated"])
    assert.deepEqual(kinds(p), ["pass:", "pass:"], JSON.stringify(by(p), null, 1));
});

test("every test that does not pass is on known.json with its reason; no listed test passes", {
  skip: why,
}, () => {
  const seen = new Set<string>();
  const unexpected: string[] = [];
  const nowPassing: string[] = [];
  for (const t of suite) {
    const k = keyOf(t);
    seen.add(k);
    const listed = known[k];
    if (t.status === "pass") {
      if (listed) nowPassing.push(`${k} (listed: ${listed})`);
    } else if (!listed)
      unexpected.push(
        `${k}: ${t.status} ${t.reason ?? ""}${t.failure ? `${t.failure.kind}: expected ${t.failure.expected}; got ${t.failure.got}` : ""}`.slice(
          0,
          600,
        ),
      );
  }
  const stale = Object.keys(known).filter((k) => !seen.has(k));
  assert.deepEqual(unexpected, [], "not passing and not on the list");
  assert.deepEqual(nowPassing, [], "on the list but passing now: take them off");
  assert.deepEqual(stale, [], "on the list but not in the run");
});

test("≥ 98 % of the annotated tests pass", { skip: why }, () => {
  const passed = suite.filter((t) => t.status === "pass").length;
  const share = passed / suite.length;
  process.stdout.write(
    `verifier selftests: ${passed} of ${suite.length} pass (${(share * 100).toFixed(1)} %)\n`,
  );
  assert.ok(suite.length > 1500, `only ${suite.length} tests ran`);
  assert.ok(share >= 0.98, `${(share * 100).toFixed(1)} % pass`);
});

test("the verdicts come from real verifier logs: most __failure __msg tests matched their messages", {
  skip: why,
}, () => {
  // the expectations, read from the same (cached) objects the guest ran
  const cacheDir = defaultCacheDir();
  const withMsgs = new Set<string>();
  for (const source of run.source.sources) {
    const { object } = compileTest(source, {
      kernelBtf: join(cacheDir, "kernels", run.results.kernels[0]!.release!, "vmlinux.btf"),
      moduleDirs: [],
      clang: CLANG,
      includeDirs: run.source.includeDirs,
      defines: run.source.defines,
      cflags: run.source.cflags,
      cacheDir,
    });
    let cases: ReturnType<typeof parseTestCases>;
    try {
      cases = parseTestCases(parseObject(readFileSync(object), source), source);
    } catch {
      continue; // a file kfunc-kit cannot read (on known.json; the first test checks that)
    }
    for (const tc of cases) {
      if (tc.priv?.expectFailure && tc.priv.msgs.length)
        withMsgs.add(keyOf({ file: source, title: tc.title }));
      if (tc.unpriv?.expectFailure && tc.unpriv.msgs.length)
        withMsgs.add(keyOf({ file: source, title: `${tc.title} @unpriv` }));
    }
  }
  const matched = suite.filter((t) => t.status === "pass" && withMsgs.has(keyOf(t))).length;
  process.stdout.write(`refusals whose __msg matched the verifier log: ${matched} of ${withMsgs.size}\n`);
  assert.ok(withMsgs.size > 500, `only ${withMsgs.size} __failure __msg tests found`);
  assert.ok(matched >= withMsgs.size * 0.95, `${matched} of ${withMsgs.size}`);
});
