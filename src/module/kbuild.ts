/**
 * Runs kbuild for an out-of-tree module (`make -C <kernel build dir> M=<dir> modules`) and turns compiler
 * and modpost errors into `file:line: message` lines that name the user's files.
 */
import { spawn } from "node:child_process";
import { relative } from "node:path";
import { EnvironmentError } from "../errors.ts";
import type { Progress } from "../progress.ts";

export interface KbuildResult {
  exitCode: number;
  /** stdout and stderr, interleaved as kbuild printed them. */
  log: string;
}

export interface Diagnostic {
  file: string;
  line: number;
  severity: "error" | "warning";
  message: string;
}

export function runKbuild(
  headersDir: string,
  moduleDir: string,
  o: { progress?: Progress | undefined; target?: string } = {},
): Promise<KbuildResult> {
  return new Promise((resolvePromise, reject) => {
    const args = ["-C", headersDir, `M=${moduleDir}`, o.target ?? "modules"];
    const child = spawn("make", args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LANG: "C", LC_MESSAGES: "C" },
    });
    let log = "";
    const onData = (d: Buffer) => {
      const text = d.toString("utf8");
      log += text;
      const last = text.trim().split("\n").pop();
      if (last) o.progress?.detail(last.trim().slice(0, 80));
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (e) =>
      reject(
        new EnvironmentError(`cannot run make: ${e.message}`, {
          cause: e,
          hint: "install the kernel module toolchain: apt-get install make gcc",
        }),
      ),
    );
    child.on("close", (code) => resolvePromise({ exitCode: code ?? 1, log }));
  });
}

const GCC_DIAG = /^(.+?):(\d+):(?:\d+:)? (error|warning|fatal error): (.*)$/;

/**
 * gcc diagnostics from a kbuild log, with build-dir paths mapped back to the module's source dir
 * (`pathMap`: build dir → source dir).
 */
export function parseDiagnostics(log: string, pathMap: Record<string, string> = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const line of log.split("\n")) {
    const m = GCC_DIAG.exec(line);
    if (!m) continue;
    let file = m[1]!;
    for (const [from, to] of Object.entries(pathMap))
      if (file.startsWith(`${from}/`)) file = to + file.slice(from.length);
    out.push({
      file,
      line: Number(m[2]),
      severity: m[3] === "warning" ? "warning" : "error",
      message: m[4]!.replace(/[‘’]/g, "'"),
    });
  }
  return out;
}

export function formatDiagnostic(d: Diagnostic, cwd = process.cwd()): string {
  const rel = relative(cwd, d.file);
  const file = rel.startsWith("..") || rel === "" ? d.file : rel;
  return `${file}:${d.line}: ${d.severity}: ${d.message}`;
}

/** The lines worth showing when kbuild failed without a gcc diagnostic (modpost, make). */
export function otherErrors(log: string): string[] {
  return log
    .split("\n")
    .filter((l) => /^ERROR: |^make(\[\d+\])?: \*\*\* |: undefined reference|No rule to make target/.test(l))
    .slice(0, 12);
}
