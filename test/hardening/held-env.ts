/**
 * Helpers for the held-case replays (test/hardening/held-*.test.ts): a private kernel cache that a test
 * may damage without touching the shared one, a second kfunc-kit "version" (another INIT_SCRIPT), and
 * the leftovers a run must not leave (QEMU processes and `/tmp/kfunc-vm-<pid>-*` run dirs).
 */
import { spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultCacheDir } from "../../src/host/cache.ts";
import { REPO_ROOT } from "../helpers/index.ts";
import { qemuProcesses, waitFor } from "../qemu/helpers.ts";
import { CLI } from "./cli.ts";

export { qemuProcesses, waitFor };

/** tsx's loader by URL (a child's cwd may be a temp dir). */
const TSX = import.meta.resolve("tsx");

/**
 * A private copy of one cached kernel (`release`) under `<dir>/cache`: the big files and the unpacked
 * package tree are hard links (no copy), but every file a test may rewrite or delete (kernel.json,
 * the initramfs, the headers dir with its `vmlinux`) is a real copy, so nothing written here reaches
 * the shared cache. Returns the cache dir (for KFUNC_KIT_CACHE).
 */
export function privateCache(dir: string, release: string): string {
  const shared = defaultCacheDir();
  const cache = join(dir, "cache");
  const from = join(shared, "kernels", release);
  const to = join(cache, "kernels", release);
  if (!existsSync(join(from, "kernel.json"))) throw new Error(`kernel ${release} is not cached in ${shared}`);
  mkdirSync(to, { recursive: true });
  for (const f of ["suites.json"]) cpSync(join(shared, "kernels", f), join(cache, "kernels", f));
  if (existsSync(join(shared, "accel.json"))) cpSync(join(shared, "accel.json"), join(cache, "accel.json"));
  for (const e of readdirSync(from)) {
    if (e === "vmlinux" || e === "vmlinux.btf") linkSync(join(from, e), join(to, e));
    else if (e === "root") {
      const r = spawnSync("cp", ["-al", join(from, e), join(to, e)]);
      if (r.status !== 0) throw new Error(`cp -al: ${r.stderr}`);
    } else cpSync(join(from, e), join(to, e), { recursive: true });
  }
  const headers = join(to, "root", "usr", "src", `linux-headers-${release}`);
  const real = join(dir, "headers-copy");
  cpSync(headers, real, { recursive: true, verbatimSymlinks: true });
  rmSync(headers, { recursive: true });
  cpSync(real, headers, { recursive: true, verbatimSymlinks: true });
  rmSync(real, { recursive: true });
  return cache;
}

/** The headers dir of a private cache's kernel. */
export const headersDir = (cache: string, release: string): string =>
  join(cache, "kernels", release, "root", "usr", "src", `linux-headers-${release}`);

/**
 * A second kfunc-kit version (P3-13): a copy of src/ whose INIT_SCRIPT has one more comment line (so
 * another initramfs name), next to the same node_modules. Returns its CLI entry (main.ts).
 */
export function secondVersion(dir: string): string {
  const root = join(dir, "kfunc-kit-v2");
  cpSync(join(REPO_ROOT, "src"), join(root, "src"), { recursive: true });
  for (const f of ["package.json", "tsconfig.json"]) cpSync(join(REPO_ROOT, f), join(root, f));
  for (const d of ["node_modules", "include"]) symlinkSync(join(REPO_ROOT, d), join(root, d));
  const init = join(root, "src", "qemu", "guest-init.ts");
  const text = readFileSync(init, "utf8");
  const shebang = "export const INIT_SCRIPT = `#!/bin/busybox sh\n";
  if (!text.includes(shebang))
    throw new Error(`${init}: INIT_SCRIPT's first line moved; update secondVersion`);
  writeFileSync(init, text.replace(shebang, `${shebang}# a second kfunc-kit version (test/hardening)\n`));
  return join(root, "src", "cli", "main.ts");
}

export interface Spawned {
  pid: number;
  stdout: () => Buffer;
  stderr: () => string;
  /** exit code, or 128 + signal number when killed by a signal (as a shell reports it) */
  exited: Promise<number>;
  child: ReturnType<typeof spawn>;
}

const SIGNO: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 };

/** `kfunc <args>` (started as cli.ts starts it, or another version's `main`) with its output collected. */
export function spawnKfunc(
  args: string[],
  o: { env?: Record<string, string>; cwd?: string; main?: string } = {},
): Spawned {
  const cli = o.main ? ["--import", TSX, o.main] : CLI;
  const child = spawn(process.execPath, [...cli, ...args], {
    cwd: o.cwd ?? REPO_ROOT,
    env: { ...process.env, ...o.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  let err = "";
  child.stdout!.on("data", (b: Buffer) => out.push(b));
  child.stderr!.on("data", (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<number>((res) =>
    child.on("close", (code, sig) => res(code ?? 128 + (sig ? (SIGNO[sig] ?? 0) : 0))),
  );
  return { pid: child.pid!, stdout: () => Buffer.concat(out), stderr: () => err, exited, child };
}

/** The `/tmp/kfunc-vm-<pid>-*` run dirs of process `pid`. */
export function runDirs(pid: number): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith(`kfunc-vm-${pid}-`));
}

/** The parent pid of process `pid` (undefined when it is gone). */
function ppidOf(pid: string): number | undefined {
  try {
    // the command name is in parentheses and may hold spaces: the fields after the last ')'
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/**
 * QEMU processes of CLI process `pid`: its qemu-system children (setpriv execs QEMU, as the probe's
 * `ps --ppid` found it), and any whose command line names the run's dir.
 */
export function qemuOf(pid: number): number[] {
  const byDir = qemuProcesses(`/kfunc-vm-${pid}-`);
  const children = qemuProcesses("qemu-system").filter((q) => ppidOf(String(q)) === pid);
  return [...new Set([...byDir, ...children])];
}

/** Temp files and locks a cache must not keep after its runs ended. */
export function cacheLeftovers(cache: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith(".tmp-") || e.name.endsWith(".lock")) out.push(join(d, e.name));
      else if (e.isDirectory() && depth < 3 && e.name !== "root") walk(join(d, e.name), depth + 1);
    }
  };
  walk(cache, 0);
  return out;
}
