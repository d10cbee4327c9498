/**
 * Runs kbuild for an out-of-tree module (`make -C <kernel build dir> M=<dir> modules`) and turns compiler
 * and modpost errors into `file:line: message` lines that name the user's files.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readlinkSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { EnvironmentError } from "../errors.ts";
import type { Progress } from "../progress.ts";

export interface KbuildResult {
  exitCode: number;
  /** stdout and stderr, interleaved as kbuild printed them. */
  log: string;
  /** The path make was given as M= (a kfunc-kit-named symlink when the module dir's path is not make-safe). */
  makeDir: string;
}

/** Characters make and kbuild take literally in a path: everything else may be make syntax. */
const MAKE_SAFE_PATH = /^[A-Za-z0-9_./+-]+$/;

/** Quotes a string for a POSIX shell (for the commands shown in hints). */
export function shellQuote(s: string): string {
  return MAKE_SAFE_PATH.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The path to give make for `dir`. make expands `$(…)` and `$VAR` in M= and kbuild splits it at spaces,
 * so a path with anything but `[A-Za-z0-9_./+-]` is reached through a symlink whose name kfunc-kit
 * chooses (`<tmp>/kfunc-kbuild-<hash of the path>`, stable so rebuilds stay incremental).
 */
export function makeSafeDir(dir: string): string {
  if (MAKE_SAFE_PATH.test(dir)) return dir;
  const tmp = MAKE_SAFE_PATH.test(tmpdir()) ? tmpdir() : "/tmp";
  const link = join(tmp, `kfunc-kbuild-${createHash("sha256").update(dir).digest("hex").slice(0, 16)}`);
  let current: string | undefined;
  try {
    current = readlinkSync(link);
  } catch {
    current = undefined;
  }
  if (current !== dir) {
    const part = `${link}.tmp-${process.pid}`;
    rmSync(part, { force: true });
    symlinkSync(dir, part);
    renameSync(part, link); // atomic: a concurrent build of the same dir sees the old or the new link
  }
  return link;
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
  const makeDir = makeSafeDir(moduleDir);
  return new Promise((resolvePromise, reject) => {
    const args = ["-C", headersDir, `M=${makeDir}`, o.target ?? "modules"];
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
    child.on("close", (code) => resolvePromise({ exitCode: code ?? 1, log, makeDir }));
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
      message: m[4]!.replace(/[\u2018\u2019]/g, "'"),
    });
  }
  return out;
}

export function formatDiagnostic(d: Diagnostic, cwd = process.cwd()): string {
  const rel = relative(cwd, d.file);
  const file = rel.startsWith("..") || rel === "" ? d.file : rel;
  return `${file}:${d.line}: ${d.severity}: ${d.message}`;
}

/**
 * The lines worth showing when kbuild failed without a gcc diagnostic: modpost, make, and the tools the
 * BTF step runs (pahole, resolve_btfids), whose own message names the cause (`Failed to parse base BTF`).
 */
export function otherErrors(log: string): string[] {
  return log
    .split("\n")
    .filter((l) =>
      /^ERROR: |^make(\[\d+\])?: \*\*\* |: undefined reference|No rule to make target|^\s*(?:pahole|resolve_btfids|btf_encoder|libbpf)\b|[Ff]ailed to (?:parse|load|encode|open|read)|^FAILED\b|^Error: |error: /.test(
        l,
      ),
    )
    .slice(0, 12);
}
