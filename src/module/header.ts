/**
 * The eBPF side of a module: a header of `extern <prototype> __ksym;` declarations for its kfuncs, generated
 * from the module's BTF so programs include it instead of retyping prototypes. Types the module itself
 * defines (e.g. `struct zoo_obj`) are emitted too; kernel types come from vmlinux.h.
 */

import { existsSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { cDefinition, cFuncPrototype } from "../btf/c-printer.ts";
import { type Btf, parseBtf } from "../btf/index.ts";
import type { BtfType } from "../btf/types.ts";
import { BtfError, ModuleError } from "../errors.ts";
import { defaultCacheDir } from "../host/cache.ts";
import { parseKernelModule } from "../object/index.ts";
import { flagNames } from "./kernel-features.ts";

export interface KfuncHeaderOptions {
  /** Module name for the guard and comments (default: modinfo name, or "module"). */
  name?: string;
  /** Declare every kfunc `__weak` (programs can then probe with bpf_ksym_exists()). */
  weak?: boolean;
  /** Which FUNCs are kfuncs when `source` is BTF: default the `bpf_kfunc` DECL_TAGs, else every global FUNC. */
  kfuncs?: string[];
  /** The file the bytes came from, for messages (default "<module>"). */
  source?: string;
}

export interface HeaderBase {
  /** The vmlinux BTF to parse the module's split BTF on. */
  path: string;
  /** Said to the user when the base is not the obvious one. */
  note: string | undefined;
}

const HOST_BTF = "/sys/kernel/btf/vmlinux";

/**
 * The base BTF for a module's header. An explicit `--base` wins. Otherwise the host's BTF, but only when
 * the module was built for the host's kernel (its vermagic): another kernel's type ids would silently
 * resolve to the wrong functions. For another kernel, its BTF from the kfunc-kit cache; else a refusal.
 */
export function moduleHeaderBase(
  bytes: Uint8Array,
  file: string,
  baseOpt: string | undefined,
  o: { hostRelease?: string; cacheDir?: string } = {},
): HeaderBase {
  if (baseOpt) return { path: baseOpt, note: undefined };
  if (!isElf(bytes)) return { path: HOST_BTF, note: undefined };
  const ko = parseKernelModule(bytes, file);
  const built = ko.vermagic?.split(" ")[0];
  const host = o.hostRelease ?? release();
  if (!built || built === host) return { path: HOST_BTF, note: undefined };
  const cached = join(o.cacheDir ?? defaultCacheDir(), "kernels", built, "vmlinux.btf");
  if (existsSync(cached))
    return {
      path: cached,
      note: `${file} was built for Linux ${built}, not this host's ${host}: using that kernel's BTF ${cached}`,
    };
  throw new ModuleError(
    `${file}: built for Linux ${built} (vermagic), but the default base is this host's BTF (Linux ${host}): its kfunc ids would name the wrong functions`,
    {
      hint: `pass --base <the vmlinux BTF of ${built}>, or fetch that kernel: kfunc vm prepare --kernel debian:${built}`,
    },
  );
}

interface KfuncEntry {
  id: number;
  flags: number | undefined;
}

function isElf(b: Uint8Array): boolean {
  return b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

function kfuncsFromBtf(btf: Btf, names: string[] | undefined): KfuncEntry[] {
  const funcs = [...btf.ownTypes()].filter((t): t is BtfType & { kind: "FUNC" } => t.kind === "FUNC");
  if (names) {
    return names.map((n) => {
      const f = funcs.find((t) => t.name === n);
      if (!f)
        throw new BtfError(btf.source, undefined, `no FUNC '${n}' in the module BTF`, {
          hint: "is the name right, and is the function non-static in the module?",
        });
      return { id: f.id, flags: undefined };
    });
  }
  const tagged = funcs.filter((f) =>
    btf.declTagsOf(f.id).some((d) => d.name === "bpf_kfunc" && d.componentIdx === -1),
  );
  return (tagged.length ? tagged : funcs.filter((f) => f.linkage !== 0)).map((f) => ({
    id: f.id,
    flags: undefined,
  }));
}

/** Module-owned types reachable from `roots`, dependencies first. */
function ownTypesInOrder(btf: Btf, roots: number[]): number[] {
  const order: number[] = [];
  const seen = new Set<number>();
  const visit = (id: number, depth: number) => {
    if (id < btf.firstId || seen.has(id) || depth > 64) return;
    seen.add(id);
    const t = btf.typeById(id);
    switch (t.kind) {
      case "STRUCT":
      case "UNION":
        for (const m of t.members) visit(m.type, depth + 1);
        break;
      case "FUNC":
      case "PTR":
      case "TYPEDEF":
      case "CONST":
      case "VOLATILE":
      case "RESTRICT":
      case "TYPE_TAG":
      case "ARRAY":
        visit(t.type, depth + 1);
        break;
      case "FUNC_PROTO":
        visit(t.returnType, depth + 1);
        for (const p of t.params) visit(p.type, depth + 1);
        break;
      default:
        break;
    }
    order.push(id);
  };
  for (const r of roots) visit(r, 0);
  return order;
}

function typeDefinitions(btf: Btf, roots: number[]): string[] {
  const ids = ownTypesInOrder(btf, roots);
  const out: string[] = [];
  const named = ids.map((id) => btf.typeById(id)).filter((t) => t.name !== "");
  for (const t of named) {
    if (t.kind === "STRUCT" || t.kind === "UNION")
      out.push(`${t.kind === "STRUCT" ? "struct" : "union"} ${t.name};`);
  }
  for (const t of named) {
    if (
      t.kind === "STRUCT" ||
      t.kind === "UNION" ||
      t.kind === "ENUM" ||
      t.kind === "ENUM64" ||
      t.kind === "TYPEDEF"
    )
      out.push(`${cDefinition(btf, t.id)};`);
  }
  return out;
}

/**
 * `extern … __ksym;` prototypes for a module's kfuncs. `source` is a built `.ko` (its kfunc sets name the
 * kfuncs, with their KF_* flags as comments) or the module's BTF (parsed split on `base`).
 */
export function generateKfuncHeader(source: Uint8Array | Btf, base: Btf, o: KfuncHeaderOptions = {}): string {
  let btf: Btf;
  let entries: KfuncEntry[];
  let name = o.name;
  if (source instanceof Uint8Array) {
    if (isElf(source)) {
      const ko = parseKernelModule(source, o.source ?? name ?? "<module>");
      if (!ko.btf)
        throw new ModuleError(`${ko.source}: no .BTF section: cannot generate kfunc prototypes`, {
          hint: "rebuild it with `kfunc module build` (it guarantees module BTF)",
        });
      try {
        btf = parseBtf(ko.btf, { base, source: `${ko.source} .BTF` });
      } catch (e) {
        throw new ModuleError(`${ko.source}: the module's BTF does not fit base '${base.source}'`, {
          cause: e,
          hint: "pass --base with the vmlinux BTF of the kernel the module was built for",
        });
      }
      name ??= ko.name;
      const parsed = btf;
      const position = (s: (typeof ko.kfuncSets)[number], id: number) =>
        id > 0 && id < parsed.nextId ? s.functions.indexOf(parsed.typeById(id).name) : -1;
      entries = ko.kfuncSets
        .filter((s) => s.kind === "set8")
        .flatMap((s) =>
          s.entries
            .map((e) => ({ id: e.id, flags: e.flags }))
            .sort((a, b) => position(s, a.id) - position(s, b.id)),
        );
      if (o.kfuncs) entries = kfuncsFromBtf(btf, o.kfuncs);
    } else {
      btf = parseBtf(source, { base, source: o.source ?? name ?? "module BTF" });
      entries = kfuncsFromBtf(btf, o.kfuncs);
    }
  } else {
    btf = source;
    entries = kfuncsFromBtf(btf, o.kfuncs);
  }
  const modName = name ?? "module";
  const guard = `__${modName.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_KFUNCS_H`;
  const lines = [
    `/* kfuncs of module '${modName}', generated by kfunc-kit from its BTF. Do not edit. */`,
    `#ifndef ${guard}`,
    `#define ${guard}`,
    "",
    "#ifndef __ksym",
    '#define __ksym __attribute__((section(".ksyms")))',
    "#endif",
    "#ifndef __weak",
    "#define __weak __attribute__((weak))",
    "#endif",
    "",
  ];
  const defs = typeDefinitions(
    btf,
    entries.map((e) => e.id),
  );
  if (defs.length) lines.push(`/* types defined by ${modName} */`, ...defs, "");
  const seen = new Set<number>();
  for (const e of entries) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const flags = e.flags ? flagNames(e.flags) : [];
    if (flags.length) lines.push(`/* ${flags.map((f) => `KF_${f}`).join(" | ")} */`);
    lines.push(`extern ${cFuncPrototype(btf, e.id)}${o.weak ? " __weak" : ""} __ksym;`);
  }
  lines.push("", `#endif /* ${guard} */`, "");
  return lines.join("\n");
}
