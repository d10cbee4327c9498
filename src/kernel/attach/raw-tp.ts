/**
 * raw_tp/<name> (BPF_RAW_TRACEPOINT_OPEN with the name), tp_btf/<name> and fentry/fexit/fmod_ret/lsm
 * (the target is in the program's attach_btf_id: RAW_TRACEPOINT_OPEN with a NULL name for tp_btf,
 * BPF_LINK_CREATE with the attach type for the trampoline kinds).
 */
import { errnoOf, NotSupportedError, SyscallError } from "../../errors.ts";
import { ERRNO, errnoName } from "../../sys/errno.ts";
import { epermHint, permissionEvidence } from "../capabilities.ts";
import { Link, type LinkKind } from "../links.ts";
import { ATTACH, linkCreate, rawTracepointOpen } from "./attrs.ts";
import { type AttachableProgram, programFd } from "./program.ts";
import { VM_HINT } from "./unsupported.ts";

export function attachRawTracepoint(program: AttachableProgram, name: string): Link {
  try {
    const fd = rawTracepointOpen(programFd(program), name, `raw_tp link ${program.name}`);
    return new Link(
      { kind: "raw_tp", program: program.name, target: name, mechanism: "raw_tracepoint_open" },
      [fd],
    );
  } catch (e) {
    throw SyscallError.wrap(`raw_tp '${program.name}' → ${name}: attach failed`, e, {
      ...(errnoOf(e) === ERRNO.ENOENT
        ? { hint: `no raw tracepoint '${name}'; names are tracepoint names without the category (sys_enter)` }
        : errnoOf(e) === ERRNO.EPERM
          ? { hint: epermHint("raw_tp", "is the program type allowed to attach here?", permissionEvidence()) }
          : {}),
    });
  }
}

export function attachTpBtf(program: AttachableProgram, target: string): Link {
  try {
    const fd = rawTracepointOpen(programFd(program), null, `tp_btf link ${program.name}`);
    return new Link({ kind: "tp_btf", program: program.name, target, mechanism: "raw_tracepoint_open" }, [
      fd,
    ]);
  } catch (e) {
    throw SyscallError.wrap(`tp_btf '${program.name}' → ${target}: attach failed`, e);
  }
}

const TRAMPOLINE_ADVICE = `does this kernel refuse BPF trampolines? use a tp_btf/ program here, or run it in a VM: ${VM_HINT}`;

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
    const fd = linkCreate(
      { progFd: programFd(program), attachType: TRAMPOLINE_ATTACH[kind]! },
      `${kind} link ${program.name}`,
    );
    return new Link({ kind: kind as LinkKind, program: program.name, target, mechanism: "bpf_link" }, [fd]);
  } catch (e) {
    const errno = errnoOf(e);
    if (errno === ERRNO.EOPNOTSUPP || errno === ERRNO.ENOTSUPP) {
      throw new NotSupportedError(
        `${kind} attach`,
        undefined,
        `${kind} '${program.name}' → ${target}: this kernel refuses BPF trampolines (${errnoName(errno)})`,
        { cause: e, hint: `use a tp_btf/ program on this host, or run it in a VM: ${VM_HINT}` },
      );
    }
    // EPERM is not conclusive: a missing capability looks the same as a kernel that refuses
    throw SyscallError.wrap(
      `${kind} '${program.name}' → ${target}: attach failed`,
      e,
      errno === ERRNO.EPERM ? { hint: epermHint(kind, TRAMPOLINE_ADVICE, permissionEvidence()) } : {},
    );
  }
}
