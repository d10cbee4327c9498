/**
 * raw_tp/<name> (BPF_RAW_TRACEPOINT_OPEN with the name), tp_btf/<name> and fentry/fexit/fmod_ret/lsm
 * (the target is in the program's attach_btf_id: RAW_TRACEPOINT_OPEN with a NULL name for tp_btf,
 * BPF_LINK_CREATE with the attach type for the trampoline kinds).
 */
import { KfuncKitError, NotSupportedError, SyscallError } from "../../errors.ts";
import { Fd } from "../../sys/fd.ts";
import { cString, withPinned } from "../../sys/perf.ts";
import { Link, type LinkKind } from "../links.ts";
import { ATTACH, linkCreate, rawTracepointOpen } from "./attrs.ts";
import { type AttachableProgram, programFd } from "./program.ts";
import { VM_HINT } from "./unsupported.ts";

export function attachRawTracepoint(program: AttachableProgram, name: string): Link {
  const s = cString(name);
  try {
    const fd = withPinned([s.bytes], () => rawTracepointOpen(programFd(program), s.address));
    return new Link(
      { kind: "raw_tp", program: program.name, target: name, mechanism: "raw_tracepoint_open" },
      [new Fd(fd, `raw_tp link ${program.name}`)],
    );
  } catch (e) {
    throw new KfuncKitError("SYSCALL", `raw_tp '${program.name}' → ${name}: attach failed`, {
      cause: e,
      ...(e instanceof SyscallError && e.errno === 2
        ? { hint: `no raw tracepoint '${name}'; names are tracepoint names without the category (sys_enter)` }
        : {}),
    });
  }
}

export function attachTpBtf(program: AttachableProgram, target: string): Link {
  try {
    const fd = rawTracepointOpen(programFd(program), 0n);
    return new Link({ kind: "tp_btf", program: program.name, target, mechanism: "raw_tracepoint_open" }, [
      new Fd(fd, `tp_btf link ${program.name}`),
    ]);
  } catch (e) {
    throw new KfuncKitError("SYSCALL", `tp_btf '${program.name}' → ${target}: attach failed`, { cause: e });
  }
}

const TRAMPOLINE_ATTACH: Record<string, number> = {
  fentry: ATTACH.TRACE_FENTRY,
  fexit: ATTACH.TRACE_FEXIT,
  fmod_ret: ATTACH.MODIFY_RETURN,
  lsm: ATTACH.LSM_MAC,
};

/** fentry/fexit/fmod_ret/lsm: BPF_LINK_CREATE (the kernel takes the target from the program). */
export function attachTrampoline(
  program: AttachableProgram,
  kind: "fentry" | "fexit" | "fmod_ret" | "lsm",
  target: string,
): Link {
  try {
    const fd = linkCreate({ progFd: programFd(program), attachType: TRAMPOLINE_ATTACH[kind]! });
    return new Link({ kind: kind as LinkKind, program: program.name, target, mechanism: "bpf_link" }, [
      new Fd(fd, `${kind} link ${program.name}`),
    ]);
  } catch (e) {
    if (e instanceof SyscallError && (e.errno === 1 || e.errno === 95 || e.errno === 524)) {
      throw new NotSupportedError(
        `${kind} attach`,
        undefined,
        `${kind} '${program.name}' → ${target}: this kernel refuses BPF trampolines (${e.errnoName})`,
        { cause: e, hint: `use a tp_btf/ program on this host, or run it in a VM: ${VM_HINT}` },
      );
    }
    throw new KfuncKitError("SYSCALL", `${kind} '${program.name}' → ${target}: attach failed`, { cause: e });
  }
}
