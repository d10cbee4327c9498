/** Runs the kfunc CLI (the fresh build, else the sources through tsx) for the hardening tests, a few at a time. */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/index.ts";

export interface CliResult {
  args: string[];
  status: number | null;
  stdout: string;
  stderr: string;
}

/** KFUNC_HARDEN_MAIN runs these tests against another checkout's CLI (to see them fail before the fixes). */
export const MAIN = process.env["KFUNC_HARDEN_MAIN"] ?? join(REPO_ROOT, "src/cli/main.ts");

/** The newest mtime of the files under `dir` (ms). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * How to start the CLI: the built one (bin/kfunc.js, a third of tsx's start-up: these tests start it
 * about 150 times) when dist/ is up to date by setup's own rule (dist/.tsbuildinfo newer than every file
 * of src/ and tsconfig.json), as after `npm test`'s setup; else the sources through tsx, so that a stale
 * dist/ is never what is tested.
 */
export const CLI: string[] = (() => {
  // tsx resolved here: the CLI is often started with its cwd in a temp dir, where a bare "tsx" is not found
  const tsx = ["--import", import.meta.resolve("tsx"), MAIN];
  if (process.env["KFUNC_HARDEN_MAIN"]) return tsx;
  const info = join(REPO_ROOT, "dist", ".tsbuildinfo");
  if (!existsSync(info)) return tsx;
  const built = statSync(info).mtimeMs;
  const fresh =
    built >= newest(join(REPO_ROOT, "src")) && built >= statSync(join(REPO_ROOT, "tsconfig.json")).mtimeMs;
  return fresh ? [join(REPO_ROOT, "bin", "kfunc.js")] : tsx;
})();

export function kfunc(
  args: string[],
  o: { env?: Record<string, string>; prefix?: string[]; cwd?: string } = {},
): Promise<CliResult> {
  const argv = [...(o.prefix ?? []), process.execPath, ...CLI, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: o.cwd ?? REPO_ROOT,
      env: { ...process.env, ...o.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ args, status, stdout, stderr }));
  });
}

/** Runs `jobs` two at a time (the machine is shared): the results in order. */
export async function all<T>(jobs: (() => Promise<T>)[], width = 2): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
  return out;
}

/** A user's mistake: a message naming the file, no "internal error", no stack trace. */
export function userError(r: CliResult, path: string, pattern: RegExp, status = 1): string | undefined {
  const what = `kfunc ${r.args.join(" ")}`;
  if (r.stderr.includes("internal error")) return `${what}: internal error:\n${r.stderr}`;
  if (/\n\s+at .*\(.*:\d+:\d+\)/.test(r.stderr)) return `${what}: a stack trace:\n${r.stderr}`;
  if (r.status !== status) return `${what}: exit ${r.status}, expected ${status}:\n${r.stderr}`;
  if (!r.stderr.includes(path)) return `${what}: the message does not name ${path}:\n${r.stderr}`;
  if (!pattern.test(r.stderr)) return `${what}: the message does not match ${pattern}:\n${r.stderr}`;
  return undefined;
}
