/**
 * Applying an ObjectSpec program's relocations to a copy of its instructions (pure: fds, BTF ids and
 * fd_array slots arrive as data). Subprogram calls are already linked by src/object.
 */
import { RelocationError } from "../errors.ts";
import type { ProgramSpec, RelocationSpec } from "../object/types.ts";
import { BPF_PSEUDO } from "../object/uapi.ts";
import { Insns } from "./insn.ts";

/** libbpf's POISON_CALL_KFUNC_BASE: an unresolved weak kfunc call becomes `call 2002000000 + extern index`. */
export const KFUNC_POISON_BASE = 2002000000;

/** What a `.ksyms`/`.kconfig` extern resolved to in the running kernel. */
export type ExternResolution =
  | {
      kind: "kfunc";
      btfId: number /** 0: vmlinux */;
      fdArraySlot: number /** module BTF fd, 0: vmlinux */;
      btfFd: number;
    }
  | { kind: "typedKsym"; btfId: number; btfFd: number }
  | { kind: "address"; address: bigint }
  | { kind: "unresolved" };

export interface RelocationInputs {
  /** Map fd by MapSpec name (BTF and legacy maps). */
  mapFd(name: string): number | undefined;
  /** Map fd of a global data section (`.rodata`, `.kconfig`…). */
  dataMapFd(section: string): number | undefined;
  /** Resolution of an extern by name, and its index in ObjectSpec.externs (for poison values). */
  extern(name: string): { resolution: ExternResolution; index: number } | undefined;
}

function fail(prog: ProgramSpec, r: RelocationSpec, what: string): never {
  throw new RelocationError(prog.section, r.insnIndex, r.symbol, `program '${prog.name}': ${what}`);
}

function needLdImm64(insns: Insns, prog: ProgramSpec, r: RelocationSpec): void {
  if (!insns.isLdImm64(r.insnIndex) || r.insnIndex + 1 >= insns.count)
    fail(
      prog,
      r,
      `expected ld_imm64 for a ${r.kind} relocation, found opcode 0x${insns.code(r.insnIndex).toString(16)}`,
    );
}

/** Applies every relocation of `prog` to `bytes` (a copy of prog.instructions) in place. */
export function applyRelocations(prog: ProgramSpec, bytes: Uint8Array, inputs: RelocationInputs): void {
  const insns = new Insns(bytes);
  for (const r of prog.relocations) {
    const i = r.insnIndex;
    switch (r.kind) {
      case "subprog":
        break;
      case "map": {
        needLdImm64(insns, prog, r);
        const fd = inputs.mapFd(r.map);
        if (fd === undefined) fail(prog, r, `map '${r.map}' was not created`);
        insns.setSrc(i, BPF_PSEUDO.MAP_FD);
        insns.setImm(i, fd);
        insns.setImm(i + 1, 0);
        break;
      }
      case "data":
      case "kconfig": {
        needLdImm64(insns, prog, r);
        const section = r.kind === "data" ? r.section : ".kconfig";
        const fd = inputs.dataMapFd(section);
        if (fd === undefined) fail(prog, r, `global data section '${section}' has no map`);
        insns.setSrc(i, BPF_PSEUDO.MAP_VALUE);
        insns.setImm(i, fd);
        insns.setImm(i + 1, r.offset);
        break;
      }
      case "kfuncCall": {
        const ext = inputs.extern(r.extern);
        if (!ext) fail(prog, r, `unknown extern '${r.extern}'`);
        if (!insns.isCall(i)) fail(prog, r, `expected a call to kfunc '${r.extern}'`);
        const res = ext.resolution;
        if (res.kind === "kfunc") {
          insns.setRegs(i, 0, BPF_PSEUDO.KFUNC_CALL);
          insns.setImm(i, res.btfId);
          insns.setOff(i, res.fdArraySlot);
        } else {
          poisonKfuncCall(insns, i, ext.index);
        }
        break;
      }
      case "ksymAddr": {
        needLdImm64(insns, prog, r);
        const ext = inputs.extern(r.extern);
        if (!ext) fail(prog, r, `unknown extern '${r.extern}'`);
        const res = ext.resolution;
        if (res.kind === "kfunc" || res.kind === "typedKsym") {
          insns.setSrc(i, BPF_PSEUDO.BTF_ID);
          insns.setImm(i, res.btfId);
          // The second slot carries the module BTF *fd* (not the fd_array slot); 0 for vmlinux.
          insns.setImm(i + 1, res.btfFd);
        } else if (res.kind === "address") {
          insns.setSrc(i, 0);
          insns.setImm(i, Number(BigInt.asIntN(32, res.address)));
          insns.setImm(i + 1, Number(BigInt.asIntN(32, res.address >> 32n)));
        } else {
          insns.setSrc(i, 0);
          insns.setImm(i, 0);
          insns.setImm(i + 1, 0);
        }
        break;
      }
    }
  }
}

/** Turns a kfunc call into an invalid helper call the verifier only rejects when it is reachable. */
export function poisonKfuncCall(insns: Insns, i: number, externIndex: number): void {
  insns.setCode(i, 0x85);
  insns.setRegs(i, 0, 0);
  insns.setOff(i, 0);
  insns.setImm(i, KFUNC_POISON_BASE + externIndex);
}

/** fd_array for module kfuncs: slot 0 is never used, one slot per module BTF fd. */
export class FdArray {
  readonly #slots: number[] = [0];
  readonly #byFd = new Map<number, number>();

  /** The slot holding `btfFd`, added on first use. */
  slotFor(btfFd: number): number {
    let slot = this.#byFd.get(btfFd);
    if (slot === undefined) {
      slot = this.#slots.length;
      if (slot > 0x7fff) throw new RangeError("fd_array: more than INT16_MAX module BTFs");
      this.#slots.push(btfFd);
      this.#byFd.set(btfFd, slot);
    }
    return slot;
  }

  get size(): number {
    return this.#slots.length;
  }

  /** The array for BPF_PROG_LOAD, or undefined when no module kfunc is called. */
  toInt32Array(): Int32Array | undefined {
    return this.#slots.length > 1 ? Int32Array.from(this.#slots) : undefined;
  }
}
