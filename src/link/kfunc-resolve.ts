/**
 * kfunc and ksym lookup in kernel BTF (kernel Documentation/bpf/kfuncs.rst, libbpf
 * bpf_object__resolve_ksym_func_btf_id / find_ksym_btf_id). Pure: vmlinux and module BTFs are arguments.
 */
import type { Btf, BtfType, BtfTypeKind } from "../btf/index.ts";
import { KfuncError } from "../errors.ts";
import type { ExternSpec } from "../object/types.ts";

export interface KernelModuleBtf {
  name: string;
  /** Module BTF fd (what goes into fd_array and ld_imm64's second imm). */
  fd: number;
  /** Split BTF on vmlinux. */
  readonly btf: Btf;
}

export interface KernelBtfs {
  vmlinux: Btf;
  /**
   * `vmlinux.findAllByName(name, kind)`, possibly from a cache (the loader passes the per-boot name cache
   * of src/kernel/vmlinux-ids.ts); absent: the index of `vmlinux` itself.
   */
  vmlinuxTypesByName?(name: string, kind: BtfTypeKind): BtfType[];
  /** Enumerated on first call only (kernel BTF objects are opened once per load). */
  modules(): KernelModuleBtf[];
}

export interface KsymTarget {
  btf: Btf;
  id: number;
  /** undefined for vmlinux */
  module: KernelModuleBtf | undefined;
}

const MAX_DEPTH = 32;

function skip(btf: Btf, id: number): BtfType {
  return btf.resolve(id);
}

/** libbpf's bpf_core_types_are_compat, plus equal integer sizes. */
export function typesCompatible(
  local: Btf,
  localId: number,
  target: Btf,
  targetId: number,
  depth = 0,
): boolean {
  if (depth > MAX_DEPTH) return false;
  const l = skip(local, localId);
  const t = skip(target, targetId);
  const anyEnum = (k: string) => k === "ENUM" || k === "ENUM64";
  if (anyEnum(l.kind) && anyEnum(t.kind)) return true;
  if (l.kind !== t.kind) return false;
  switch (l.kind) {
    case "VOID":
    case "STRUCT":
    case "UNION":
    case "FWD":
    case "FLOAT":
      return true;
    case "INT":
      return t.kind === "INT" && l.bitOffset === 0 && t.bitOffset === 0 && l.size === t.size;
    case "PTR":
      return t.kind === "PTR" && typesCompatible(local, l.type, target, t.type, depth + 1);
    case "ARRAY":
      return (
        t.kind === "ARRAY" &&
        l.nelems === t.nelems &&
        typesCompatible(local, l.type, target, t.type, depth + 1)
      );
    case "FUNC_PROTO": {
      if (t.kind !== "FUNC_PROTO" || l.params.length !== t.params.length) return false;
      if (!typesCompatible(local, l.returnType, target, t.returnType, depth + 1)) return false;
      return l.params.every((p, i) => typesCompatible(local, p.type, target, t.params[i]!.type, depth + 1));
    }
    default:
      return false;
  }
}

function findOwn(btf: Btf, name: string, kind: "FUNC" | "VAR"): BtfType | undefined {
  // own types only: looking in the base (vmlinux, searched just before) again would be wasted work
  return btf.findOwnByName(name, kind)[0];
}

/** Finds a FUNC (kfunc) or VAR (typed ksym) by name: vmlinux first, then the first module that has it. */
export function findKsym(kernel: KernelBtfs, name: string, kind: "FUNC" | "VAR"): KsymTarget | undefined {
  const v = (kernel.vmlinuxTypesByName?.(name, kind) ?? kernel.vmlinux.findAllByName(name, kind))[0];
  if (v) return { btf: kernel.vmlinux, id: v.id, module: undefined };
  for (const m of kernel.modules()) {
    const t = findOwn(m.btf, name, kind);
    if (t) return { btf: m.btf, id: t.id, module: m };
  }
  return undefined;
}

/**
 * Resolves a kfunc extern. Returns undefined for a weak extern that cannot be resolved (not found or
 * incompatible prototype); throws KfuncKitError("KFUNC") for a strong one, with libbpf's wording.
 */
export function resolveKfunc(ext: ExternSpec, objBtf: Btf, kernel: KernelBtfs): KsymTarget | undefined {
  const target = findKsym(kernel, ext.essentialName, "FUNC");
  if (!target) {
    if (ext.weak) return undefined;
    throw new KfuncError(`extern (func ksym) '${ext.name}': not found in kernel or module BTFs`, {
      hint:
        "is the module that defines it loaded, and was it built with BTF? (`kfunc module build` checks it; " +
        "`kfunc kfuncs` lists what this kernel exports)",
    });
  }
  const func = target.btf.typeById(target.id);
  if (func.kind !== "FUNC") return undefined;
  if (!typesCompatible(objBtf, ext.typeId, target.btf, func.type)) {
    if (ext.weak) return undefined;
    const where = target.module ? `module '${target.module.name}'` : "vmlinux";
    throw new KfuncError(
      `extern (func ksym) '${ext.name}': func_proto [${ext.typeId}] incompatible with ${where} [${func.type}]`,
      { hint: "declare the extern with the kernel's exact prototype (`kfunc kfuncs` prints it)" },
    );
  }
  return target;
}

/** Resolves a typed ksym (`extern const struct rq runqueues __ksym;`). */
export function resolveTypedKsym(ext: ExternSpec, objBtf: Btf, kernel: KernelBtfs): KsymTarget | undefined {
  const target = findKsym(kernel, ext.essentialName, "VAR");
  if (!target) {
    if (ext.weak) return undefined;
    throw new KfuncError(`extern (var ksym) '${ext.name}': not found in kernel BTF`, {
      hint: "is the symbol a per-CPU or global variable of this kernel? (only those have BTF VARs)",
    });
  }
  const v = target.btf.typeById(target.id);
  if (v.kind === "VAR" && !typesCompatible(objBtf, ext.typeId, target.btf, v.type)) {
    if (ext.weak) return undefined;
    throw new KfuncError(`extern (var ksym) '${ext.name}': incompatible types with the kernel's`);
  }
  return target;
}
