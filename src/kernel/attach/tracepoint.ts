/** tracepoint/<category>/<name> (also tp/…): perf_event_open on the tracepoint id, then a perf link. */
import { UsageError } from "../../errors.ts";
import type { Link } from "../links.ts";
import { attachToPerfEvent, type PerfAttachOptions } from "./perf-event.ts";
import { type AttachableProgram, programFd } from "./program.ts";
import { openTracepointEvent } from "./tracefs.ts";

export function attachTracepoint(
  program: AttachableProgram,
  target: string,
  options: PerfAttachOptions = {},
): Link {
  const slash = target.indexOf("/");
  if (slash <= 0 || slash === target.length - 1) {
    throw new UsageError(`program '${program.name}': tracepoint '${target}' is not <category>/<name>`, {
      hint: 'write the section as SEC("tracepoint/syscalls/sys_enter_openat")',
    });
  }
  const category = target.slice(0, slash);
  const name = target.slice(slash + 1);
  const fd = openTracepointEvent(category, name, `tracepoint ${target}`);
  return attachToPerfEvent(
    programFd(program),
    fd,
    { kind: "tracepoint", program: program.name, target },
    options,
  );
}
