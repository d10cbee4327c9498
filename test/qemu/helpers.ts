/** Shared helpers for the QEMU tests: run the CLI, find leftover QEMU processes. */
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const MAIN = join(REPO, "src", "cli", "main.ts");
/** tsx's loader by URL: `--import tsx` would resolve from the child's cwd (a temp dir in these tests). */
const TSX = import.meta.resolve("tsx");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `kfunc <args>` through tsx (no dependency on a fresh dist/ build). */
export function cliArgs(args: string[]): string[] {
  return ["--import", TSX, MAIN, ...args];
}

export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, cliArgs(args), {
    cwd: options.cwd ?? REPO,
    env: options.env ?? process.env,
    encoding: "utf8",
    timeout: 600_000,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

export function spawnCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  return spawn(process.execPath, cliArgs(args), {
    cwd: options.cwd ?? REPO,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** PIDs of qemu-system processes whose command line contains `marker`. */
export function qemuProcesses(marker: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes("qemu-system") && cmd.includes(marker)) out.push(Number(pid));
    } catch {
      // gone
    }
  }
  return out;
}

export async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}
