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
  /** op | dst << 8 | src << 12 | off << 16 per instruction: one load decodes all but imm. */
  private readonly words: Int32Array;

  constructor(
    readonly code: Code,
    private readonly env: Env,
  ) {
    this.words = new Int32Array(code.count);
    for (let pc = 0; pc < code.count; pc++)
      this.words[pc] = code.op[pc]! | (code.dst[pc]! << 8) | (code.src[pc]! << 12) | (code.off[pc]! << 16);
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
      const op = w & 0xff;
      const d = (w >> 7) & 0x1e;
      const s = (w >> 11) & 0x1e;
      const off = w >> 16;
      const imm = IMM[pc]!;
      const cls = op & 7;
      if (cls === 0x07) {
        let bl: number;
        let bh: number;
        if (op & 8) {
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
        switch (op >> 4) {
          case 0x0: {
            lo = (al + bl) | 0;
            hi = (ah + bh + (lo >>> 0 < al >>> 0 ? 1 : 0)) | 0;
            break;
          }
          case 0x1: {
            lo = (al - bl) | 0;
            hi = (ah - bh - (al >>> 0 < bl >>> 0 ? 1 : 0)) | 0;
            break;
          }
          case 0x2:
            lo = mul64(al, ah, bl, bh);
            hi = OUT[0]!;
            break;
          case 0x3:
            lo = off === 1 ? sdiv64(al, ah, bl, bh) : udiv64(al, ah, bl, bh);
            hi = OUT[0]!;
            break;
          case 0x4:
            lo = al | bl;
            hi = ah | bh;
            break;
          case 0x5:
            lo = al & bl;
            hi = ah & bh;
            break;
          case 0x6:
            lo = lsh64(al, ah, bl);
            hi = OUT[0]!;
            break;
          case 0x7:
            lo = rsh64(al, ah, bl);
            hi = OUT[0]!;
            break;
          case 0x8: {
            lo = -al | 0;
            hi = (0 - ah - (al !== 0 ? 1 : 0)) | 0;
            break;
          }
          case 0x9:
            lo = off === 1 ? smod64(al, ah, bl, bh) : umod64(al, ah, bl, bh);
            hi = OUT[0]!;
            break;
          case 0xa:
            lo = al ^ bl;
            hi = ah ^ bh;
            break;
          case 0xb:
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
          case 0xc:
            lo = arsh64(al, ah, bl);
            hi = OUT[0]!;
            break;
          default:
            // 0xd7: bswap16/32/64
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
      if (cls === 0x04) {
        const b = op & 8 ? R[s]! : imm;
        const a = R[d]!;
        let r: number;
        switch (op >> 4) {
          case 0x0:
            r = (a + b) | 0;
            break;
          case 0x1:
            r = (a - b) | 0;
            break;
          case 0x2:
            r = Math.imul(a, b);
            break;
          case 0x3:
            r = off === 1 ? sdiv32(a, b) : udiv32(a, b);
            break;
          case 0x4:
            r = a | b;
            break;
          case 0x5:
            r = a & b;
            break;
          case 0x6:
            r = a << (b & 31);
            break;
          case 0x7:
            r = (a >>> (b & 31)) | 0;
            break;
          case 0x8:
            r = -a | 0;
            break;
          case 0x9:
            r = off === 1 ? smod32(a, b) : umod32(a, b);
            break;
          case 0xa:
            r = a ^ b;
            break;
          case 0xb: {
            const o = off;
            r = o === 8 ? (b << 24) >> 24 : o === 16 ? (b << 16) >> 16 : b;
            break;
          }
          case 0xc:
            r = a >> (b & 31);
            break;
          default:
            // 0xd4 to little-endian (a truncation on this host), 0xdc to big-endian (a swap)
            if (imm === 64) {
              if (op === 0xdc) {
                const h = R[d + 1]!;
                R[d + 1] = bswap32(a);
                R[d] = bswap32(h);
              }
              pc++;
              continue;
            }
            if (op === 0xdc) r = imm === 16 ? bswap16(a) : bswap32(a);
            else r = imm === 16 ? a & 0xffff : a;
        }
        R[d] = r;
        R[d + 1] = 0;
        pc++;
        continue;
      }
      if (cls === 0x05) {
        const sub = op >> 4;
        if (sub === 0x9) {
          this.budget = budget;
          OUT[0] = R[1]!;
          return R[0]!;
        }
        if (sub === 0x8) {
          this.budget = budget;
          if (op === 0x85 && s >> 1 === 1) {
            const R2 = new Int32Array(22);
            R2.set(R.subarray(2, 12), 2);
            R[0] = this.enter(pc + imm + 1, R2, pc);
            R[1] = OUT[0]!;
          } else {
            const fn =
              op === 0x8d ? env.helpers[R[d]! >>> 0] : s >> 1 === 2 ? env.kfuncs[imm] : env.helpers[imm];
            if (!fn) {
              const id = op === 0x8d ? R[d]! >>> 0 : imm;
              throw fault(
                this.code,
                s >> 1 === 2 ? "kfunc" : "unknown-helper",
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
        if (op & 8) {
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
          case 0x0:
            taken = true;
            break;
          case 0x1:
            taken = al === bl && ah === bh;
            break;
          case 0x2:
            taken = ult64(bl, bh, al, ah);
            break;
          case 0x3:
            taken = !ult64(al, ah, bl, bh);
            break;
          case 0x4:
            taken = ((al & bl) | (ah & bh)) !== 0;
            break;
          case 0x5:
            taken = al !== bl || ah !== bh;
            break;
          case 0x6:
            taken = slt64(bl, bh, al, ah);
            break;
          case 0x7:
            taken = !slt64(al, ah, bl, bh);
            break;
          case 0xa:
            taken = ult64(al, ah, bl, bh);
            break;
          case 0xb:
            taken = !ult64(bl, bh, al, ah);
            break;
          case 0xc:
            taken = slt64(al, ah, bl, bh);
            break;
          default:
            taken = !slt64(bl, bh, al, ah);
        }
        pc += taken ? off + 1 : 1;
        continue;
      }
      if (cls === 0x06) {
        if (op === 0x06) {
          pc += imm + 1;
          continue;
        }
        const b = op & 8 ? R[s]! : imm;
        const a = R[d]!;
        let taken: boolean;
        switch (op >> 4) {
          case 0x1:
            taken = a === b;
            break;
          case 0x2:
            taken = a >>> 0 > b >>> 0;
            break;
          case 0x3:
            taken = a >>> 0 >= b >>> 0;
            break;
          case 0x4:
            taken = (a & b) !== 0;
            break;
          case 0x5:
            taken = a !== b;
            break;
          case 0x6:
            taken = a > b;
            break;
          case 0x7:
            taken = a >= b;
            break;
          case 0xa:
            taken = a >>> 0 < b >>> 0;
            break;
          case 0xb:
            taken = a >>> 0 <= b >>> 0;
            break;
          case 0xc:
            taken = a < b;
            break;
          default:
            taken = a <= b;
        }
        pc += taken ? off + 1 : 1;
        continue;
      }
      switch (op) {
        case 0x18:
          if (s >> 1 === 4) {
            R[d] = CODE_BASE + (pc + imm + 1) * 8;
            R[d + 1] = 0;
          } else {
            R[d] = imm;
            R[d + 1] = IMM[pc + 1]!;
          }
          pc += 2;
          continue;
        case 0x61:
          R[d] = dv.getInt32(at(pc, s, off, 4, PERM_READ), true);
          R[d + 1] = 0;
          break;
        case 0x69:
          R[d] = dv.getUint16(at(pc, s, off, 2, PERM_READ), true);
          R[d + 1] = 0;
          break;
        case 0x71:
          R[d] = heap[at(pc, s, off, 1, PERM_READ)]!;
          R[d + 1] = 0;
          break;
        case 0x79: {
          const o = at(pc, s, off, 8, PERM_READ);
          R[d] = dv.getInt32(o, true);
          R[d + 1] = dv.getInt32(o + 4, true);
          break;
        }
        case 0x81:
          R[d] = dv.getInt32(at(pc, s, off, 4, PERM_READ), true);
          R[d + 1] = R[d]! >> 31;
          break;
        case 0x89:
          R[d] = dv.getInt16(at(pc, s, off, 2, PERM_READ), true);
          R[d + 1] = R[d]! >> 31;
          break;
        case 0x91:
          R[d] = dv.getInt8(at(pc, s, off, 1, PERM_READ));
          R[d + 1] = R[d]! >> 31;
          break;
        case 0x62:
          dv.setInt32(at(pc, d, off, 4, PERM_WRITE), imm, true);
          break;
        case 0x6a:
          dv.setInt16(at(pc, d, off, 2, PERM_WRITE), imm, true);
          break;
        case 0x72:
          heap[at(pc, d, off, 1, PERM_WRITE)] = imm;
          break;
        case 0x7a: {
          const o = at(pc, d, off, 8, PERM_WRITE);
          dv.setInt32(o, imm, true);
          dv.setInt32(o + 4, imm >> 31, true);
          break;
        }
        case 0x63:
          dv.setInt32(at(pc, d, off, 4, PERM_WRITE), R[s]!, true);
          break;
        case 0x6b:
          dv.setInt16(at(pc, d, off, 2, PERM_WRITE), R[s]!, true);
          break;
        case 0x73:
          heap[at(pc, d, off, 1, PERM_WRITE)] = R[s]!;
          break;
        case 0x7b: {
          const o = at(pc, d, off, 8, PERM_WRITE);
          dv.setInt32(o, R[s]!, true);
          dv.setInt32(o + 4, R[s + 1]!, true);
          break;
        }
        case 0xc3: {
          const o = at(pc, d, off, 4, PERM_RW);
          const old = dv.getInt32(o, true);
          const v = R[s]!;
          if (imm === 0xf1) {
            if (old === R[0]) dv.setInt32(o, v, true);
            R[0] = old;
            R[1] = 0;
            break;
          }
          const base = imm & 0xf0;
          const nv =
            base === 0x00
              ? (old + v) | 0
              : base === 0x40
                ? old | v
                : base === 0x50
                  ? old & v
                  : base === 0xa0
                    ? old ^ v
                    : v;
          dv.setInt32(o, nv, true);
          if (imm & 1) {
            R[s] = old;
            R[s + 1] = 0;
          }
          break;
        }
        default: {
          // 0xdb: 64-bit atomics
          const o = at(pc, d, off, 8, PERM_RW);
          const ol = dv.getInt32(o, true);
          const oh = dv.getInt32(o + 4, true);
          const vl = R[s]!;
          const vh = R[s + 1]!;
          if (imm === 0xf1) {
            if (ol === R[0] && oh === R[1]) {
              dv.setInt32(o, vl, true);
              dv.setInt32(o + 4, vh, true);
            }
            R[0] = ol;
            R[1] = oh;
            break;
          }
          const base = imm & 0xf0;
          let nl: number;
          let nh: number;
          if (base === 0x00) {
            nl = (ol + vl) | 0;
            nh = (oh + vh + (nl >>> 0 < ol >>> 0 ? 1 : 0)) | 0;
          } else if (base === 0x40) {
            nl = ol | vl;
            nh = oh | vh;
          } else if (base === 0x50) {
            nl = ol & vl;
            nh = oh & vh;
          } else if (base === 0xa0) {
            nl = ol ^ vl;
            nh = oh ^ vh;
          } else {
            nl = vl;
            nh = vh;
          }
          dv.setInt32(o, nl, true);
          dv.setInt32(o + 4, nh, true);
          if (imm & 1) {
            R[s] = ol;
            R[s + 1] = oh;
          }
        }
      }
      pc++;
    }
  }
}
