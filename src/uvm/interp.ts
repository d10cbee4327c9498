import {
  BPF_ALU_OP,
  BPF_ATOMIC,
  BPF_CLASS,
  BPF_END,
  BPF_INSN,
  BPF_JMP_OP,
  BPF_MODE,
  BPF_OFF_SIGNED,
  BPF_PSEUDO,
  BPF_SIZE,
  BPF_SRC,
  opClass,
  opOp,
  opSrc,
} from "../asm/index.ts";
import {
  arsh64,
  bswap16,
  bswap32,
  lsh64,
  mul64,
  OUT,
  rsh64,
  sdiv32,
  sdiv64,
  slt64,
  smod32,
  smod64,
  udiv32,
  udiv64,
  ult64,
  umod32,
  umod64,
} from "./alu.ts";
import { CODE_BASE, type Code } from "./code.ts";
import type { CallBack, Engine, Env, RunOptions } from "./engine.ts";
import { Unwind } from "./fault.ts";
import { callError, fault, wildAccess } from "./faults.ts";
import { BASE, PERM_READ, PERM_RW, PERM_WRITE } from "./memory.ts";

const { ALU, ALU64, JMP, JMP32, LDX, ST, STX } = BPF_CLASS;
const { MEM, MEMSX, ATOMIC } = BPF_MODE;
const { B, H, W, DW } = BPF_SIZE;
const ldst = (cls: number, mode: number, sizes: number[]) => sizes.map((z) => cls | mode | z);

/*
 * The loop dispatches on its own dense case numbers, not on opcode bytes: V8 compiles a switch over
 * literal cases to a jump table, while the same loop with src/asm's constants (bound at module level) as
 * its cases measured 40% slower on bench/uvm's fnv1a (a chain of compares). The numbers are positions in
 * the lists below, which name every operation by src/asm's constants; `packWord` finds them once per
 * instruction at load time.
 */
/** ALU and ALU64 operations: case i of the ALU switches. */
const ALU_CASES: readonly number[] = [
  ...[BPF_ALU_OP.ADD, BPF_ALU_OP.SUB, BPF_ALU_OP.MUL, BPF_ALU_OP.DIV, BPF_ALU_OP.OR, BPF_ALU_OP.AND],
  ...[BPF_ALU_OP.LSH, BPF_ALU_OP.RSH, BPF_ALU_OP.NEG, BPF_ALU_OP.MOD, BPF_ALU_OP.XOR, BPF_ALU_OP.MOV],
  ...[BPF_ALU_OP.ARSH, BPF_ALU_OP.END],
];
/** JMP and JMP32 operations: case i of the jump switches. */
const JMP_CASES: readonly number[] = [
  ...[BPF_JMP_OP.JA, BPF_JMP_OP.JEQ, BPF_JMP_OP.JGT, BPF_JMP_OP.JGE, BPF_JMP_OP.JSET, BPF_JMP_OP.JNE],
  ...[BPF_JMP_OP.JSGT, BPF_JMP_OP.JSGE, BPF_JMP_OP.CALL, BPF_JMP_OP.EXIT, BPF_JMP_OP.JLT, BPF_JMP_OP.JLE],
  ...[BPF_JMP_OP.JSLT, BPF_JMP_OP.JSLE],
];
/** Whole opcodes of the other classes: case i of the memory switch. */
const MEM_CASES: readonly number[] = [
  BPF_INSN.LD_IMM64,
  ...ldst(LDX, MEM, [W, H, B, DW]),
  ...ldst(LDX, MEMSX, [W, H, B]),
  ...ldst(ST, MEM, [W, H, B, DW]),
  ...ldst(STX, MEM, [W, H, B, DW]),
  ...ldst(STX, ATOMIC, [W, DW]),
];
/** Case groups (bits 0-2 of a packed word). */
const GROUP: Readonly<Record<number, number>> = { [ALU64]: 0, [ALU]: 1, [JMP]: 2, [JMP32]: 3 };
const G_MEM = 4;
/**
 * Bit 3: the operand is a register (BPF_SRC.X); for BPF_END, to big-endian; for a call, callx. The loop
 * tests it as the literal `k & 8`, like its other field masks.
 */
const W_X = 8;

/**
 * One instruction as the loop reads it: group | X << 3 | case << 4 (ALU/JMP groups) or group | case << 3
 * (memory), then dst << 8, src << 12, off << 16: one load decodes all but imm.
 */
