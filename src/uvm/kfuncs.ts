import type { Btf, BtfType } from "../btf/index.ts";
import { BTF_INT_SIGNED, cFuncPrototype } from "../btf/index.ts";
import { KfuncError } from "../errors.ts";
import type { ExternSpec } from "../object/types.ts";
import * as alu from "./alu.ts";
import type { NativeFn } from "./engine.ts";
import { HelperFault } from "./fault.ts";
import { type Memory, PERM_READ } from "./memory.ts";

/** A kfunc's value as TypeScript sees it: see docs/uvm.md for the calling convention. */
export type KfuncArg = number | bigint | Uint8Array | null;
/** A kfunc written in TypeScript. `never[]` parameters so any function with the right arity fits. */
export type KfuncFn = (...args: never[]) => unknown;

type ArgKind =
  | { k: "int"; bits: number; signed: boolean }
  | { k: "ptr"; size: number | undefined; szArg: number | undefined };

function classify(btf: Btf, typeId: number, what: string, proto: string): ArgKind | { k: "void" } {
  if (typeId === 0) return { k: "void" };
  const t: BtfType = btf.resolve(typeId);
  switch (t.kind) {
    case "INT":
      return { k: "int", bits: t.size * 8, signed: (t.encoding & BTF_INT_SIGNED) !== 0 };
    case "ENUM":
    case "ENUM64":
      return { k: "int", bits: t.size * 8, signed: false };
    case "PTR": {
      const target = btf.resolve(t.type);
      let size: number | undefined;
      try {
        size =
          target.kind === "VOID" || target.kind === "FUNC_PROTO" || target.kind === "FWD"
            ? undefined
            : btf.sizeof(t.type);
      } catch {
        size = undefined;
      }
      return { k: "ptr", size, szArg: undefined };
    }
    default:
      throw new KfuncError(
        `${what} of '${proto}' is a ${t.kind}: the userspace runtime passes integers and pointers only`,
      );
  }
}

/** The extern's C prototype (`u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)`). */
export function externPrototype(btf: Btf, ext: ExternSpec): string {
  try {
    return cFuncPrototype(btf, ext.btfId);
  } catch {
    return `${ext.name}(…)`;
  }
}

/**
 * Builds the trampoline that calls a TypeScript kfunc from eBPF, checked against the extern's FUNC_PROTO:
 * the function must take exactly the prototype's parameters. Integers of up to 32 bits arrive as number,
 * 64-bit ones as bigint; a pointer arrives as a Uint8Array view of runtime memory (its length: the next
 * parameter when that one is named `<name>__sz`, else the pointee's size, else up to the end of its region),
 * NULL as null. The function returns number or bigint (or nothing: 0).
 */
export function bindKfunc(
  btf: Btf,
  ext: ExternSpec,
  fn: KfuncFn,
  mem: Memory,
  paramNames?: (kfunc: string, count: number) => string[] | undefined,
): NativeFn {
  const proto = externPrototype(btf, ext);
  const fp = btf.typeById(ext.typeId);
  if (fp.kind !== "FUNC_PROTO")
    throw new KfuncError(`extern '${ext.name}' has no FUNC_PROTO in the object's BTF`);
  if (fp.params.some((p) => p.type === 0))
    throw new KfuncError(`kfunc '${ext.name}': variadic prototype '${proto}' is not supported`);
  if (fp.params.length > 5)
    throw new KfuncError(
      `kfunc '${ext.name}': '${proto}' has ${fp.params.length} parameters; eBPF passes at most 5`,
    );
  if (typeof fn !== "function") throw new KfuncError(`kfunc '${ext.name}': the binding is not a function`);
  if (fn.length !== fp.params.length)
    throw new KfuncError(
      `kfunc '${ext.name}': the TypeScript function takes ${fn.length} argument(s), the prototype '${proto}' has ${fp.params.length}`,
      { hint: "declare one parameter per C parameter (see docs/uvm.md for the types)" },
    );
  const names = fp.params.every((p) => p.name)
    ? fp.params.map((p) => p.name)
    : (paramNames?.(ext.essentialName, fp.params.length) ?? []);
  const kinds = fp.params.map((p, i) => classify(btf, p.type, `parameter ${i + 1}`, proto) as ArgKind);
  kinds.forEach((k, i) => {
    if (k.k === "ptr" && names[i + 1]?.endsWith("__sz") && kinds[i + 1]!.k === "int") k.szArg = i + 1;
  });
  const ret = classify(btf, fp.returnType, "the return type", proto);
  const args = kinds.map((k, i) => {
    const lo = `A[${2 * i}]`;
    const hi = `A[${2 * i + 1}]`;
    if (k.k === "int") {
      if (k.bits === 64) return k.signed ? `toI64(${lo}, ${hi})` : `toU64(${lo}, ${hi})`;
      if (k.bits === 32) return k.signed ? `(${lo} | 0)` : `(${lo} >>> 0)`;
      const sh = 32 - k.bits;
      return k.signed ? `((${lo} << ${sh}) >> ${sh})` : `(${lo} & ${(1 << k.bits) - 1})`;
    }
    const len =
      k.szArg !== undefined ? `(A[${2 * k.szArg}] >>> 0)` : k.size !== undefined ? `${k.size}` : "-1";
    return `V(${lo}, ${hi}, ${len}, ${i + 1})`;
  });
  let back: string;
  if (ret.k === "void") back = "A[0] = 0; A[1] = 0;";
  else if (ret.k === "ptr" || ret.bits === 64) back = "R64(A, r);";
  else back = `A[0] = Number(r) | 0; A[1] = ${ret.signed ? "A[0] >> 31" : "0"};`;
  const src = `return function kfunc_${ext.name.replace(/\W/g, "_")}(A) { const r = fn(${args.join(", ")}); ${back} };`;
  const V = (lo: number, hi: number, len: number, argNo: number): Uint8Array | null => {
    if (lo === 0 && hi === 0) return null;
    let n = len;
    if (n < 0) {
      const r = hi === 0 ? mem.regionAt(lo >>> 0) : undefined;
      n = r ? r.addr + r.size - (lo >>> 0) : 0;
    }
    const o = mem.check(lo, hi, n, PERM_READ);
    if (o < 0)
      throw new HelperFault(
        `kfunc '${ext.name}': argument ${argNo} (0x${alu.toU64(lo, hi).toString(16)}, ${n} bytes) is not program memory`,
      );
    return mem.heap.subarray(o, o + n);
  };
  const R64 = (A: Int32Array, r: unknown): void => {
    if (typeof r === "bigint") {
      A[0] = alu.fromBig(r);
      A[1] = alu.OUT[0]!;
    } else {
      const v = Number(r ?? 0);
      A[0] = v >>> 0;
      A[1] = Math.floor(v / 4294967296) | 0;
    }
  };
  return new Function("fn", "toU64", "toI64", "V", "R64", src)(fn, alu.toU64, alu.toI64, V, R64) as NativeFn;
}
