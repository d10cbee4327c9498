/**
 * The one kfunc discovery over BTF records: since Linux 6.11 (pahole ≥ 1.27) every kfunc FUNC carries a
 * whole-type DECL_TAG "bpf_kfunc" (and "bpf_fastcall" for the few fastcall ones). Used by findKfuncs
 * (src/btf/kfuncs.ts) and by the C printer's kfunc prototypes (bpftool's dump_btf_kfuncs).
 */
import { type FlatBtf, K_DECL_TAG, K_FUNC } from "./c-flat.ts";

export const KFUNC_DECL_TAG = "bpf_kfunc";
export const FASTCALL_DECL_TAG = "bpf_fastcall";

/**
 * FUNCs tagged "bpf_kfunc" and "bpf_fastcall" by DECL_TAGs among types [first, nextId), in the tags' id
 * order (a FUNC tagged twice is listed twice). `declTags`, when a caller already has them, are the ids of
 * the DECL_TAGs to look at (in id order); else every type is scanned.
 */
export function kfuncTags(
  f: FlatBtf,
  first: number,
  declTags?: readonly number[],
): { kfuncs: number[]; fastcall: number[] } {
  const w = f.w;
  const kfuncs: number[] = [];
  const fastcall: number[] = [];
  const look = (id: number) => {
    const a = f.at[id]!;
    if (((w[a + 1]! >>> 24) & 0x1f) !== K_DECL_TAG || (w[a + 3]! | 0) !== -1) return;
    const target = w[a + 2]!;
    if (target >= f.nextId || f.kind(target) !== K_FUNC) return;
    if (f.strEquals(w[a]!, KFUNC_DECL_TAG)) kfuncs.push(target);
    else if (f.strEquals(w[a]!, FASTCALL_DECL_TAG)) fastcall.push(target);
  };
  if (declTags) {
    for (const id of declTags) if (id >= first) look(id);
  } else for (let id = Math.max(first, 1); id < f.nextId; id++) look(id);
  return { kfuncs, fastcall };
}
