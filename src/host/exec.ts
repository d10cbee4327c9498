import { spawn } from "node:child_process";
import { EnvironmentError, type KfuncKitError } from "../errors.ts";

/** Which Debian package provides a tool kfunc-kit runs (for "install it" hints). */
const PACKAGE_OF: Record<string, string> = {
  "apt-get": "apt",
  "apt-cache": "apt",
  dpkg: "dpkg",
  "dpkg-deb": "dpkg",
  zstd: "zstd",
  xz: "xz-utils",
  gzip: "gzip",
  "qemu-system-x86_64": "qemu-system-x86",
  busybox: "busybox-static",
};

export interface ToolResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface ToolOptions {
  cwd?: string;
  input?: Uint8Array;
  /** Resolve with the exit code instead of throwing when the tool fails. */
  allowFailure?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** The error for a missing program, naming the package to install. */
export function missingTool(tool: string, cause?: unknown): KfuncKitError {
  const pkg = PACKAGE_OF[tool];
  return new EnvironmentError(`'${tool}' not found on this machine`, {
    cause,
    hint: pkg ? `install it: apt-get install ${pkg}` : `install '${tool}' and make sure it is on PATH`,
  });
}

/** Runs a program to completion, capturing stdout (bytes) and stderr (text). */
export function runTool(tool: string, args: string[], options: ToolOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input ? "pipe" : "ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (b: Buffer) => out.push(b));
    child.stderr!.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e: NodeJS.ErrnoException) => {
      reject(e.code === "ENOENT" ? missingTool(tool, e) : e);
    });
    if (options.input) {
      // a decompressor may stop reading at the end of its stream: EPIPE is expected then
      child.stdin!.on("error", () => {});
      child.stdin!.end(options.input);
    }
    child.on("close", (code) => {
      const result = { code: code ?? 1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() };
      if (result.code !== 0 && !options.allowFailure) {
        const tail = result.stderr.trim().split("\n").slice(-8).join("\n");
        reject(
          new EnvironmentError(`${tool} ${args.join(" ")}: exit ${result.code}\n${tail}`, {
            hint: `run the command by hand to see the full output`,
          }),
        );
      } else resolve(result);
    });
  });
}
