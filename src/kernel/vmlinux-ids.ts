/**
 * Name → type ids in vmlinux BTF, through the per-boot cache (boot-cache.ts) for the running kernel: a fresh
 * process that resolves the same kfuncs and CO-RE candidates as the last one does not build the ~100k-name
 * index. Cached ids are checked against the type's name and kind before use.
 */
import type { Btf, BtfType, BtfTypeKind } from "../btf/index.ts";
import { bootCacheGet, bootCacheSet } from "./boot-cache.ts";
import { isRunningVmlinux } from "./kernel-btf.ts";

/** Every type named `name` of `kind` in `vmlinux` (what `vmlinux.findAllByName(name, kind)` returns). */
export function vmlinuxTypesByName(vmlinux: Btf, name: string, kind: BtfTypeKind): BtfType[] {
  if (!isRunningVmlinux(vmlinux)) return vmlinux.findAllByName(name, kind);
  const key = `vmlinux-ids:${kind}:${name}`;
  const ids = bootCacheGet(key);
  if (Array.isArray(ids) && ids.every((id) => Number.isInteger(id) && id > 0 && id < vmlinux.nextId)) {
    const types = (ids as number[]).map((id) => vmlinux.typeById(id));
    if (types.every((t) => t.kind === kind && t.name === name)) return types;
  }
  const found = vmlinux.findAllByName(name, kind);
  bootCacheSet(
    key,
    found.map((t) => t.id),
  );
  return found;
}
