import { BPF_INSN, BPF_PSEUDO } from "../asm/index.ts";
import { CORE_POISON_IMM } from "../link/core.ts";
import type { Code } from "./code.ts";
import type { FaultKind } from "./fault.ts";
import { HelperFault, TailCall, Unwind, UvmFault } from "./fault.ts";
import { BASE, type Memory, PERM_WRITE } from "./memory.ts";

function hex(lo: number, hi: number): string {
  return `0x${(hi >>> 0).toString(16)}${(lo >>> 0).toString(16).padStart(8, "0")}`.replace(
    /^0x0+(?=.)/,
    "0x",
  );
}

export function fault(code: Code, kind: FaultKind, pc: number, what: string): UvmFault {
  if (
    kind === "unknown-helper" &&
    code.op[pc] === BPF_INSN.CALL &&
    code.src[pc] === 0 &&
    code.imm[pc] === CORE_POISON_IMM
  )
    return new UvmFault(
      "core",
      code.name,
      pc,
      "reached an instruction whose CO-RE relocation failed against the target BTF (the field or type is not there; libbpf poisons it as call 0xbad2310): guard it with bpf_core_field_exists()/bpf_core_type_exists()",
      code.lineOf(pc),
    );
  return new UvmFault(kind, code.name, pc, what, code.lineOf(pc));
}

/** The fault for a load or store that is outside every region it may touch, naming the nearest region. */
export function wildAccess(
  code: Code,
  mem: Memory,
  pc: number,
  reg: number,
  lo: number,
  hi: number,
  off: number,
  size: number,
  perm: number,
): UvmFault {
  const verb = perm & PERM_WRITE ? "store" : "load";
  const addrLo = (lo + off) | 0;
  const carry = (lo >>> 0) + off > 0xffffffff ? 1 : (lo >>> 0) + off < 0 ? -1 : 0;
  const at = hex(addrLo, (hi + carry) | 0);
  let where = "";
  if (hi === 0 && (lo >>> 0) + off === 0) where = " (a NULL pointer)";
  else if (hi === 0) {
    const a = (lo >>> 0) + off;
    const r = mem.regionAt(a) ?? mem.regionAt(a + size - 1);
    if (r) {
      if (perm & PERM_WRITE && (mem.perm[r.off]! & PERM_WRITE) === 0)
        return fault(code, "read-only", pc, `${size}-byte store into read-only '${r.name}' at ${at}`);
      where = ` (runs past '${r.name}', ${r.size} bytes at ${hex(r.addr, 0)})`;
    } else {
      let best: { name: string; d: number } | undefined;
      for (const x of mem.regions) {
        const d = a < x.addr ? x.addr - a : a - (x.addr + x.size) + 1;
        if (!best || d < best.d) best = { name: x.name, d };
      }
      if (best && best.d < 4096)
        where = ` (${best.d} bytes ${a < BASE ? "before" : "outside"} '${best.name}')`;
    }
  }
  return fault(
    code,
    "wild-access",
    pc,
    `${size}-byte ${verb} at ${at} = r${reg}${off < 0 ? "" : "+"}${off}${where}`,
  );
}

/** An exception out of a helper or kfunc called at `pc`: faults and control transfers pass, the rest is wrapped. */
export function callError(code: Code, pc: number, e: unknown): unknown {
  if (e instanceof UvmFault || e instanceof TailCall || e instanceof Unwind) return e;
  const call = code.op[pc] === BPF_INSN.CALL && code.src[pc] === BPF_PSEUDO.KFUNC_CALL ? "kfunc" : "helper";
  const msg = e instanceof Error ? e.message : String(e);
  const f = new UvmFault(
    e instanceof HelperFault ? "helper" : call,
    code.name,
    pc,
    e instanceof HelperFault ? msg : `the ${call} threw: ${msg}`,
    code.lineOf(pc),
  );
  if (!(e instanceof HelperFault)) Object.defineProperty(f, "cause", { value: e });
  return f;
}
