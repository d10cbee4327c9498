/**
 * The post-build check of a `.ko`: module BTF exists, every kfunc id set is resolved (non-zero ids, the
 * declared count) and each id names a FUNC in the module's own BTF, parsed as split BTF on the target
 * kernel's vmlinux BTF. A failure names the cause found in the build log and the fix: a build never
 * reports success with a silently empty kfunc set.
 */

import { cFuncPrototype } from "../btf/c-printer.ts";
import { type Btf, parseBtf } from "../btf/index.ts";
import { ModuleError } from "../errors.ts";
import type { KernelModuleSpec } from "../object/index.ts";
import { flagNames } from "./kernel-features.ts";

export interface ModuleKfunc {
  name: string;
  /** BTF id in the module's split BTF. */
  id: number;
  /** C prototype from the module BTF, e.g. `u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)`. */
  prototype: string;
  flags: string[];
  set: string;
}

export interface KoCheckResult {
  name: string;
  kfuncs: ModuleKfunc[];
  sets: { name: string; count: number }[];
  warnings: string[];
  /** The module's BTF parsed on the base (for the prototype header). */
  btf: Btf;
}

export interface KoCheckOptions {
  /** The target kernel's vmlinux BTF (needed for every check past "the .BTF section exists"). */
  base: Btf | undefined;
  /** kbuild's output, searched for the cause of a failure. */
  buildLog?: string;
  /** The kernel build dir (for hints). */
  headersDir?: string;
  /** kfuncs the module must export (from kfunc.json); extra or missing ones fail the check. */
  expectedKfuncs?: string[];
}

const SKIPPING_BTF = /Skipping BTF generation for .* due to unavailability of vmlinux/;
const PAHOLE_MISSING = /pahole: (?:not found|command not found|No such file)|PAHOLE.*not found/;
const RESOLVE_BTFIDS_MISSING =
  /resolve_btfids: (?:not found|command not found|No such file)|resolve_btfids.*No such file/;

function fail(source: string, what: string, hint: string): never {
  throw new ModuleError(`${source}: ${what}`, { hint });
}

function missingBtfCause(o: KoCheckOptions): { cause: string; hint: string } {
  const log = o.buildLog ?? "";
  const dir = o.headersDir ?? "<kernel build dir>";
  if (SKIPPING_BTF.test(log)) {
    return {
      cause:
        'kbuild printed "Skipping BTF generation … due to unavailability of vmlinux": the kernel build dir has no vmlinux',
      hint: `put the target kernel's BTF at ${dir}/vmlinux (its /sys/kernel/btf/vmlinux, or the .BTF of its image); \`kfunc module build\` does this itself unless the BTF guarantee was turned off`,
    };
  }
  if (PAHOLE_MISSING.test(log)) {
    return {
      cause: "pahole was not found during the build",
      hint: "install pahole: apt-get install dwarves",
    };
  }
  return {
    cause: "kbuild did not generate module BTF",
    hint: `is CONFIG_DEBUG_INFO_BTF_MODULES=y in ${dir}/.config, and are pahole (dwarves) and ${dir}/vmlinux present?`,
  };
}