function packWord(code: Code, pc: number): number {
  const op = code.op[pc]!;
  const cls = opClass(op);
  const g = GROUP[cls];
  let low: number;
  if (g === undefined) low = G_MEM | (MEM_CASES.indexOf(op) << 3);
  else {
    const isEnd = cls === ALU && opOp(op) === BPF_ALU_OP.END;
    const x = isEnd ? opSrc(op) === BPF_END.TO_BE : opSrc(op) === BPF_SRC.X;
    const cases = cls === ALU || cls === ALU64 ? ALU_CASES : JMP_CASES;
    low = g | (x ? W_X : 0) | (cases.indexOf(opOp(op)) << 4);
  }
  return low | (code.dst[pc]! << 8) | (code.src[pc]! << 12) | (code.off[pc]! << 16);
}

/**
 * The reference engine: a decode-once, switch-per-instruction interpreter. Registers are (lo, hi) int32
 * pairs in an Int32Array per frame (R[2n], R[2n+1]); r6..r9 are preserved across local calls because each
 * frame has its own array.
 */
export class Interpreter implements Engine {
  private budget = 0;
  private depth = 0;
  private cpc = 0;
  private readonly A = new Int32Array(10);
  private readonly callback: CallBack;
  /** packWord per instruction. */
  private readonly words: Int32Array;

  constructor(
    readonly code: Code,
    private readonly env: Env,
  ) {
    this.words = new Int32Array(code.count);
    for (let pc = 0; pc < code.count; pc++) this.words[pc] = packWord(code, pc);
    this.callback = (pc, A) => {
      const R = new Int32Array(22);
      R.set(A.subarray(0, 10), 2);
      A[0] = this.enter(pc, R, pc);
      A[1] = OUT[0]!;
    };
  }

  run(r1l: number, r1h: number, r2l: number, r2h: number, opts: RunOptions): number {
    this.budget = opts.budget;
    this.depth = 0;
    const R = new Int32Array(22);
    R[2] = r1l;
    R[3] = r1h;
    R[4] = r2l;
    R[5] = r2h;
    try {
      return this.exec(0, R);
    } catch (e) {
      if (e instanceof Unwind) {
        OUT[0] = e.hi;
        return e.lo;
      }
      throw callError(this.code, this.cpc, e);
    }
  }

  private enter(target: number, R: Int32Array, pc: number): number {
    if (this.depth + 1 >= this.env.stackTops.length)
      throw fault(this.code, "stack-overflow", pc, `call depth exceeds ${this.env.stackTops.length} frames`);
    this.depth++;
    const lo = this.exec(target, R);
    this.depth--;
    return lo;
  }

