/** Spec edits of libbpf's autoload flag (`bpf_program__set_autoload`). */
import { UsageError } from "../errors.ts";
import type { ObjectSpec } from "./types.ts";

/** Turns loading of one program on or off before `loadCollection`; names the programs when `name` is unknown. */
export function setAutoload(spec: ObjectSpec, name: string, autoload: boolean): void {
  const p = spec.programs.find((x) => x.name === name);
  if (!p)
    throw new UsageError(`${spec.source}: no program named '${name}'`, {
      hint: `programs: ${spec.programs.map((x) => x.name).join(", ") || "(none)"}`,
    });
  p.autoload = autoload;
}
