/**
 * kprobe/kretprobe (and ksyscall/kretsyscall): perf_event_open on the kprobe PMU with config1 = pointer
 * to the function name, config2 = offset (libbpf perf_event_open_probe); without the PMU, the legacy
 * tracefs path: a uniquely named `p:`/`r:` line in kprobe_events, a tracepoint perf event on it, and the
 * event removed again when the link closes. kprobe.multi: BPF_LINK_CREATE with a symbol list.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { type KfuncKitError, NotSupportedError, SyscallError, UsageError } from "../../errors.ts";
import { log } from "../../log.ts";
import type { Fd } from "../../sys/fd.ts";
import { openProbePmuEvent, pmuType } from "../../sys/perf.ts";
import { kallsymsText, parseKallsyms } from "../host.ts";
import { Link } from "../links.ts";
import { ATTACH, BPF_F_KPROBE_MULTI, linkCreate } from "./attrs.ts";
import { attachToPerfEvent, type PerfAttachOptions } from "./perf-event.ts";
import { type AttachableProgram, programFd } from "./program.ts";
import { openTracepointEvent, tracefsRoot } from "./tracefs.ts";
import { VM_HINT } from "./unsupported.ts";

export interface KprobeOptions extends PerfAttachOptions {
  retprobe?: boolean;
  /** Use kprobe_events even when the PMU exists (tests cover the fallback this way). */
  forceTracefs?: boolean;
}

/** "do_unlinkat", "do_unlinkat+0x10" → { func, offset }. */
export function parseKprobeTarget(target: string): { func: string; offset: number } {
  const m = /^([A-Za-z_.$][\w.$]*)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(target);
  if (!m) {
    throw new UsageError(`kprobe target '${target}' is not <function>[+<offset>]`, {
      hint: 'write the section as SEC("kprobe/do_unlinkat") or SEC("kprobe/do_unlinkat+0x10")',
    });
  }
  return { func: m[1]!, offset: m[2] ? Number(m[2]) : 0 };
}

let eventCounter = 0;
const GROUP = "kfunc_kit";

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9_]/g, "_");
}

export function attachKprobe(program: AttachableProgram, target: string, options: KprobeOptions = {}): Link {
  const { func, offset } = parseKprobeTarget(target);
  const retprobe = options.retprobe ?? false;
  const kind = retprobe ? "kretprobe" : "kprobe";
  const info = { kind, program: program.name, target: offset ? `${func}+${offset}` : func } as const;
  const pmu = options.forceTracefs ? undefined : pmuType("kprobe");
  if (pmu !== undefined) {
    let fd: Fd;
    try {
      fd = openProbePmuEvent("kprobe", pmu, {
        retprobe,
        name: func,
        offset,
        pid: -1,
        cpu: 0,
        what: `${kind} ${info.target}`,
      });
    } catch (e) {
      throw probeError(kind, program.name, info.target, e);
    }
    return attachToPerfEvent(programFd(program), fd, { ...info, probeVia: "pmu" }, options);
  }
  return attachViaTracefs(program, "kprobe", retprobe, `${func}+${offset}`, info, options);
}

/** Shared with uprobes: a `p:`/`r:` event in <tracefs>/<kind>_events, removed on close. */
export function attachViaTracefs(
  program: AttachableProgram,
  probe: "kprobe" | "uprobe",
  retprobe: boolean,
  location: string,
  info: { kind: "kprobe" | "kretprobe" | "uprobe" | "uretprobe"; program: string; target: string },
  options: PerfAttachOptions,
): Link {
  let root: string;
  try {
    root = tracefsRoot();
  } catch (e) {
    throw noProbes(probe, info, e);
  }
  const eventsFile = `${root}/${probe}_events`;
  if (!existsSync(eventsFile)) throw noProbes(probe, info, undefined);
  const group = GROUP;
  removeStaleEvents(eventsFile);
  // the `_<pid>_<n>` tail is never truncated: removeStaleEvents() reads the owner from it
  const event = `${sanitize(`${info.kind}_${info.target}`).slice(0, 40)}_${process.pid}_${eventCounter++}`;
  try {
    appendFileSync(eventsFile, `${retprobe ? "r" : "p"}:${group}/${event} ${location}\n`);
  } catch (e) {
    throw SyscallError.wrap(
      `${info.kind} '${info.program}' → ${info.target}: ${eventsFile}: cannot add probe`,
      e,
      {
        hint:
          probe === "kprobe"
            ? `is '${info.target.split("+")[0]}' a traceable kernel function? (grep it in /proc/kallsyms)`
            : "does the binary exist and is the offset inside its code?",
      },
    );
  }
  const remove = () => appendFileSync(eventsFile, `-:${group}/${event}\n`);
  let fd: Fd;
  try {
    fd = openTracepointEvent(group, event, `${info.kind} ${info.target} (tracefs ${group}/${event})`);
  } catch (e) {
    remove();
    throw probeError(info.kind, info.program, info.target, e);
  }
  // the Link is in the process registry: closed (and the event removed) at exit, and on signals when
  // installExitHandlers() was called
  return attachToPerfEvent(
    programFd(program),
    fd,
    { ...info, probeVia: "tracefs" },
    {
      ...options,
      cleanups: [remove],
    },
  );
}

