/**
 * The kernel's trace buffer, where bpf_printk()/bpf_trace_printk() write: `tracePipe()` streams (and
 * consumes) lines from trace_pipe with non-blocking reads and stops promptly on abort; `readTraceBuffer()`
 * reads the non-consuming `trace` file; `clearTrace()` empties it. tracefs is mounted if needed.
 */
import { closeSync, constants, openSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { EnvironmentError } from "../errors.ts";
import { tracefsRoot } from "./attach/tracefs.ts";

export interface TraceLine {
  /** Task name (comm) as the kernel printed it. */
  task: string;
  pid: number;
  cpu: number;
  /** irq/preempt flags column ("d..31"), "" when the kernel did not print it. */
  flags: string;
  /** Seconds since boot (the trace clock), as printed. */
  timestamp: number;
  /** The event name ("bpf_trace_printk"). */
  event: string;
  /** What the program printed (without the event prefix). */
  message: string;
  /** The whole line. */
  raw: string;
}

const LINE =
  /^\s*(.+?)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+(?:([^\s]{4,6})\s+)?(\d+\.\d+):\s+([\w.]+):\s?(.*)$/;

/** Parses one trace line; undefined for comments, blank lines and lines in an unknown format. */
export function parseTraceLine(raw: string): TraceLine | undefined {
  if (raw.startsWith("#") || raw.trim() === "") return undefined;
  const m = LINE.exec(raw);
  if (!m) return undefined;
  return {
    task: m[1]!.trim(),
    pid: Number(m[2]),
    cpu: Number(m[3]),
    flags: m[4] ?? "",
    timestamp: Number(m[5]),
    event: m[6]!,
    message: m[7]!,
    raw,
  };
}

export interface TracePipeOptions {
  signal?: AbortSignal;
  /** How long to sleep when the pipe is empty (default 50 ms): the worst-case latency and abort delay. */
  idleMs?: number;
  /** Lines that do not parse are yielded too (as `event: ""`, `message: raw`) when true. */
  includeUnparsed?: boolean;
}

/**
 * Streams trace_pipe lines until `signal` aborts. Reading trace_pipe consumes: another reader (a
 * `cat trace_pipe` in a terminal) will take lines from this one.
 */
export async function* tracePipe(options: TracePipeOptions = {}): AsyncGenerator<TraceLine> {
  const path = `${tracefsRoot()}/trace_pipe`;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new EnvironmentError(`trace_pipe: cannot open ${path}`, {
      cause: e,
      hint: "reading the trace buffer needs root (CAP_SYS_ADMIN)",
    });
  }
  const idle = options.idleMs ?? 50;
  const buf = Buffer.allocUnsafe(64 * 1024);
  let partial = "";
  try {
    while (!options.signal?.aborted) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
        n = -1;
      }
      if (n <= 0) {
        try {
          await sleep(idle, undefined, options.signal ? { signal: options.signal } : {});
        } catch {
          return; // aborted
        }
        continue;
      }
      const text = partial + buf.toString("utf8", 0, n);
      const lines = text.split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) {
        const t = parseTraceLine(l);
        if (t) yield t;
        else if (options.includeUnparsed && l.trim() !== "")
          yield { task: "", pid: 0, cpu: -1, flags: "", timestamp: 0, event: "", message: l, raw: l };
        if (options.signal?.aborted) return;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** The current contents of the trace buffer (`trace`: not consumed), parsed. */
export function readTraceBuffer(): TraceLine[] {
  const text = readFileSync(`${tracefsRoot()}/trace`, "utf8");
  const out: TraceLine[] = [];
  for (const l of text.split("\n")) {
    const t = parseTraceLine(l);
    if (t) out.push(t);
  }
  return out;
}

/** Empties the trace buffer (what `echo > trace` does). */
export function clearTrace(): void {
  writeFileSync(`${tracefsRoot()}/trace`, "");
}