/** Checks a module parsed by parseKernelModule; throws KfuncKitError("MODULE") naming cause and fix. */
export function checkKernelModule(ko: KernelModuleSpec, o: KoCheckOptions): KoCheckResult {
  const source = ko.source;
  const warnings: string[] = [];
  const name = ko.name ?? source.replace(/^.*\//, "").replace(/\.ko$/, "");
  const expected = o.expectedKfuncs;
  if (!ko.btf) {
    const { cause, hint } = missingBtfCause(o);
    fail(
      source,
      `no .BTF section (module BTF): ${cause}. Its kfuncs would silently not exist: registration only warns "missing module BTF, cannot register kfuncs"`,
      hint,
    );
  }
  if (!o.base)
    fail(
      source,
      "cannot check the kfunc sets: the target kernel's vmlinux BTF is unknown",
      `put the kernel's BTF at ${o.headersDir ?? "<kernel build dir>"}/vmlinux`,
    );
  let btf: Btf;
  try {
    btf = parseBtf(ko.btf, { base: o.base, source: `${source} .BTF` });
  } catch (e) {
    throw new ModuleError(`${source}: module BTF does not parse on the target's vmlinux BTF`, {
      cause: e,
      hint: "was it built against another kernel's vmlinux? rebuild with --kernel naming the kernel you load it into",
    });
  }
  const sets = ko.kfuncSets.filter((s) => s.kind === "set8");
  if (sets.length === 0) {
    if (expected && expected.length > 0)
      fail(
        source,
        `no kfunc id set (BTF_KFUNCS_START/BTF_SET8_START) in .BTF_ids, expected ${expected.join(", ")}`,
        "is the generated kfunc_gen_reg.c part of the Kbuild objects?",
      );
    warnings.push(`${source}: no kfunc id set in .BTF_ids: this module defines no kfuncs`);
  }
  const log = o.buildLog ?? "";
  const kfuncs: ModuleKfunc[] = [];
  for (const set of sets) {
    const zeros = set.entries.filter((e) => e.id === 0).length;
    if (!set.resolved) {
      const missingTool = RESOLVE_BTFIDS_MISSING.test(log);
      const resolvedNames = new Set(
        set.entries
          .filter((e) => e.id >= btf.firstId && e.id < btf.nextId)
          .map((e) => btf.typeById(e.id).name),
      );
      const unresolved = set.functions.filter((f) => !resolvedNames.has(f));
      const notInBtf = unresolved.filter(
        (f) => !btf.findAllByName(f, "FUNC").some((t) => t.id >= btf.firstId),
      );
      if (!missingTool && notInBtf.length > 0)
        fail(
          source,
          `kfunc set '${set.name}': ${notInBtf.map((f) => `'${f}'`).join(", ")} ha${notInBtf.length > 1 ? "ve" : "s"} no BTF id: ${notInBtf.length > 1 ? "they are" : "it is"} not in the module's BTF. A static or static inline function is inlined (or kept local), so it has no BTF id and cannot be a kfunc`,
          "define each kfunc as a global `__bpf_kfunc <type> name(…)` (no static, no inline)",
        );
      fail(
        source,
        `kfunc set '${set.name}' is not resolved: cnt ${set.count} of ${set.entries.length} declared, ${zeros} ids are 0 (${(unresolved.length ? unresolved : set.functions).join(", ") || "no functions"}). The kernel would register an empty set${missingTool ? "; resolve_btfids was not found during the build" : ""}`,
        missingTool
          ? `resolve_btfids is missing from ${o.headersDir ?? "the kernel build dir"}/tools/bpf/resolve_btfids/: copy it from a 6.12 linux-kbuild package (\`kfunc module build\` borrows it for Debian 6.1)`
          : "did resolve_btfids run? It needs the kernel build dir's vmlinux; rebuild with `kfunc module build` (it guarantees both)",
      );
    }
    for (const entry of set.entries) {
      if (entry.id < btf.firstId) {
        const t = entry.id < btf.nextId ? btf.typeById(entry.id) : undefined;
        const collision = t?.kind === "FUNC" && set.functions.includes(t.name);
        fail(
          source,
          `kfunc set '${set.name}': id ${entry.id}${t ? ` ('${t.name}')` : ""} is a vmlinux type, not one of the module's own`,
          collision
            ? "a kfunc name that collides with a kernel function resolves to the kernel's; rename the kfunc"
            : `the ids do not fit the target's vmlinux BTF: the module was built against another kernel's BTF (is ${o.headersDir ?? "<kernel build dir>"}/vmlinux the target kernel's?); rebuild with \`kfunc module build\``,
        );
      }
      if (entry.id >= btf.nextId)
        fail(
          source,
          `kfunc set '${set.name}': id ${entry.id} is beyond the module BTF (last id ${btf.nextId - 1})`,
          "the BTF and .BTF_ids disagree; rebuild the module",
        );
      const t = btf.typeById(entry.id);
      if (t.kind !== "FUNC")
        fail(
          source,
          `kfunc set '${set.name}': id ${entry.id} ('${t.name}') is a ${t.kind}, not a FUNC`,
          "rebuild the module; is the set declared with BTF_ID_FLAGS(func, name)?",
        );
      kfuncs.push({
        name: t.name,
        id: t.id,
        prototype: cFuncPrototype(btf, t.id),
        flags: flagNames(entry.flags),
        set: set.name,
      });
    }
    // resolve_btfids sorts a set by id: report the kfuncs in the order the source declared them
    const order = (n: string) => set.functions.indexOf(n);
    const mine = kfuncs
      .splice(kfuncs.length - set.entries.length)
      .sort((a, b) => order(a.name) - order(b.name));
    kfuncs.push(...mine);
    for (const f of set.functions) {
      if (!kfuncs.some((k) => k.name === f && k.set === set.name))
        fail(
          source,
          `kfunc set '${set.name}': '${f}' is declared but no resolved id names it`,
          "rebuild the module; is the function defined and not static?",
        );
    }
  }
  if (expected) {
    for (const e of expected) {
      if (!kfuncs.some((k) => k.name === e))
        fail(
          source,
          `kfunc '${e}' from the config is not in any kfunc set`,
          "rebuild the module; the generated registration lists every configured kfunc",
        );
    }
    for (const k of kfuncs) {
      if (!expected.includes(k.name))
        warnings.push(`${source}: kfunc '${k.name}' is registered but not in the config`);
    }
  }
  return { name, kfuncs, sets: sets.map((s) => ({ name: s.name, count: s.count })), warnings, btf };
}
