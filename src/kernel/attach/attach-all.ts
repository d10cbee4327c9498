/**
 * Attaching several programs of one object at once (what `kfunc run` does): every attachable program,
 * or the named ones; all-or-nothing (a failure detaches what was attached before it).
 */
import { UsageError } from "../../errors.ts";
import { type AttachKind, matchSection, sectionPrefix } from "../../object/sections.ts";
import { closeAll, type Link } from "../links.ts";
import { type AttachOptions, attach } from "./attach.ts";
import type { AttachableProgram } from "./program.ts";

/** The section's attach kind, "unsupported" for a section no definition matches. */
function attachKindOf(section: string): AttachKind {
  return matchSection(section)?.def.attach ?? "unsupported";
}

function attachesItself(kind: AttachKind): boolean {
  return kind !== "none" && kind !== "unsupported" && kind !== "perf_event";
}

/**
 * True when attach() can attach this section without extra options: its kind attaches on its own (not
 * perf_event, whose event is the caller's choice) and the section names its target.
 */
export function isAutoAttachable(section: string): boolean {
  const m = matchSection(section);
  return m !== undefined && attachesItself(m.def.attach) && m.attachTarget !== undefined;
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
  const m = matchSection(section);
  const kind = attachKindOf(section);
  const prefix = m ? sectionPrefix(m.def) : section.split("/")[0]!;
  if (kind === "usdt" && m?.attachTarget === undefined)
    return `SEC("${section}") names no probe: attach it with --usdt <binary>:<provider>:<name> (or attachUsdt)`;
  if (attachesItself(kind) && m?.attachTarget === undefined) return `SEC("${section}") names no target`;
  if (kind === "unsupported") return `kfunc-kit cannot attach ${prefix} programs yet`;
  return `${prefix} programs are not attached; run them with kfunc test-run`;
}