/**
 * Removes our events left behind by processes that no longer exist (killed before they could clean up:
 * SIGKILL, or a signal without installExitHandlers()). Event names end in `_<pid>_<n>`.
 */
export function removeStaleEvents(eventsFile: string): string[] {
  let text: string;
  try {
    text = readFileSync(eventsFile, "utf8");
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const m of text.matchAll(new RegExp(`^[pr]\\d*:${GROUP}/(\\S+_(\\d+)_\\d+) `, "gm"))) {
    const [, event, pid] = m;
    if (Number(pid) === process.pid || existsSync(`/proc/${pid}`)) continue;
    try {
      appendFileSync(eventsFile, `-:${GROUP}/${event}\n`);
      removed.push(event!);
    } catch {
      // still in use (a perf event of a process in another pid namespace): leave it
    }
  }
  if (removed.length) log.info(`${eventsFile}: removed ${removed.length} stale event(s) of dead processes`);
  return removed;
}

function noProbes(
  probe: "kprobe" | "uprobe",
  info: { kind: string; program: string; target: string },
  cause: unknown,
) {
  return new NotSupportedError(
    `${probe}s`,
    undefined,
    `${info.kind} '${info.program}' → ${info.target}: this kernel has neither a ${probe} PMU ` +
      `(/sys/bus/event_source/devices/${probe}/type) nor ${probe}_events in tracefs`,
    { ...(cause === undefined ? {} : { cause }), hint: `run it in a VM where ${probe}s work: ${VM_HINT}` },
  );
}

function probeError(kind: string, program: string, target: string, e: unknown): KfuncKitError {
  const hint =
    e instanceof SyscallError && (e.errno === 2 || e.errno === 22)
      ? `is '${target.split("+")[0]}' a kernel function that can be probed? (grep it in /proc/kallsyms; inlined and notrace functions cannot)`
      : undefined;
  return SyscallError.wrap(
    `${kind} '${program}' → ${target}: cannot create the probe`,
    e,
    hint ? { hint } : {},
  );
}

/** ksyscall/<name>: a kprobe on the architecture's syscall entry (__x64_sys_<name>). */
export function syscallFunction(name: string): string {
  let plain = false;
  for (const s of parseKallsyms(kallsymsText() ?? "")) {
    if (s.name === `__x64_sys_${name}`) return s.name;
    if (s.name === `sys_${name}`) plain = true;
  }
  return plain ? `sys_${name}` : `__x64_sys_${name}`;
}

/**
 * kprobe.multi/<pattern>: one link on many functions. The pattern is a comma-separated list of names or
 * globs (`*`, `?`), matched against text symbols in /proc/kallsyms.
 */
export function attachKprobeMulti(program: AttachableProgram, pattern: string, retprobe = false): Link {
  const kind = retprobe ? "kretprobe.multi" : "kprobe.multi";
  const names = resolveMultiPattern(pattern);
  if (names.length === 0) {
    throw new UsageError(`${kind} '${program.name}': pattern '${pattern}' matches no kernel function`, {
      hint: "check the names against /proc/kallsyms",
    });
  }
  try {
    const fd = linkCreate(
      {
        progFd: programFd(program),
        attachType: ATTACH.TRACE_KPROBE_MULTI,
        kprobeMulti: { syms: names, flags: retprobe ? BPF_F_KPROBE_MULTI.RETURN : 0 },
      },
      `${kind} link ${program.name}`,
    );
    return new Link({ kind, program: program.name, target: pattern, mechanism: "bpf_link" }, [fd]);
  } catch (e) {
    if (e instanceof SyscallError && (e.errno === 95 || e.errno === 524)) {
      throw new NotSupportedError(
        "kprobe.multi",
        "5.18",
        `${kind} '${program.name}' → ${pattern}: ${e.errnoName}: this kernel has no fprobe-based multi-kprobes`,
        {
          cause: e,
          hint: `use kprobe/ per function, or run it in a VM: ${VM_HINT}`,
        },
      );
    }
    throw SyscallError.wrap(`${kind} '${program.name}' → ${pattern}: attach failed`, e);
  }
}

function resolveMultiPattern(pattern: string): string[] {
  const parts = pattern.split(",").filter(Boolean);
  if (!parts.some((p) => /[*?]/.test(p))) return parts;
  const res = parts.map(
    (p) =>
      new RegExp(
        `^${p
          .replace(/[.+^${}()|[\]\\]/g, "\\$&")
          .replace(/\*/g, ".*")
          .replace(/\?/g, ".")}$`,
      ),
  );
  const out = new Set<string>();
  for (const s of parseKallsyms(kallsymsText() ?? "")) {
    if (s.type !== "t" && s.type !== "T") continue;
    if (res.some((r) => r.test(s.name))) out.add(s.name);
  }
  return [...out];
}
