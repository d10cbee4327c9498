/**
 * `attach(program, options?)`: picks the attach mechanism from the program's ELF section, the way libbpf's
 * section_defs auto-attach does. Program kinds that have nothing to attach to on their own (xdp, tc,
 * socket filters, syscall) are refused with a pointer to test-run.
 */
import { NotSupportedError, UsageError } from "../../errors.ts";
import type { Link } from "../links.ts";
import { attachIter, type IterLink, type IterOptions } from "./iter.ts";
import { attachKprobe, attachKprobeMulti, syscallFunction } from "./kprobe.ts";
import { attachPerfEvent } from "./perf-event.ts";
import { type AttachableProgram, splitSection } from "./program.ts";
import { attachRawTracepoint, attachTpBtf, attachTrampoline } from "./raw-tp.ts";
import { parseUprobeTarget } from "./symbols.ts";
import { attachTracepoint } from "./tracepoint.ts";
import { attachUprobe } from "./uprobe.ts";
import { attachUsdt, parseUsdtTarget } from "./usdt.ts";

export interface AttachOptions extends IterOptions {
  /** Overrides what the section names (required for a bare SEC("kprobe") or SEC("uprobe")). */
  target?: string;
  /** uprobe, perf_event: only this process. iter/task: only this process's threads. */
  pid?: number;
  /** Use PERF_EVENT_IOC_SET_BPF instead of a perf bpf_link. */
  forceIoctl?: boolean;
  /** kprobe/uprobe: use tracefs kprobe_events/uprobe_events instead of the PMU. */
  forceTracefs?: boolean;
}

const NO_ATTACH = new Set([
  "xdp",
  "xdp.frags",
  "tc",
  "classifier",
  "action",
  "socket",
  "syscall",
  "sk_skb",
  "sk_msg",
  "flow_dissector",
]);

/** Attaches `program` as its section says; `iter/…` programs return an {@link IterLink}. */
export function attach(program: AttachableProgram, options: AttachOptions = {}): Link {
  const { prefix, rest } = splitSection(program.section);
  const target = options.target ?? rest;
  const need = (what: string) => {
    if (!target) {
      throw new UsageError(`program '${program.name}' (SEC("${program.section}")): no ${what} to attach to`, {
        hint: `name it in the section (SEC("${prefix}/<${what}>")) or pass { target }`,
      });
    }
    return target;
  };
  const perf = {
    ...(options.forceIoctl ? { forceIoctl: true } : {}),
    ...(options.forceTracefs ? { forceTracefs: true } : {}),
  };
  switch (prefix) {
    case "tracepoint":
    case "tp":
      return attachTracepoint(program, need("tracepoint"), perf);
    case "raw_tracepoint":
    case "raw_tp":
    case "raw_tracepoint.w":
    case "raw_tp.w":
      return attachRawTracepoint(program, need("tracepoint"));
    case "tp_btf":
      return attachTpBtf(program, need("tracepoint"));
    case "fentry":
    case "fentry.s":
    case "fexit":
    case "fexit.s":
    case "fmod_ret":
    case "fmod_ret.s":
    case "lsm":
    case "lsm.s":
      return attachTrampoline(
        program,
        prefix.replace(/\.s$/, "") as "fentry" | "fexit" | "fmod_ret" | "lsm",
        need("function"),
      );
    case "kprobe":
    case "kretprobe":
      return attachKprobe(program, need("function"), { ...perf, retprobe: prefix === "kretprobe" });
    case "ksyscall":
    case "kretsyscall":
      return attachKprobe(program, syscallFunction(need("syscall")), {
        ...perf,
        retprobe: prefix === "kretsyscall",
      });
    case "kprobe.multi":
    case "kretprobe.multi":
      return attachKprobeMulti(program, need("function pattern"), prefix === "kretprobe.multi");
    case "uprobe":
    case "uprobe.s":
    case "uretprobe":
    case "uretprobe.s": {
      const t = parseUprobeTarget(need("binary:function"));
      return attachUprobe(program, t, {
        ...perf,
        retprobe: prefix.startsWith("uretprobe"),
        ...(options.pid !== undefined ? { pid: options.pid } : {}),
      });
    }
    case "usdt":
    case "usdt.s": {
      if (!target)
        throw new UsageError(
          `program '${program.name}' (SEC("${program.section}")): no USDT probe to attach to`,
          {
            hint: `name it in the section (SEC("${prefix}/<binary>:<provider>:<name>")), pass { target: "<binary>:<provider>:<name>" }, call attachUsdt(program, { binary, provider, name, pid }), or run it with kfunc run --usdt <binary>:<provider>:<name>`,
          },
        );
      return attachUsdt(program, {
        ...parseUsdtTarget(target),
        ...(options.pid !== undefined ? { pid: options.pid } : {}),
      });
    }
    case "iter":
    case "iter.s":
      return attachIter(program, need("iterator"), options) satisfies IterLink;
    case "perf_event":
      // libbpf has no auto-attach here (the event is the caller's choice): the default samples CPU clock
      return attachPerfEvent(program, {
        ...(options.pid !== undefined ? { pid: options.pid } : {}),
        ...(options.forceIoctl ? { forceIoctl: true } : {}),
      });
    default:
      if (NO_ATTACH.has(prefix) || prefix.startsWith("xdp") || prefix.startsWith("cgroup")) {
        throw new NotSupportedError(
          `attach of SEC("${program.section}")`,
          undefined,
          `program '${program.name}' (SEC("${program.section}")): kfunc-kit does not attach ${prefix} programs`,
          { hint: "run it with BPF_PROG_TEST_RUN instead: kfunc test-run <obj.o> --program " + program.name },
        );
      }
      throw new UsageError(`program '${program.name}': unknown section '${program.section}' for attach`, {
        hint: "attachable prefixes: tracepoint/, tp/, raw_tp/, tp_btf/, fentry/, fexit/, fmod_ret/, lsm/, kprobe/, kretprobe/, ksyscall/, kprobe.multi/, uprobe/, uretprobe/, usdt/, iter/, perf_event",
      });
  }
}
