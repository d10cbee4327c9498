/**
 * The one way every verb reads an input file and writes an output file. A user's mistake (a directory
 * given as a file, a file over 2 GiB, no permission, an output dir that does not exist) becomes a
 * {@link FileError} naming the path and the fix, never an "internal error" with a bare errno.
 */
import { closeSync, openSync, readSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { FileError } from "./errors.ts";

/** Node's Buffer limit (and so readFileSync's): 2 GiB. Inputs of kfunc-kit are far smaller. */
export const MAX_INPUT_BYTES = 2 ** 31 - 1;

function errnoCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | undefined)?.code;
  return typeof c === "string" ? c : undefined;
}

function asFileError(e: unknown, path: string, what: string, writing: boolean): FileError | undefined {
  switch (errnoCode(e)) {
    case "ENOENT":
      return writing
        ? new FileError(
            "missing-dir",
            path,
            `${what} '${path}': directory '${dirname(path)}' does not exist`,
            {
              hint: `create it first (mkdir -p '${dirname(path)}') or name a file in an existing directory`,
            },
          )
        : new FileError("missing", path, `${what} '${path}' does not exist`, {
            ...(writing ? {} : { cause: e }),
            hint: "check the path",
          });
    case "ENOTDIR":
      return new FileError("missing", path, `${what} '${path}': a part of the path is not a directory`, {
        ...(writing ? {} : { cause: e }),
        hint: "check the path",
      });
    case "EISDIR":
      return new FileError("directory", path, `${what} '${path}' is a directory, not a file`, {
        ...(writing ? {} : { cause: e }),
        hint: writing ? "name a file (e.g. <dir>/out.h), not a directory" : "name a file inside it",
      });
    case "EACCES":
    case "EPERM":
      return new FileError("permission", path, `${what} '${path}': permission denied (${errnoCode(e)})`, {
        ...(writing ? {} : { cause: e }),
        hint: writing
          ? "write somewhere this user may write, or fix the directory's permissions"
          : "run as a user who may read it (e.g. root), or fix its permissions (chmod a+r)",
      });
    case "EROFS":
      return new FileError("permission", path, `${what} '${path}': read-only file system`, {
        ...(writing ? {} : { cause: e }),
        hint: "write to a writable file system",
      });
    case "ENOSPC":
      return new FileError("io", path, `${what} '${path}': no space left on the device`, {
        ...(writing ? {} : { cause: e }),
        hint: "free some space",
      });
    case "ELOOP":
    case "ENAMETOOLONG":
      return new FileError(
        "missing",
        path,
        `${what} '${path}': ${errnoCode(e)} (a symlink loop or a too long path)`,
        {
          ...(writing ? {} : { cause: e }),
          hint: "check the path",
        },
      );
    default:
      return undefined;
  }
}

/**
 * Reads a whole input file. `what` names it in messages ("object", "--data-in file"). Refuses a
 * directory, a special file that never ends, and a file over `maxBytes` (default 2 GiB) before reading.
 */
export function readInputFile(path: string, what = "file", maxBytes = MAX_INPUT_BYTES): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw asFileError(e, path, what, false) ?? e;
  }
  try {
    const st = statSync(path);
    if (st.isDirectory())
      throw new FileError("directory", path, `${what} '${path}' is a directory, not a file`, {
        hint: "name a file inside it",
      });
    if (!st.isFile() && !st.isFIFO() && !st.isCharacterDevice())
      throw new FileError("special", path, `${what} '${path}' is not a regular file`, {
        hint: "pass a regular file",
      });
    if (st.size > maxBytes)
      throw new FileError(
        "too-large",
        path,
        `${what} '${path}' is ${st.size} bytes, over the ${maxBytes === MAX_INPUT_BYTES ? "2 GiB" : `${maxBytes}-byte`} limit`,
        { hint: "is it the right file? eBPF objects, modules and BTF are megabytes at most" },
      );
    // read to the end (not st.size): /proc and /sys files report size 0 or 4096, and sysfs hands out
    // /sys/kernel/btf/* a page per read(), so fill one buffer (grown by doubling), never one per read
    let buf = Buffer.allocUnsafe(st.isFile() && st.size > 0 ? Math.min(st.size + 1, 1 << 26) : 1 << 16);
    let total = 0;
    for (;;) {
      if (total === buf.length) {
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, maxBytes + 1));
        buf.copy(bigger, 0, 0, total);
        buf = bigger;
      }
      let n: number;
      try {
        n = readSync(fd, buf, total, buf.length - total, null);
      } catch (e) {
        throw asFileError(e, path, what, false) ?? e;
      }
      if (n === 0) break;
      total += n;
      if (total > maxBytes)
        throw new FileError("too-large", path, `${what} '${path}' is over the ${maxBytes}-byte limit`, {
          hint: "is it the right file?",
        });
    }
    const out = buf.subarray(0, total);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } finally {
    closeSync(fd);
  }
}

/** Reads an input text file (UTF-8) with the same checks as {@link readInputFile}. */
export function readInputText(path: string, what = "file"): string {
  return Buffer.from(readInputFile(path, what)).toString("utf8");
}

/**
 * Writes an output file atomically (a temp sibling renamed into place). Refuses a directory and a
 * missing parent directory with a message naming the path and the fix.
 */
export function writeOutputFile(path: string, data: string | Uint8Array, what = "output file"): void {
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(path);
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw asFileError(e, path, what, true) ?? e;
  }
  if (st?.isDirectory())
    throw new FileError("directory", path, `${what} '${path}' is a directory, not a file`, {
      hint: "name a file (e.g. <dir>/out.h), not a directory",
    });
  // a special file (/dev/stdout, a FIFO) is written in place: it cannot be renamed over
  if (st && !st.isFile()) {
    try {
      writeFileSync(path, data);
      return;
    } catch (e) {
      throw asFileError(e, path, what, true) ?? e;
    }
  }
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw asFileError(e, path, what, true) ?? e;
  }
}

/** A file-system error turned into a {@link FileError} when it is a user's mistake; else `e` itself. */
export function explainFsError(e: unknown, path: string, what: string, writing: boolean): unknown {
  return asFileError(e, path, what, writing) ?? e;
}
