/**
 * Attaching a program to an open perf event (tracepoint, kprobe, uprobe): BPF_LINK_CREATE with
 * BPF_PERF_EVENT (Linux ≥ 5.15), else PERF_EVENT_IOC_SET_BPF + PERF_EVENT_IOC_ENABLE. And
 * `attachPerfEvent`: a SEC("perf_event") program on a sampling event per CPU, as libbpf's
 * bpf_program__attach_perf_event is used by profile/runqlen/llcstat.
 */
import { type KfuncKitError, SyscallError, UsageError } from "../../errors.ts";
import type { Fd } from "../../sys/fd.ts";
import { ioctl, PERF_EVENT_IOC } from "../../sys/ioctl.ts";
import { encodePerfEventAttr, PERF_COUNT_SW, PERF_TYPE, perfEventOpen } from "../../sys/perf.ts";
import { Link, type LinkInfo, type LinkMechanism } from "../links.ts";
import { onlineCpuList } from "../perf-buffer.ts";
import { ATTACH, linkCreate } from "./attrs.ts";
import { type AttachableProgram, programFd } from "./program.ts";

const FALLBACK_ERRNOS = new Set([22, 95, 524]); // EINVAL, EOPNOTSUPP, ENOTSUPP: kernel without perf links

export interface PerfAttachOptions {
  /** Skip BPF_LINK_CREATE and use the ioctl path (tests use it to cover the fallback). */
  forceIoctl?: boolean;
  cleanups?: Array<() => void>;
}

/** Attaches `progFd` to `perfFd`; returns the fds that keep it attached (perf fd first). Closes nothing. */
function attachFds(
  progFd: number,
  perfFd: Fd,
  what: string,
  forceIoctl: boolean | undefined,
): { fds: Fd[]; mechanism: LinkMechanism } {
  if (!forceIoctl) {
    try {
      const fd = linkCreate(
        { progFd, targetFd: perfFd.value, attachType: ATTACH.PERF_EVENT },
        `link ${what}`,
      );
      return { fds: [perfFd, fd], mechanism: "bpf_link" };
    } catch (e) {
      if (!(e instanceof SyscallError) || !FALLBACK_ERRNOS.has(e.errno)) throw e;
    }
  }
  ioctl(perfFd.value, PERF_EVENT_IOC.SET_BPF, progFd);
  ioctl(perfFd.value, PERF_EVENT_IOC.ENABLE, 0);
  // closing the perf event fd detaches the program
  return { fds: [perfFd], mechanism: "perf_event_ioctl" };
}

function attachError(e: unknown, info: Omit<LinkInfo, "mechanism">): KfuncKitError {
  const hint =
    e instanceof SyscallError && e.errno === 22
      ? "does the program type match the event (a tracepoint/ program on a tracepoint, kprobe/ on a kprobe, perf_event on a sampling event)?"
      : undefined;
  return SyscallError.wrap(`${info.kind} '${info.program}' → ${info.target}: attach failed`, e, {
    ...(hint ? { hint } : {}),
  });
}

/** Takes ownership of `perfFd` (closed on failure too). */
export function attachToPerfEvent(
  progFd: number,
  perfFd: Fd,
  info: Omit<LinkInfo, "mechanism">,
  options: PerfAttachOptions = {},
): Link {
  const cleanups = options.cleanups ?? [];
  try {
    const { fds, mechanism } = attachFds(progFd, perfFd, info.program, options.forceIoctl);
    return new Link({ ...info, mechanism }, fds, cleanups);
  } catch (e) {
    perfFd.close();
    for (const c of cleanups) c();
    throw attachError(e, info);
  }
}

export interface PerfEventOptions {
  /** PERF_TYPE_* (default PERF_TYPE_SOFTWARE). */
  type?: number;
  /** The event within the type (default PERF_COUNT_SW_CPU_CLOCK). */
  config?: number | bigint;
  /** Run the program every this many events. */
  samplePeriod?: number;
  /** Run it this many times per second (default 49 Hz when neither is given, as libbpf-tools' profile). */
  sampleFreq?: number;
  /** One CPU only (default: every online CPU, one event each). */
  cpu?: number;
  /** One process only (on any CPU unless `cpu` is given). */
  pid?: number;
  /** Use PERF_EVENT_IOC_SET_BPF instead of a perf bpf_link. */
  forceIoctl?: boolean;
}

