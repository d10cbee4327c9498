/**
 * Finds tracefs (/sys/kernel/tracing, else /sys/kernel/debug/tracing), mounting it at /sys/kernel/tracing
 * when nothing is mounted yet. Tracepoint ids, kprobe_events/uprobe_events and trace_pipe live there.
 */
import { existsSync, readFileSync } from "node:fs";
import { EnvironmentError, NotSupportedError, ObjectError } from "../../errors.ts";
import { log } from "../../log.ts";
import type { Fd } from "../../sys/fd.ts";
import { encodePerfEventAttr, mountTracefs, PERF_TYPE, perfEventOpen } from "../../sys/perf.ts";

const CANDIDATES = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
let cached: string | undefined;

/** The tracefs root; mounts tracefs at /sys/kernel/tracing if needed (needs root). */
export function tracefsRoot(): string {
  if (cached && existsSync(`${cached}/trace`)) return cached;
  for (const c of CANDIDATES) {
    if (existsSync(`${c}/trace`)) {
      cached = c;
      return c;
    }
  }
  if (!existsSync(CANDIDATES[0]!)) {
    throw new NotSupportedError("tracefs", undefined, "tracefs: /sys/kernel/tracing does not exist", {
      hint: "is sysfs mounted, and is the kernel built with CONFIG_FTRACE?",
    });
  }
  try {
    mountTracefs(CANDIDATES[0]!);
  } catch (e) {
    throw new EnvironmentError("tracefs is not mounted and mounting it failed", {
      cause: e,
      hint: "run as root, or mount it yourself: mount -t tracefs nodev /sys/kernel/tracing",
    });
  }
  log.info("mounted tracefs at /sys/kernel/tracing");
  cached = CANDIDATES[0]!;
  return cached;
}

/** The numeric id of tracepoint `category/name` (events/<category>/<name>/id). */
export function tracepointId(category: string, name: string): number {
  const root = tracefsRoot();
  const file = `${root}/events/${category}/${name}/id`;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ObjectError(`tracepoint '${category}/${name}': ${file}: ${code ?? String(e)}`, {
      cause: e,
      hint:
        code === "ENOENT"
          ? `no such tracepoint; list them with: ls ${root}/events/${category}`
          : "are you root? tracefs files need CAP_SYS_ADMIN",
    });
  }
  return Number.parseInt(text.trim(), 10);
}

/** A perf event on the tracepoint `<category>/<name>`, for any process on CPU 0 (pid -1, cpu 0, as libbpf opens it). */
export function openTracepointEvent(category: string, name: string, what: string): Fd {
  const attr = encodePerfEventAttr({
    type: PERF_TYPE.TRACEPOINT,
    config: tracepointId(category, name),
    samplePeriod: 1,
    wakeupEvents: 1,
  });
  return perfEventOpen(attr, -1, 0, what);
}
