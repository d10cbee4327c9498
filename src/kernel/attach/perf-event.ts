/**
 * Attaching a program to an open perf event (tracepoint, kprobe, uprobe): BPF_LINK_CREATE with
 * BPF_PERF_EVENT (Linux ≥ 5.15), else PERF_EVENT_IOC_SET_BPF + PERF_EVENT_IOC_ENABLE.
 */
import { SyscallError } from "../../errors.ts";
import { Fd } from "../../sys/fd.ts";
import { ioctl, PERF_EVENT_IOC } from "../../sys/ioctl.ts";
import { Link, type LinkInfo } from "../links.ts";
import { ATTACH, linkCreate } from "./attrs.ts";

const FALLBACK_ERRNOS = new Set([22, 95, 524]); // EINVAL, EOPNOTSUPP, ENOTSUPP: kernel without perf links

export interface PerfAttachOptions {
  /** Skip BPF_LINK_CREATE and use the ioctl path (tests use it to cover the fallback). */
  forceIoctl?: boolean;
  cleanups?: Array<() => void>;
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
    if (!options.forceIoctl) {
      try {
        const fd = linkCreate({ progFd, targetFd: perfFd.value, attachType: ATTACH.PERF_EVENT });
        return new Link(
          { ...info, mechanism: "bpf_link" },
          [perfFd, new Fd(fd, `link ${info.program}`)],
          cleanups,
        );
      } catch (e) {
        if (!(e instanceof SyscallError) || !FALLBACK_ERRNOS.has(e.errno)) throw e;
      }
    }
    ioctl(perfFd.value, PERF_EVENT_IOC.SET_BPF, progFd);
    ioctl(perfFd.value, PERF_EVENT_IOC.ENABLE, 0);
    // closing the perf event fd detaches the program
    return new Link({ ...info, mechanism: "perf_event_ioctl" }, [perfFd], cleanups);
  } catch (e) {
    perfFd.close();
    for (const c of cleanups) c();
    const hint =
      e instanceof SyscallError && e.errno === 22
        ? "does the program type match the event (a tracepoint/ program on a tracepoint, kprobe/ on a kprobe)?"
        : undefined;
    throw SyscallError.wrap(
      `${info.kind} '${info.program}' → ${info.target}: attach failed`,
      e,
      hint ? { hint } : {},
    );
  }
}
