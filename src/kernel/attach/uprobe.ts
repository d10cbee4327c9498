/** uprobe/uretprobe: perf_event_open on the uprobe PMU (config1 = path, config2 = file offset). */
import { SyscallError } from "../../errors.ts";
import type { Fd } from "../../sys/fd.ts";
import { openProbePmuEvent, pmuType } from "../../sys/perf.ts";
import type { Link } from "../links.ts";
import { attachViaTracefs } from "./kprobe.ts";
import type { PerfAttachOptions } from "./perf-event.ts";
import { attachToPerfEvent } from "./perf-event.ts";
import { type AttachableProgram, programFd } from "./program.ts";
import { resolveBinary, symbolFileOffset } from "./symbols.ts";

export interface UprobeOptions extends PerfAttachOptions {
  retprobe?: boolean;
  /** Only this process (default: every process that runs the binary). */
  pid?: number;
  forceTracefs?: boolean;
}

export function attachUprobe(
  program: AttachableProgram,
  target: { binary: string; symbol?: string | undefined; offset?: number },
  options: UprobeOptions = {},
): Link {
  const path = resolveBinary(target.binary);
  const offset = (target.symbol ? symbolFileOffset(path, target.symbol) : 0) + (target.offset ?? 0);
  const retprobe = options.retprobe ?? false;
  const kind = retprobe ? "uretprobe" : "uprobe";
  const where = target.symbol
    ? `${target.symbol}${target.offset ? `+${target.offset}` : ""}`
    : `0x${offset.toString(16)}`;
  const info = { kind, program: program.name, target: `${path}:${where}` } as const;
  const pmu = options.forceTracefs ? undefined : pmuType("uprobe");
  if (pmu === undefined) {
    return attachViaTracefs(program, "uprobe", retprobe, `${path}:0x${offset.toString(16)}`, info, options);
  }
  const pid = options.pid ?? -1;
  let fd: Fd;
  try {
    fd = openProbePmuEvent("uprobe", pmu, {
      retprobe,
      name: path,
      offset,
      pid,
      cpu: pid === -1 ? 0 : -1,
      what: `${kind} ${info.target}`,
    });
  } catch (e) {
    throw SyscallError.wrap(`${kind} '${program.name}' → ${info.target}: cannot create the probe`, e, {
      ...(e instanceof SyscallError && e.errno === 22
        ? { hint: "is the offset inside the binary's executable code?" }
        : {}),
    });
  }
  return attachToPerfEvent(programFd(program), fd, { ...info, probeVia: "pmu" }, options);
}
