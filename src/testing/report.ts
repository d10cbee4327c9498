/**
 * Reporters for `kfunc test` results: spec (streamed lines + failure details), TAP 13, JUnit XML (one
 * testsuite per kernel, named by its release), the test × kernel matrix and the summary line.
 */
import type { KernelColumn, TestOutcome, TestRunResults } from "./types.ts";

const MARK: Record<TestOutcome["status"], string> = {
  pass: "✔",
  fail: "✖",
  skip: "-",
  error: "✖",
  "not-run": "·",
};

/** One streamed spec line for a test. */
export function specLine(t: TestOutcome): string {
  const why = t.status === "skip" || t.status === "not-run" ? ` (${t.reason ?? t.status})` : "";
  const status =
    t.status === "pass" ? "" : t.status === "fail" ? " FAILED" : t.status === "error" ? " ERROR" : "";
  return `  ${MARK[t.status]} ${t.title}${status}${why} [${t.durationMs} ms]`;
}

/** What was expected and what came. */
export function failureDetail(t: TestOutcome): string {
  const lines: string[] = [];
  if (t.failure) {
    const f = t.failure;
    lines.push(`    expected: ${f.expected.split("\n").join("\n              ")}`);
    lines.push(`    got:      ${f.got.split("\n").join("\n              ")}`);
    if (f.sourceLine) lines.push(`    at ${f.sourceLine}`);
    if (f.hint) lines.push(`    hint: ${f.hint}`);
    if (f.log?.length) lines.push("    verifier log (tail):", ...f.log.map((l) => `      | ${l}`));
  } else if (t.reason) lines.push(...t.reason.split("\n").map((l) => `    ${l}`));
  return lines.join("\n");
}

export function summaryLine(r: TestRunResults): string {
  const s = r.summary;
  const parts = [`${s.passed} passed`, `${s.failed} failed`];
  if (s.errors) parts.push(`${s.errors} errors`);
  if (s.skipped) parts.push(`${s.skipped} skipped`);
  if (s.notRun) parts.push(`${s.notRun} not run`);
  return `kfunc test: ${parts.join(", ")} (${s.total} results on ${r.kernels.length} kernel${r.kernels.length === 1 ? "" : "s"}) in ${(r.durationMs / 1000).toFixed(1)} s`;
}

const colName = (k: KernelColumn) => k.release ?? k.spec;

/** The test × kernel matrix: one row per test, one column per kernel (status and time). */
export function matrix(r: TestRunResults): string {
  const keys: string[] = [];
  const title = new Map<string, string>();
  for (const k of r.kernels)
    for (const t of k.tests) {
      const key = `${t.file}\0${t.title}`;
      if (!title.has(key)) {
        keys.push(key);
        title.set(key, `${t.file.split("/").pop()}: ${t.title}`);
      }
    }
  const cell = (k: KernelColumn, key: string): string => {
    if (k.error) return "column failed";
    const t = k.tests.find((x) => `${x.file}\0${x.title}` === key);
    if (!t) return "";
    if (t.status === "pass") return `pass ${t.durationMs} ms`;
    if (t.status === "skip") return `skip: ${(t.reason ?? "").replace(/^__kernel_min: /, "").slice(0, 40)}`;
    return t.status;
  };
  const rows = keys.map((key) => [title.get(key)!, ...r.kernels.map((k) => cell(k, key))]);
  const header = ["test", ...r.kernels.map(colName)];
  const all = [header, ...rows];
  const width = header.map((_, i) => Math.min(70, Math.max(...all.map((row) => (row[i] ?? "").length))));
  const fmt = (row: string[]) =>
    row
      .map((c, i) => c.slice(0, 70).padEnd(width[i]!))
      .join("  ")
      .trimEnd();
  const out = [fmt(header), width.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)];
  for (const k of r.kernels) if (k.error) out.push(`${colName(k)}: ${k.error.split("\n")[0]}`);
  return out.join("\n");
}

export function tap(r: TestRunResults): string {
  const all = r.kernels.flatMap((k): { k: KernelColumn; t: TestOutcome | undefined }[] =>
    k.error ? [{ k, t: undefined }] : k.tests.map((t) => ({ k, t })),
  );
  const out = ["TAP version 13", `1..${all.length}`];
  all.forEach(({ k, t }, i) => {
    const n = i + 1;
    if (!t) {
      out.push(`not ok ${n} - ${colName(k)}`, "  ---", `  message: ${JSON.stringify(k.error)}`, "  ...");
      return;
    }
    const name = `${colName(k)} ${t.file}: ${t.title}`.replace(/#/g, "\\#");
    if (t.status === "pass") out.push(`ok ${n} - ${name}`);
    else if (t.status === "skip") out.push(`ok ${n} - ${name} # SKIP ${t.reason ?? ""}`);
    else {
      out.push(`not ok ${n} - ${name}`, "  ---", `  status: ${t.status}`);
      if (t.failure) {
        out.push(
          `  expected: ${JSON.stringify(t.failure.expected)}`,
          `  got: ${JSON.stringify(t.failure.got)}`,
        );
        if (t.failure.sourceLine) out.push(`  at: ${JSON.stringify(t.failure.sourceLine)}`);
      } else if (t.reason) out.push(`  message: ${JSON.stringify(t.reason)}`);
      out.push("  ...");
    }
  });
  return `${out.join("\n")}\n`;
}

const xml = (s: string) =>
  s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 forbids these characters
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "");

/** JUnit XML: one <testsuite> per kernel, named by its release. */
export function junit(r: TestRunResults): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const s = r.summary;
  out.push(
    `<testsuites name="kfunc test" tests="${s.total}" failures="${s.failed + s.notRun}" errors="${s.errors}" skipped="${s.skipped}" time="${(r.durationMs / 1000).toFixed(3)}">`,
  );
  for (const k of r.kernels) {
    const tests = k.tests;
    const failures = tests.filter((t) => t.status === "fail" || t.status === "not-run").length;
    const errors = tests.filter((t) => t.status === "error").length + (k.error ? 1 : 0);
    const skipped = tests.filter((t) => t.status === "skip").length;
    const time = tests.reduce((a, t) => a + t.durationMs, 0) / 1000;
    out.push(
      `  <testsuite name="${xml(colName(k))}" tests="${tests.length + (k.error ? 1 : 0)}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${time.toFixed(3)}">`,
    );
    if (k.error)
      out.push(
        `    <testcase classname="${xml(colName(k))}" name="kernel setup"><error message="${xml(k.error.split("\n")[0]!)}">${xml(k.error)}</error></testcase>`,
      );
    for (const t of tests) {
      const open = `    <testcase classname="${xml(t.file)}" name="${xml(t.title)}" time="${(t.durationMs / 1000).toFixed(4)}"`;
      if (t.status === "pass") out.push(`${open}/>`);
      else if (t.status === "skip")
        out.push(`${open}><skipped message="${xml(t.reason ?? "")}"/></testcase>`);
      else if (t.status === "error")
        out.push(
          `${open}><error message="${xml((t.reason ?? "").split("\n")[0]!)}">${xml(t.reason ?? "")}</error></testcase>`,
        );
      else {
        const msg = t.failure
          ? `expected ${t.failure.expected.split("\n").pop()}, got ${t.failure.got.split("\n")[0]}`
          : (t.reason ?? t.status);
        out.push(`${open}><failure message="${xml(msg)}">${xml(failureDetail(t))}</failure></testcase>`);
      }
    }
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return `${out.join("\n")}\n`;
}
