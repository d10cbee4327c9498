/**
 * Turns a rejected BPF_PROG_LOAD into a VerifierError: the log's relevant tail (without the "processed N
 * insns" trailer), the C source line of the failing instruction, our own poisoned instructions translated
 * back (libbpf fixup_verifier_log), and hints only when the log or errno supports them.
 */
import type { Btf } from "../btf/index.ts";
import { VerifierError } from "../errors.ts";
import { CORE_POISON_IMM } from "../link/core.ts";
import { KFUNC_POISON_BASE } from "../link/relocate.ts";
import type { LineInfoSpec } from "../object/types.ts";
import { BPF_PROG_TYPE } from "../sys/constants.ts";
import { epermHint, type PermissionEvidence } from "./capabilities.ts";

export interface LoadFailureContext {
  program: string;
  section: string;
  progType: number;
  errnoName: string;
  log: string;
  lineInfo: LineInfoSpec[];
  btf: Btf | undefined;
  /** Extern names by index (for poisoned kfunc calls). */
  externNames: string[];
  /** Poisoned CO-RE relocations: insn index → explanation. */
  corePoison: Map<number, string>;
  /** Kernel release, for hints. */
  kernelRelease: string;
  /** Capabilities and lockdown, for the EPERM hint (unknown when absent). */
  permissions?: PermissionEvidence;
}

const TRAILER =
  /^(processed \d+ insns|verification time|stack depth|mark_read|max_states_per_insn|peak_states)/;

export interface SourceLine {
  file: string;
  line: number;
  column: number;
  text: string;
}

/** The source line for instruction `insn`: the last line_info at or before it. */
export function sourceLineFor(
  insn: number,
  lineInfo: LineInfoSpec[],
  btf: Btf | undefined,
): SourceLine | undefined {
  if (!btf) return undefined;
  let best: LineInfoSpec | undefined;
  for (const li of lineInfo) if (li.insnIndex <= insn && (!best || li.insnIndex >= best.insnIndex)) best = li;
  if (!best) return undefined;
  return {
    file: btf.string(best.fileNameOff),
    line: best.lineCol >>> 10,
    column: best.lineCol & 0x3ff,
    text: btf.string(best.lineOff).trim(),
  };
}

/** Rewrites poisoned calls in the log, as libbpf does. */
export function fixupLog(lines: string[], externNames: string[], corePoison: Map<number, string>): string[] {
  return lines.map((l) => {
    const m = /invalid func unknown#(\d+)/.exec(l);
    if (!m) return l;
    const imm = Number(m[1]);
    if (imm === CORE_POISON_IMM) {
      const at = /^(\d+):/.exec(l);
      const why = at ? corePoison.get(Number(at[1])) : undefined;
      return `${l.replace(m[0], "CO-RE relocation failed")}${why ? `: ${why}` : ""}`;
    }
    const name = externNames[imm - KFUNC_POISON_BASE];
    return name !== undefined ? l.replace(m[0], `kfunc '${name}' is referenced but wasn't resolved`) : l;
  });
}

const TRAMPOLINE_TYPES = new Set<number>([BPF_PROG_TYPE.TRACING, BPF_PROG_TYPE.LSM, BPF_PROG_TYPE.EXT]);

function hintFor(ctx: LoadFailureContext, lines: string[], lastInsn: number | undefined): string | undefined {
  const text = lines.join("\n");
  let m = /calling kernel function (\S+) is not allowed/.exec(text);
  if (m) {
    const kprobe = ctx.progType === BPF_PROG_TYPE.KPROBE;
    return (
      `kfunc '${m[1]}' is not registered for this program type: a module registers kfuncs per hook with ` +
      "register_btf_kfunc_id_set(BPF_PROG_TYPE_TRACING | BPF_PROG_TYPE_SYSCALL | …, &set); " +
      (kprobe
        ? "registering for BPF_PROG_TYPE_KPROBE needs Linux >= 6.10 (earlier it returns -EINVAL): register for TRACING and use tp_btf/fentry instead"
        : "is the program type one it was registered for?")
    );
  }
  if (/is referenced but wasn't resolved/.test(text))
    return "the weak kfunc is missing from this kernel: guard the call with `if (bpf_ksym_exists(kfunc))`";
  if (/CO-RE relocation failed/.test(text))
    return "the kernel's types differ from the ones compiled against: guard the access with bpf_core_field_exists()";
  m = /Unreleased reference id=(\d+)/.exec(text);
  if (m)
    return "a pointer returned by an acquiring kfunc (KF_ACQUIRE, e.g. bpf_task_from_pid) is not released on every path: call its release kfunc (e.g. bpf_task_release) before returning";
  m = /R(\d+) invalid mem access '([a-z_]*or_null[a-z_]*)'/.exec(text);
  if (m)
    return `R${m[1]} may be NULL (${m[2]}): add a NULL check before dereferencing (kfuncs flagged KF_RET_NULL can return NULL)`;
  m = /program must be sleepable to call sleepable kfunc (\S+)/.exec(text);
  if (m)
    return `'${m[1]}' is KF_SLEEPABLE: use a sleepable section (fentry.s/, lsm.s/, uprobe.s/, iter.s/, syscall)`;
  if (/Syscall programs can only be sleepable/.test(text))
    return 'load SEC("syscall") programs with BPF_F_SLEEPABLE';
  if (ctx.log.trim() === "" && ctx.errnoName === "EPERM" && TRAMPOLINE_TYPES.has(ctx.progType))
    return epermHint(
      "loading fentry/fexit/fmod_ret/lsm",
      "does this kernel refuse BPF trampolines (the load fails with EPERM and an empty log)? " +
        "use tp_btf/ or raw_tp/ here, or run it in a VM: `kfunc vm run -- …`",
      ctx.permissions ?? { caps: undefined, lockdown: undefined },
    );
  void lastInsn;
  return undefined;
}

/** Builds the VerifierError for a failed load. */
export function verifierError(ctx: LoadFailureContext): VerifierError {
  const raw = ctx.log.split("\n").filter((l) => l.trim() !== "");
  const lines = fixupLog(raw, ctx.externNames, ctx.corePoison);
  const meaningful = lines.filter((l) => !TRAILER.test(l));
  let lastInsn: number | undefined;
  for (const l of meaningful) {
    const m = /^(\d+): \(/.exec(l);
    if (m) lastInsn = Number(m[1]);
  }
  const tail = meaningful.slice(-2).join("\n  ");
  const src = lastInsn === undefined ? undefined : sourceLineFor(lastInsn, ctx.lineInfo, ctx.btf);
  const parts = [`program '${ctx.program}' (section '${ctx.section}'): load: ${ctx.errnoName}`];
  if (tail) parts.push(`verifier: ${tail}`);
  else parts.push("the kernel wrote no verifier log");
  if (src) parts.push(`at ${src.file}:${src.line}: ${src.text}`);
  const hint = hintFor(ctx, lines, lastInsn);
  const err = new VerifierError(ctx.program, lines, parts.join("\n  "), hint ? { hint } : {});
  Object.defineProperty(err, "sourceLine", { value: src, enumerable: true });
  Object.defineProperty(err, "insnIndex", { value: lastInsn, enumerable: true });
  return err;
}

/** Formats a full verifier log with libbpf-style BEGIN/END markers. */
export function formatVerifierLog(program: string, log: string[]): string {
  return [`program '${program}': -- BEGIN PROG LOAD LOG --`, ...log, "-- END PROG LOAD LOG --"].join("\n");
}