/** The sampling default: CPU clock at 49 Hz (off the timer tick's multiples, as profile does). */
export const DEFAULT_SAMPLE_FREQ = 49;

/** What a default attachPerfEvent samples, in words (`kfunc run` prints it). */
export function describePerfEvent(o: PerfEventOptions = {}): string {
  const ev =
    (o.type ?? PERF_TYPE.SOFTWARE) === PERF_TYPE.SOFTWARE &&
    BigInt(o.config ?? PERF_COUNT_SW.CPU_CLOCK) === BigInt(PERF_COUNT_SW.CPU_CLOCK)
      ? "CPU clock"
      : `perf event type ${o.type} config ${o.config ?? 0}`;
  const rate =
    o.samplePeriod !== undefined
      ? `every ${o.samplePeriod} events`
      : `${o.sampleFreq ?? DEFAULT_SAMPLE_FREQ} Hz`;
  const where =
    o.cpu !== undefined
      ? `CPU ${o.cpu}`
      : o.pid !== undefined
        ? "any CPU"
        : `every online CPU (${onlineCpuList().length})`;
  return `${ev} at ${rate} on ${where}${o.pid !== undefined ? `, pid ${o.pid}` : ""}`;
}

/**
 * Attaches a SEC("perf_event") program to a sampling perf event: one event per online CPU (pid -1) unless
 * `cpu` or `pid` narrows it, each attached with a bpf_link (or the ioctl). One Link owns them all; it is
 * also closed when the program is (so a Collection's close() detaches it). All-or-nothing.
 */
export function attachPerfEvent(program: AttachableProgram, options: PerfEventOptions = {}): Link {
  if (options.samplePeriod !== undefined && options.sampleFreq !== undefined)
    throw new UsageError(`program '${program.name}': give samplePeriod or sampleFreq, not both`);
  const rate = options.samplePeriod ?? options.sampleFreq ?? DEFAULT_SAMPLE_FREQ;
  if (!Number.isInteger(rate) || rate <= 0)
    throw new UsageError(
      `program '${program.name}': sample ${options.samplePeriod !== undefined ? "period" : "frequency"} must be a positive integer, got ${rate}`,
    );
  const type = options.type ?? PERF_TYPE.SOFTWARE;
  const config = options.config ?? PERF_COUNT_SW.CPU_CLOCK;
  const attr = encodePerfEventAttr({
    type,
    config,
    ...(options.samplePeriod !== undefined ? { samplePeriod: rate } : { sampleFreq: rate }),
  });
  const pid = options.pid ?? -1;
  const cpus = options.cpu !== undefined ? [options.cpu] : options.pid !== undefined ? [-1] : onlineCpuList();
  const info: Omit<LinkInfo, "mechanism"> = {
    kind: "perf_event",
    program: program.name,
    target: describePerfEvent(options),
  };
  const progFd = programFd(program);
  const fds: Fd[] = [];
  let mechanism: LinkMechanism = "bpf_link";
  try {
    for (const cpu of cpus) {
      const perfFd = perfEventOpen(
        attr,
        pid,
        cpu,
        `perf event type ${type} config ${config} cpu ${cpu} pid ${pid}`,
      );
      try {
        const r = attachFds(progFd, perfFd, program.name, options.forceIoctl);
        fds.push(...r.fds);
        mechanism = r.mechanism;
      } catch (e) {
        perfFd.close();
        throw e;
      }
    }
  } catch (e) {
    for (const f of fds.reverse()) f.close();
    if (e instanceof SyscallError && e.call.startsWith("perf_event_open") && e.errnoName === "ENOENT")
      throw SyscallError.wrap(
        `perf_event '${program.name}' → ${info.target}: this kernel or CPU has no such event`,
        e,
        {
          hint: "hardware events are often missing in VMs; the software CPU clock (the default) always exists",
        },
      );
    throw attachError(e, info);
  }
  const cleanups: Array<() => void> = [];
  const link = new Link({ ...info, mechanism }, fds, cleanups);
  const owner = program as { addDependent?: (d: { close(): void }) => () => void };
  if (typeof owner.addDependent === "function") cleanups.push(owner.addDependent(link));
  return link;
}
