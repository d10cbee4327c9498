/**
 * The one guest-to-host result protocol: a guest script writes JSON records on its stdout, one per line,
 * each prefixed by {@link RESULT_MARKER}; the host splits the stream into records and the remaining text
 * (what a person should see). Used by `kfunc demo` and `kfunc test`; works the same on the host.
 */
import { StringDecoder } from "node:string_decoder";
import { formatError } from "../errors.ts";

export const RESULT_MARKER = "KFUNC_RESULT ";

/** Writes one record (a JSON object with a `type`) as a line on stdout. */
export function emitResult(record: { type: string } & Record<string, unknown>): void {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(record)}\n`);
}

/**
 * Runs a guest script's `main` and sets the process' exit code from it; a throw is one line on stderr
 * (`<label>: <the error>`, never a stack) and exit code 1.
 */
export function runGuestMain(label: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`${label}: ${formatError(e)}\n`);
      process.exitCode = 1;
    },
  );
}

/** The records in a complete stdout text. */
export function parseResults<T = Record<string, unknown>>(stdout: string): T[] {
  const out: T[] = [];
  for (const l of stdout.split("\n"))
    if (l.startsWith(RESULT_MARKER)) out.push(JSON.parse(l.slice(RESULT_MARKER.length)) as T);
  return out;
}

/**
 * Splits a live stdout stream: `onRecord` for each record line, `onText` for every other complete line
 * (with its newline). Call `flush()` at the end for a last line without a newline.
 */
export function resultSplitter<T = Record<string, unknown>>(
  onRecord: (record: T) => void,
  onText: (text: string) => void,
): { push(chunk: string | Buffer): void; flush(): void } {
  let pending = "";
  // a multi-byte UTF-8 character may be split across chunks
  const decoder = new StringDecoder("utf8");
  const line = (l: string, nl: string) => {
    if (!l.startsWith(RESULT_MARKER)) return onText(l + nl);
    let rec: T;
    try {
      rec = JSON.parse(l.slice(RESULT_MARKER.length)) as T;
    } catch {
      return onText(l + nl); // a record cut by a crash: show it rather than lose it
    }
    onRecord(rec);
  };
  return {
    push(chunk) {
      pending += typeof chunk === "string" ? chunk : decoder.write(chunk);
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const l of lines) line(l, "\n");
    },
    flush() {
      pending += decoder.end();
      if (pending) line(pending, "");
      pending = "";
    },
  };
}
