/**
 * Attaching several programs of one object at once (what `kfunc run` does): every attachable program,
 * or the named ones; all-or-nothing (a failure detaches what was attached before it).
 */
import { UsageError } from "../../errors.ts";
import { closeAll, type Link } from "../links.ts";
import { type AttachOptions, attach } from "./attach.ts";
import { type AttachableProgram, splitSection } from "./program.ts";

/** Section prefixes attach() handles on its own (libbpf's auto-attach set). */
const ATTACHABLE = new Set([
  "tracepoint",
  "tp",
  "raw_tracepoint",
  "raw_tp",
  "raw_tracepoint.w",
  "raw_tp.w",
  "tp_btf",
  "fentry",
  "fentry.s",
  "fexit",
  "fexit.s",
  "fmod_ret",
  "fmod_ret.s",
  "lsm",
  "lsm.s",
  "kprobe",
  "kretprobe",
  "ksyscall",
  "kretsyscall",
  "kprobe.multi",
  "kretprobe.multi",
  "uprobe",
  "uprobe.s",
  "uretprobe",
  "uretprobe.s",
  "usdt",
  "usdt.s",
  "iter",
  "iter.s",
]);

/** True when attach() can attach this section without extra options (it names its target). */
export function isAutoAttachable(section: string): boolean {
  const { prefix, rest } = splitSection(section);
  return ATTACHABLE.has(prefix) && rest !== "";
}

export interface AttachAllResult {
  links: Link[];
  /** Programs left alone, with why (xdp, syscall, a bare SEC("kprobe")…). */
  skipped: Array<{ name: string; section: string; reason: string }>;
}

/**
 * Attaches `names` (all must exist and be attachable), or every auto-attachable program when `names` is
 * empty. On failure, detaches everything attached so far and rethrows.
 */
export function attachAll(
  programs: ReadonlyMap<string, AttachableProgram>,
  names: string[] = [],
  options: AttachOptions = {},
): AttachAllResult {
  const skipped: AttachAllResult["skipped"] = [];
  let chosen: AttachableProgram[];
  if (names.length > 0) {
    chosen = names.map((n) => {
      const p = programs.get(n);
      if (!p) {
        throw new UsageError(`no program named '${n}'`, {
          hint: `programs: ${[...programs.keys()].join(", ") || "(none)"}`,
        });
      }
      return p;
    });
  } else {
    chosen = [];
    for (const p of programs.values()) {
      if (isAutoAttachable(p.section)) chosen.push(p);
      else skipped.push({ name: p.name, section: p.section, reason: notAttachableReason(p.section) });
    }
  }
  const links: Link[] = [];
  try {
    for (const p of chosen) links.push(attach(p, options));
  } catch (e) {
    closeAll(links);
    throw e;
  }
  return { links, skipped };
}

export function notAttachableReason(section: string): string {
  const { prefix, rest } = splitSection(section);
  if ((prefix === "usdt" || prefix === "usdt.s") && rest === "")
    return `SEC("${section}") names no probe: attach it with --usdt <binary>:<provider>:<name> (or attachUsdt)`;
  if (ATTACHABLE.has(prefix) && rest === "") return `SEC("${section}") names no target`;
  return `${prefix} programs are not attached; run them with kfunc test-run`;
}
