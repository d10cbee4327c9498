/**
 * Maps declared `pinning = LIBBPF_PIN_BY_NAME` are pinned under a bpffs directory (default /sys/fs/bpf).
 * When that is not a bpffs the kernel answers BPF_OBJ_PIN with a bare ENOENT or EPERM, so the verbs
 * check it before loading and name the map, the path and the fix.
 */
import { statfsSync } from "node:fs";
import { UsageError } from "../errors.ts";
import type { ObjectSpec } from "../object/index.ts";

export const DEFAULT_PIN_ROOT = "/sys/fs/bpf";
const BPF_FS_MAGIC = 0xcafe4a11;

function fsType(dir: string): number | undefined {
  try {
    return Number(statfsSync(dir).type);
  } catch {
    return undefined;
  }
}

/** The pin root for `spec`'s pinned maps; throws when there are some and it is not a bpffs. */
export function checkPinRoot(spec: ObjectSpec, pinRoot: string | undefined): string {
  const root = pinRoot ?? DEFAULT_PIN_ROOT;
  const pinned = spec.maps.filter((m) => m.pinning === 1).map((m) => m.name);
  if (pinned.length === 0) return root;
  const type = fsType(root);
  if (type === BPF_FS_MAGIC) return root;
  const maps = pinned.map((m) => `'${m}'`).join(", ");
  throw new UsageError(
    `${spec.source}: map${pinned.length > 1 ? "s" : ""} ${maps} ${pinned.length > 1 ? "are" : "is"} pinned by name (LIBBPF_PIN_BY_NAME) at ${root}/${pinned[0]}, but ${root} ${type === undefined ? "does not exist" : "is not a bpffs"}`,
    {
      hint:
        pinRoot === undefined
          ? `mount it: mount -t bpf bpf ${DEFAULT_PIN_ROOT} (or pass --pin-root <a bpffs dir>)`
          : `mount a bpffs there (mount -t bpf bpf ${root}), or pass --pin-root <a bpffs dir>`,
    },
  );
}