  private exec(start: number, R: Int32Array): number {
    const { imm: IMM, count } = this.code;
    const W = this.words;
    const env = this.env;
    const mem = env.mem;
    const heap = mem.heap;
    const dv = mem.dv;
    const P = mem.perm;
    const cap = mem.capacity;
    const A = this.A;
    R[20] = env.stackTops[this.depth]!;
    R[21] = 0;
    let budget = this.budget;
    let pc = start;
    const at = (pc: number, reg: number, off: number, n: number, perm: number): number => {
      const o = (R[reg]! + off - BASE) | 0;
      if (R[reg + 1] !== 0 || o >>> 0 >= cap || (P[o]! & P[o + n - 1]! & perm) === 0)
        throw wildAccess(this.code, mem, pc, reg >> 1, R[reg]!, R[reg + 1]!, off, n, perm);
      return o;
    };
    for (;;) {
      if (pc >= count) throw fault(this.code, "bad-program", pc, "execution ran off the end of the program");
      if (--budget < 0) {
        this.budget = 0;
        throw fault(this.code, "budget", pc, "instruction budget exhausted (an unbounded loop?)");
      }
      const w = W[pc]!;
      const k = w & 0xff;
      const d = (w >> 7) & 0x1e;
      const s = (w >> 11) & 0x1e;
      const off = w >> 16;
      const imm = IMM[pc]!;
      const g = k & 7;
      if (g === 0) {
        // ALU64
        let bl: number;
        let bh: number;
        if ((k & 8) !== 0) {
          bl = R[s]!;
          bh = R[s + 1]!;
        } else {
          bl = imm;
          bh = imm >> 31;
        }
        const al = R[d]!;
        const ah = R[d + 1]!;
        let lo: number;
        let hi: number;
        switch (k >> 4) {
          case 0: {
            // ADD
            lo = (al + bl) | 0;
            hi = (ah + bh + (lo >>> 0 < al >>> 0 ? 1 : 0)) | 0;
            break;
          }
          case 1: {
            // SUB
            lo = (al - bl) | 0;
            hi = (ah - bh - (al >>> 0 < bl >>> 0 ? 1 : 0)) | 0;
            break;
          }
          case 2: // MUL
            lo = mul64(al, ah, bl, bh);
            hi = OUT[0]!;
            break;
          case 3: // DIV
            lo = off === BPF_OFF_SIGNED ? sdiv64(al, ah, bl, bh) : udiv64(al, ah, bl, bh);
            hi = OUT[0]!;
            break;
          case 4: // OR
            lo = al | bl;
            hi = ah | bh;
            break;
          case 5: // AND
            lo = al & bl;
            hi = ah & bh;
            break;
          case 6: // LSH
            lo = lsh64(al, ah, bl);
            hi = OUT[0]!;
            break;
          case 7: // RSH
            lo = rsh64(al, ah, bl);
            hi = OUT[0]!;
            break;
          case 8: {
            // NEG
            lo = -al | 0;
            hi = (0 - ah - (al !== 0 ? 1 : 0)) | 0;
            break;
          }
          case 9: // MOD
            lo = off === BPF_OFF_SIGNED ? smod64(al, ah, bl, bh) : umod64(al, ah, bl, bh);
            hi = OUT[0]!;
            break;
          case 10: // XOR
            lo = al ^ bl;
            hi = ah ^ bh;
            break;
          case 11: // MOV
            switch (off) {
              case 8:
                lo = (bl << 24) >> 24;
                hi = lo >> 31;
                break;
              case 16:
                lo = (bl << 16) >> 16;
                hi = lo >> 31;
                break;
              case 32:
                lo = bl;
                hi = bl >> 31;
                break;
              default:
                lo = bl;
                hi = bh;
            }
            break;
          case 12: // ARSH
            lo = arsh64(al, ah, bl);
            hi = OUT[0]!;
            break;
          default:
            // END (ALU64: bswap16/32/64)
            if (imm === 16) {
              lo = bswap16(al);
              hi = 0;
            } else if (imm === 32) {
              lo = bswap32(al);
              hi = 0;
            } else {
              lo = bswap32(ah);
              hi = bswap32(al);
            }
        }
        R[d] = lo;
        R[d + 1] = hi;
        pc++;
        continue;
      }
      if (g === 1) {
        // ALU
        const b = (k & 8) !== 0 ? R[s]! : imm;
        const a = R[d]!;
        let r: number;
        switch (k >> 4) {
          case 0: // ADD
            r = (a + b) | 0;
            break;
          case 1: // SUB
            r = (a - b) | 0;
            break;
          case 2: // MUL
            r = Math.imul(a, b);
            break;
          case 3: // DIV
            r = off === BPF_OFF_SIGNED ? sdiv32(a, b) : udiv32(a, b);
            break;
          case 4: // OR
            r = a | b;
            break;
          case 5: // AND
            r = a & b;
            break;
          case 6: // LSH
            r = a << (b & 31);
            break;
          case 7: // RSH
            r = (a >>> (b & 31)) | 0;
            break;
          case 8: // NEG
            r = -a | 0;
            break;
          case 9: // MOD
            r = off === BPF_OFF_SIGNED ? smod32(a, b) : umod32(a, b);
            break;
          case 10: // XOR
            r = a ^ b;
            break;
          case 11: {
            // MOV
            const o = off;
            r = o === 8 ? (b << 24) >> 24 : o === 16 ? (b << 16) >> 16 : b;
            break;
          }
          case 12: // ARSH
            r = a >> (b & 31);
            break;
          default:
            // END: to little-endian (a truncation on this host) or to big-endian (a swap)
            if (imm === 64) {
              if ((k & 8) !== 0) {
                const h = R[d + 1]!;
                R[d + 1] = bswap32(a);
                R[d] = bswap32(h);
              }
              pc++;
              continue;
            }
            if ((k & 8) !== 0) r = imm === 16 ? bswap16(a) : bswap32(a);
            else r = imm === 16 ? a & 0xffff : a;
        }
        R[d] = r;
        R[d + 1] = 0;
        pc++;
        continue;
      }
      if (g === 2) {
        // JMP
        const sub = k >> 4;
        if (sub === 9) {
          // EXIT
          this.budget = budget;
          OUT[0] = R[1]!;
          return R[0]!;
        }
        if (sub === 8) {
          // CALL, CALLX
          this.budget = budget;
          if ((k & 8) === 0 && s >> 1 === BPF_PSEUDO.CALL) {
            const R2 = new Int32Array(22);
            R2.set(R.subarray(2, 12), 2);
            R[0] = this.enter(pc + imm + 1, R2, pc);
            R[1] = OUT[0]!;
          } else {
            const fn =
              (k & 8) !== 0
                ? env.helpers[R[d]! >>> 0]
                : s >> 1 === BPF_PSEUDO.KFUNC_CALL
                  ? env.kfuncs[imm]
                  : env.helpers[imm];
            if (!fn) {
              const id = (k & 8) !== 0 ? R[d]! >>> 0 : imm;
              throw fault(
                this.code,
                s >> 1 === BPF_PSEUDO.KFUNC_CALL ? "kfunc" : "unknown-helper",
                pc,
                `no helper with id ${id}`,
              );
            }
            for (let i = 0; i < 10; i++) A[i] = R[i + 2]!;
            this.cpc = pc;
            fn(A, this.callback);
            R[0] = A[0]!;
            R[1] = A[1]!;
          }
          budget = this.budget;
          pc++;
          continue;
        }
        let bl: number;
        let bh: number;
        if ((k & 8) !== 0) {
          bl = R[s]!;
          bh = R[s + 1]!;
        } else {
          bl = imm;
          bh = imm >> 31;
        }
        const al = R[d]!;
        const ah = R[d + 1]!;
        let taken: boolean;
        switch (sub) {
          case 0: // JA
            taken = true;
            break;
          case 1: // JEQ
            taken = al === bl && ah === bh;
            break;
          case 2: // JGT
            taken = ult64(bl, bh, al, ah);
            break;
          case 3: // JGE
            taken = !ult64(al, ah, bl, bh);
            break;
          case 4: // JSET
            taken = ((al & bl) | (ah & bh)) !== 0;
            break;
          case 5: // JNE
            taken = al !== bl || ah !== bh;
            break;
          case 6: // JSGT
            taken = slt64(bl, bh, al, ah);
            break;
          case 7: // JSGE
            taken = !slt64(al, ah, bl, bh);
            break;
          case 10: // JLT
            taken = ult64(al, ah, bl, bh);
            break;
          case 11: // JLE
            taken = !ult64(bl, bh, al, ah);
            break;
          case 12: // JSLT
            taken = slt64(al, ah, bl, bh);
            break;
          default: // JSLE
            taken = !slt64(bl, bh, al, ah);
        }
        pc += taken ? off + 1 : 1;
        continue;
      }
      if (g === 3) {
        // JMP32
        const sub = k >> 4;
        if (sub === 0) {
          // JA32 (gotol)
          pc += imm + 1;
          continue;
        }
        const b = (k & 8) !== 0 ? R[s]! : imm;
        const a = R[d]!;
        let taken: boolean;
        switch (k >> 4) {
          case 1: // JEQ
            taken = a === b;
            break;
          case 2: // JGT
            taken = a >>> 0 > b >>> 0;
            break;
          case 3: // JGE
            taken = a >>> 0 >= b >>> 0;
            break;
          case 4: // JSET
            taken = (a & b) !== 0;
            break;
          case 5: // JNE
            taken = a !== b;
            break;
          case 6: // JSGT
            taken = a > b;
            break;
          case 7: // JSGE
            taken = a >= b;
            break;
          case 10: // JLT
            taken = a >>> 0 < b >>> 0;
            break;
          case 11: // JLE
            taken = a >>> 0 <= b >>> 0;
            break;
          case 12: // JSLT
            taken = a < b;
            break;
          default: // JSLE
            taken = a <= b;
        }
        pc += taken ? off + 1 : 1;
        continue;
      }
      switch ((w >> 3) & 0x1f) {
        case 0: // LD_IMM64
          if (s >> 1 === BPF_PSEUDO.FUNC) {
            R[d] = CODE_BASE + (pc + imm + 1) * 8;
            R[d + 1] = 0;
          } else {
            R[d] = imm;
            R[d + 1] = IMM[pc + 1]!;
          }
          pc += 2;
          continue;
        case 1: // LDX_W
          R[d] = dv.getInt32(at(pc, s, off, 4, PERM_READ), true);
          R[d + 1] = 0;
          break;
        case 2: // LDX_H
          R[d] = dv.getUint16(at(pc, s, off, 2, PERM_READ), true);
          R[d + 1] = 0;
          break;
        case 3: // LDX_B
          R[d] = heap[at(pc, s, off, 1, PERM_READ)]!;
          R[d + 1] = 0;
          break;
        case 4: {
          // LDX_DW
          const o = at(pc, s, off, 8, PERM_READ);
          R[d] = dv.getInt32(o, true);
          R[d + 1] = dv.getInt32(o + 4, true);
          break;
        }
        case 5: // LDSX_W
          R[d] = dv.getInt32(at(pc, s, off, 4, PERM_READ), true);
          R[d + 1] = R[d]! >> 31;
          break;
        case 6: // LDSX_H
          R[d] = dv.getInt16(at(pc, s, off, 2, PERM_READ), true);
          R[d + 1] = R[d]! >> 31;
          break;
        case 7: // LDSX_B
          R[d] = dv.getInt8(at(pc, s, off, 1, PERM_READ));
          R[d + 1] = R[d]! >> 31;
          break;
        case 8: // ST_W
          dv.setInt32(at(pc, d, off, 4, PERM_WRITE), imm, true);
          break;
        case 9: // ST_H
          dv.setInt16(at(pc, d, off, 2, PERM_WRITE), imm, true);
          break;
        case 10: // ST_B
          heap[at(pc, d, off, 1, PERM_WRITE)] = imm;
          break;
        case 11: {
          // ST_DW
          const o = at(pc, d, off, 8, PERM_WRITE);
          dv.setInt32(o, imm, true);
          dv.setInt32(o + 4, imm >> 31, true);
          break;
        }
        case 12: // STX_W
          dv.setInt32(at(pc, d, off, 4, PERM_WRITE), R[s]!, true);
          break;
        case 13: // STX_H
          dv.setInt16(at(pc, d, off, 2, PERM_WRITE), R[s]!, true);
          break;
        case 14: // STX_B
          heap[at(pc, d, off, 1, PERM_WRITE)] = R[s]!;
          break;
        case 15: {
          // STX_DW
          const o = at(pc, d, off, 8, PERM_WRITE);
          dv.setInt32(o, R[s]!, true);
          dv.setInt32(o + 4, R[s + 1]!, true);
          break;
        }
        case 16: {
          // ATOMIC_W
          const o = at(pc, d, off, 4, PERM_RW);
          const old = dv.getInt32(o, true);
          const v = R[s]!;
          if (imm === BPF_ATOMIC.CMPXCHG) {
            if (old === R[0]) dv.setInt32(o, v, true);
            R[0] = old;
            R[1] = 0;
            break;
          }
          const base = opOp(imm);
          const nv =
            base === BPF_ATOMIC.ADD
              ? (old + v) | 0
              : base === BPF_ATOMIC.OR
                ? old | v
                : base === BPF_ATOMIC.AND
                  ? old & v
                  : base === BPF_ATOMIC.XOR
                    ? old ^ v
                    : v;
          dv.setInt32(o, nv, true);
          if (imm & BPF_ATOMIC.FETCH) {
            R[s] = old;
            R[s + 1] = 0;
          }
          break;
        }
        default: {
          // ATOMIC_DW: 64-bit atomics
          const o = at(pc, d, off, 8, PERM_RW);
          const ol = dv.getInt32(o, true);
          const oh = dv.getInt32(o + 4, true);
          const vl = R[s]!;
          const vh = R[s + 1]!;
          if (imm === BPF_ATOMIC.CMPXCHG) {
            if (ol === R[0] && oh === R[1]) {
              dv.setInt32(o, vl, true);
              dv.setInt32(o + 4, vh, true);
            }
            R[0] = ol;
            R[1] = oh;
            break;
          }
          const base = opOp(imm);
          let nl: number;
          let nh: number;
          if (base === BPF_ATOMIC.ADD) {
            nl = (ol + vl) | 0;
            nh = (oh + vh + (nl >>> 0 < ol >>> 0 ? 1 : 0)) | 0;
          } else if (base === BPF_ATOMIC.OR) {
            nl = ol | vl;
            nh = oh | vh;
          } else if (base === BPF_ATOMIC.AND) {
            nl = ol & vl;
            nh = oh & vh;
          } else if (base === BPF_ATOMIC.XOR) {
            nl = ol ^ vl;
            nh = oh ^ vh;
          } else {
            nl = vl;
            nh = vh;
          }
          dv.setInt32(o, nl, true);
          dv.setInt32(o + 4, nh, true);
          if (imm & BPF_ATOMIC.FETCH) {
            R[s] = ol;
            R[s + 1] = oh;
          }
        }
      }
      pc++;
    }
  }
}
