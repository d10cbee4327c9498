/**
 * `attach(program, options?)`: picks the attach mechanism from the program's ELF section, the way libbpf's
 * section_defs auto-attach does: the section's definition (src/object/sections.ts) carries its attach kind,
 * and this file has one attacher per kind. Program kinds that have nothing to attach to on their own (xdp,
 * tc, socket filters, syscall) are refused with a pointer to test-run; sections that parse but that
 * kfunc-kit cannot attach (uprobe.multi, kprobe.session, struct_ops…) are refused by name.
 */
import { NotSupportedError, UsageError } from "../../errors.ts";
import { type AttachKind, attachablePrefixes, matchSection, sectionPrefix } from "../../object/sections.ts";
import type { Link } from "../links.ts";
import { attachIter, type IterLink, type IterOptions } from "./iter.ts";
import { attachKprobe, attachKprobeMulti, syscallFunction } from "./kprobe.ts";
import { attachPerfEvent } from "./perf-event.ts";
import type { AttachableProgram } from "./program.ts";
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

/** How one attach kind attaches: `prefix` is the matched section prefix ("kretprobe", "fentry.s"…). */
type Attacher = (program: AttachableProgram, prefix: string, target: Target, options: AttachOptions) => Link;

/** The target the section (or `options.target`) names; `need(what)` throws a usage error when there is none. */
interface Target {
  value: string | undefined;
  need(what: string): string;
}

function perfOptions(options: AttachOptions): { forceIoctl?: boolean; forceTracefs?: boolean } {
  return {
    ...(options.forceIoctl ? { forceIoctl: true } : {}),
    ...(options.forceTracefs ? { forceTracefs: true } : {}),
  };
}

function pidOption(options: AttachOptions): { pid?: number } {
  return options.pid !== undefined ? { pid: options.pid } : {};
}

/** One attacher per attach kind of src/object/sections.ts. */
const ATTACHERS: Record<AttachKind, Attacher> = {
  tracepoint: (p, _prefix, t, o) => attachTracepoint(p, t.need("tracepoint"), perfOptions(o)),
  raw_tracepoint: (p, _prefix, t) => attachRawTracepoint(p, t.need("tracepoint")),
  tp_btf: (p, _prefix, t) => attachTpBtf(p, t.need("tracepoint")),
  trampoline: (p, prefix, t) =>
    attachTrampoline(
      p,
      prefix.replace(/\.s$/, "") as "fentry" | "fexit" | "fmod_ret" | "lsm",
      t.need("function"),
    ),
  kprobe: (p, prefix, t, o) =>
    attachKprobe(p, t.need("function"), { ...perfOptions(o), retprobe: prefix === "kretprobe" }),
  ksyscall: (p, prefix, t, o) =>
    attachKprobe(p, syscallFunction(t.need("syscall")), {
      ...perfOptions(o),
      retprobe: prefix === "kretsyscall",
    }),
  "kprobe.multi": (p, prefix, t) =>
    attachKprobeMulti(p, t.need("function pattern"), prefix === "kretprobe.multi"),
  uprobe: (p, prefix, t, o) =>
    attachUprobe(p, parseUprobeTarget(t.need("binary:function")), {
      ...perfOptions(o),
      retprobe: prefix.startsWith("uretprobe"),
      ...pidOption(o),
    }),
  usdt: (p, prefix, t, o) => {
    if (!t.value)
      throw new UsageError(`program '${p.name}' (SEC("${p.section}")): no USDT probe to attach to`, {
        hint: `name it in the section (SEC("${prefix}/<binary>:<provider>:<name>")), pass { target: "<binary>:<provider>:<name>" }, call attachUsdt(program, { binary, provider, name, pid }), or run it with kfunc run --usdt <binary>:<provider>:<name>`,
      });
    return attachUsdt(p, { ...parseUsdtTarget(t.value), ...pidOption(o) });
  },
  iter: (p, _prefix, t, o) => attachIter(p, t.need("iterator"), o) satisfies IterLink,
  // libbpf has no auto-attach here (the event is the caller's choice): the default samples CPU clock
  perf_event: (p, _prefix, _t, o) =>
    attachPerfEvent(p, { ...pidOption(o), ...(o.forceIoctl ? { forceIoctl: true } : {}) }),
  none: (p, prefix) => {
    throw new NotSupportedError(
      `attach of SEC("${p.section}")`,
      undefined,
      `program '${p.name}' (SEC("${p.section}")): kfunc-kit does not attach ${prefix} programs`,
      { hint: "run it with BPF_PROG_TEST_RUN instead: kfunc test-run <obj.o> --program " + p.name },
    );
  },
  unsupported: (p, prefix) => {
    throw new NotSupportedError(
      `attach of SEC("${p.section}")`,
      undefined,
      `program '${p.name}' (SEC("${p.section}")): kfunc-kit cannot attach ${prefix} programs yet`,
      {
        hint:
          "load it with loadCollection and attach its fd yourself, or use a section kfunc-kit attaches: " +
          attachablePrefixes().join(", "),
      },
    );
  },
};

/** Attaches `program` as its section says; `iter/…` programs return an {@link IterLink}. */
export function attach(program: AttachableProgram, options: AttachOptions = {}): Link {
  const match = matchSection(program.section);
  if (!match)
    throw new UsageError(`program '${program.name}': unknown section '${program.section}' for attach`, {
      hint: `attachable prefixes: ${attachablePrefixes().join(", ")}`,
    });
  const prefix = sectionPrefix(match.def);
  const value = options.target ?? match.attachTarget;
  const target: Target = {
    value,
    need(what) {
      if (!value)
        throw new UsageError(
          `program '${program.name}' (SEC("${program.section}")): no ${what} to attach to`,
          {
            hint: `name it in the section (SEC("${prefix}/<${what}>")) or pass { target }`,
          },
        );
      return value;
    },
  };
  return ATTACHERS[match.def.attach](program, prefix, target, options);
}
