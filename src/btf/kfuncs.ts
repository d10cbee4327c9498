/**
 * kfunc discovery from BTF: since Linux 6.11 (pahole ≥ 1.27) every kfunc FUNC carries a DECL_TAG
 * "bpf_kfunc" (and "bpf_fastcall" for the few fastcall ones). Older kernels have the FUNCs but no tags:
 * there the kfunc sets only live in `.BTF_ids` of the kernel/module image.
 */
import type { Btf } from "./btf.ts";

import { flatOf } from "./c-flat.ts";
import { cFuncPrototype } from "./c-printer.ts";
import { kfuncTags } from "./kfunc-tags.ts";

export interface KfuncInfo {
  name: string;
  /** The FUNC's type id (in split BTF: a global id, after the base's). */
  id: number;
  /** C prototype without `extern`/`;`: `struct task_struct *bpf_task_from_pid(s32 pid)`. */
  prototype: string;
  /** Tagged "bpf_fastcall" too. */
  fastcall: boolean;
}

/**
 * FUNCs tagged "bpf_kfunc", sorted by name. For split BTF (a module) only the module's own kfuncs.
 * Empty when the BTF has no tags at all: check {@link hasKfuncTags} to tell "none" from "not tagged".
 */
export function findKfuncs(btf: Btf): KfuncInfo[] {
  const tags = kfuncTags(flatOf(btf), btf.firstId);
  const ids = [...new Set(tags.kfuncs)];
  const fast = new Set(tags.fastcall);
  const out = ids.map((id) => ({
    name: btf.typeById(id).name,
    id,
    prototype: cFuncPrototype(btf, id),
    fastcall: fast.has(id),
  }));
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id));
}

/**
 * Whether the BTF carries "bpf_kfunc" decl tags (own types; with `includeBase`, the base's too).
 * False on kernels < 6.11 or built with pahole < 1.27, even though they have kfuncs.
 */
export function hasKfuncTags(btf: Btf, options: { includeBase?: boolean } = {}): boolean {
  if (kfuncTags(flatOf(btf), btf.firstId).kfuncs.length > 0) return true;
  return options.includeBase === true && btf.base !== undefined && hasKfuncTags(btf.base, options);
}
