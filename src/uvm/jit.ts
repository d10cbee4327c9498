import * as asm from "../asm/index.ts";
import * as alu from "./alu.ts";
import { CODE_BASE, type Code, insnAt, isJump, jumpOffset } from "./code.ts";
import type { CallBack, Engine, Env, RunOptions } from "./engine.ts";
import { Unwind } from "./fault.ts";
import { callError, fault, wildAccess } from "./faults.ts";
import { BASE, PERM_READ, PERM_RW, PERM_WRITE } from "./memory.ts";

/**
 * The JIT: eBPF to JavaScript source, compiled once by `new Function` and then by V8's optimising tiers.
 * One JS function per eBPF function (entry 0, every local-call target, every code address taken with
 * lddw src=4). Registers are int32 locals (lN = low half, hN = high half), so 32-bit operations are plain
 * int32 arithmetic and 64-bit ones a few int32 operations; control flow is a loop over a switch on dense
 * basic-block numbers. Every load/store is bounds-checked like the interpreter's, and every block charges
 * its length against the instruction budget.
 */
export function compile(code: Code, env: Env): Engine {
  const src = generate(code, env);
  const factory = new Function("ctx", src) as (ctx: JitContext) => JitModule;
  const ctx: JitContext = {
    heap: env.mem.heap,
    dv: env.mem.dv,
    P: env.mem.perm,
    OUT: alu.OUT,
    HF: env.helpers,
    KF: env.kfuncs,
    ST: env.stackTops,
    alu,
    W: (pc, reg, lo, hi, off, n, perm) => {
      throw wildAccess(code, env.mem, pc, reg, lo, hi, off, n, perm);
    },
    F: (kind, pc, what) => {
      throw fault(code, kind as Parameters<typeof fault>[1], pc, what);
    },
  };
  const mod = factory(ctx);
  return {
    code,
    run(r1l: number, r1h: number, r2l: number, r2h: number, opts: RunOptions): number {
      try {
        return mod.run(r1l, r1h, r2l, r2h, opts.budget);
      } catch (e) {
        if (e instanceof Unwind) {
          alu.OUT[0] = e.hi;
          return e.lo;
        }
        throw callError(code, mod.cpc(), e);
      }
    },
  };
}

/** The generated source, for debugging (`KFUNC_KIT_UVM_DUMP=1` is not needed: call this). */
export function generate(code: Code, env: Env): string {
  return new Generator(code, env).module();
}

interface JitContext {
  heap: Uint8Array;
  dv: DataView;
  P: Uint8Array;
  OUT: Int32Array;
  HF: Env["helpers"];
  KF: Env["kfuncs"];
  ST: readonly number[];
  alu: typeof alu;
  W: (pc: number, reg: number, lo: number, hi: number, off: number, n: number, perm: number) => never;
  F: (kind: string, pc: number, what: string) => never;
}

interface JitModule {
  cpc(): number;
  run(r1l: number, r1h: number, r2l: number, r2h: number, budget: number): number;
  call: CallBack;
}

const ARGS = "l1,h1,l2,h2,l3,h3,l4,h4,l5,h5";

class Generator {
  private readonly entries: number[];
  private readonly cap: number;

  constructor(
    private readonly c: Code,
    private readonly env: Env,
  ) {
    this.entries = functionEntries(c);
    this.cap = env.mem.capacity;
  }

  module(): string {
    const out: string[] = [
      '"use strict";',
      "const {heap, dv, P, OUT, HF, KF, ST, W, F} = ctx;",
      "const {lsh64, rsh64, arsh64, udiv64, umod64, sdiv64, smod64, udiv32, umod32, sdiv32, smod32} = ctx.alu;",
      "let B = 0, D = 0, RH = 0, CPC = 0;",
      "const A = new Int32Array(10);",
      `const MAXD = ${this.env.stackTops.length};`,
    ];
    for (const e of this.entries) out.push(this.fn(e));
    out.push(`const FN = new Map([${this.entries.map((e) => `[${e}, f${e}]`).join(", ")}]);`);
    out.push(
      "function CB(pc, a) {",
      "  const f = FN.get(pc);",
      `  if (!f) F("bad-program", pc, "not a function entry");`,
      `  if (++D >= MAXD) F("stack-overflow", pc, "call depth exceeds " + MAXD + " frames");`,
      "  a[0] = f(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]);",
      "  a[1] = RH; D--;",
      "}",
      "return {",
      "  run(r1l, r1h, r2l, r2h, budget) { B = budget; D = 0; const lo = f0(r1l, r1h, r2l, r2h, 0, 0, 0, 0, 0, 0); OUT[0] = RH; return lo; },",
      "  call: CB,",
      "  cpc: () => CPC,",
      "};",
    );
    return out.join("\n");
  }

  private fn(entry: number): string {
    const c = this.c;
    const { pcs, leaders } = reachFrom(this.c, entry);
    const blockOf = new Map<number, number>();
    for (const pc of [...leaders].sort((a, b) => a - b)) blockOf.set(pc, blockOf.size);
    const lines: string[] = [
      `function f${entry}(${ARGS}) {`,
      "  let l0 = 0, h0 = 0, l6 = 0, h6 = 0, l7 = 0, h7 = 0, l8 = 0, h8 = 0, l9 = 0, h9 = 0;",
      "  let l10 = ST[D], h10 = 0;",
      "  let t = 0, o = 0, a0 = 0, a1 = 0, b0 = 0, b1 = 0, p01 = 0, p10 = 0, m = 0, f = null;",
      `  let b = ${blockOf.get(entry)};`,
      "  for (;;) switch (b) {",
    ];
    const jump = (target: number): string => `{ b = ${blockOf.get(target)}; continue; }`;
    let prevFalls = false;
    for (let i = 0; i < pcs.length; i++) {
      const pc = pcs[i]!;
      if (pc === c.count) {
        if (prevFalls) lines.push(`  F("bad-program", ${pc}, "execution ran off the end of the program");`);
        break;
      }
      if (c.op[pc - 1] === asm.BPF_INSN.LD_IMM64 && pcs[i - 1] === pc - 1 && !leaders.has(pc)) continue; // lddw's 2nd half
      if (leaders.has(pc)) {
        // the block's length: up to the next leader or the end of straight-line code
        let n = 0;
        for (let j = i; j < pcs.length && pcs[j]! < c.count; j++) {
          if (j > i && (leaders.has(pcs[j]!) || pcs[j] !== pcs[j - 1]! + 1)) break;
          n++;
        }
        lines.push(`  case ${blockOf.get(pc)}:`);
        lines.push(
          `    if ((B -= ${n}) < 0) F("budget", ${pc}, "instruction budget exhausted (an unbounded loop?)");`,
        );
      } else if (!prevFalls) continue;
      const { text, falls } = this.insn(pc, jump);
      lines.push(`    ${text}`);
      prevFalls = falls;
      if (c.op[pc] === asm.BPF_INSN.LD_IMM64) i++;
    }
    lines.push("  }", "}");
    return lines.join("\n");
  }

  private insn(pc: number, jump: (t: number) => string): { text: string; falls: boolean } {
    const c = this.c;
    const { code: op, dst: d, src: s, imm, off } = insnAt(c, pc);
    const cls = asm.opClass(op);
    const L = `l${d}`;
    const H = `h${d}`;
    const X = asm.opSrc(op) === asm.BPF_SRC.X;
    const BL = X ? `l${s}` : `${imm}`;
    const BH = X ? `h${s}` : `${imm >> 31}`;
    const falls = (text: string) => ({ text, falls: true });
    if (cls === asm.BPF_CLASS.ALU64)
      return falls(this.alu64(asm.opOp(op), L, H, BL, BH, X ? s : -1, imm, off));
    if (cls === asm.BPF_CLASS.ALU)
      return falls(this.alu32(op, L, H, X ? `l${s}` : `${imm}`, X ? -1 : imm, imm, off));
    if (cls === asm.BPF_CLASS.JMP || cls === asm.BPF_CLASS.JMP32) {
      const sub = asm.opOp(op);
      if (op === asm.BPF_INSN.EXIT) return { text: "RH = h0; return l0;", falls: false };
      if (op === asm.BPF_INSN.JA || op === asm.BPF_INSN.JA32)
        return { text: jump(pc + jumpOffset(c, pc) + 1), falls: false };
      if (op === asm.BPF_INSN.CALL || op === asm.BPF_INSN.CALLX) return falls(this.call(pc, op, s, d, imm));
      const target = jump(pc + off + 1);
      let cond: string;
      if (cls === asm.BPF_CLASS.JMP) {
        const ult = (al: string, ah: string, bl: string, bh: string) =>
          `(${ah} === ${bh} ? (${al} >>> 0) < (${bl} >>> 0) : (${ah} >>> 0) < (${bh} >>> 0))`;
        const slt = (al: string, ah: string, bl: string, bh: string) =>
          `(${ah} === ${bh} ? (${al} >>> 0) < (${bl} >>> 0) : ${ah} < ${bh})`;
        switch (sub) {
          case asm.BPF_JMP_OP.JEQ:
            cond = `${L} === ${BL} && ${H} === ${BH}`;
            break;
          case asm.BPF_JMP_OP.JGT:
            cond = ult(BL, BH, L, H);
            break;
          case asm.BPF_JMP_OP.JGE:
            cond = `!${ult(L, H, BL, BH)}`;
            break;
          case asm.BPF_JMP_OP.JSET:
            cond = `((${L} & ${BL}) | (${H} & ${BH})) !== 0`;
            break;
          case asm.BPF_JMP_OP.JNE:
            cond = `${L} !== ${BL} || ${H} !== ${BH}`;
            break;
          case asm.BPF_JMP_OP.JSGT:
            cond = slt(BL, BH, L, H);
            break;
          case asm.BPF_JMP_OP.JSGE:
            cond = `!${slt(L, H, BL, BH)}`;
            break;
          case asm.BPF_JMP_OP.JLT:
            cond = ult(L, H, BL, BH);
            break;
          case asm.BPF_JMP_OP.JLE:
            cond = `!${ult(BL, BH, L, H)}`;
            break;
          case asm.BPF_JMP_OP.JSLT:
            cond = slt(L, H, BL, BH);
            break;
          default: // asm.BPF_JMP_OP.JSLE
            cond = `!${slt(BL, BH, L, H)}`;
        }
      } else {
        const b = X ? `l${s}` : `${imm}`;
        const ub = X ? `(l${s} >>> 0)` : `${imm >>> 0}`;
        const ops: Record<number, string> = {
          [asm.BPF_JMP_OP.JEQ]: `${L} === ${b}`,
          [asm.BPF_JMP_OP.JGT]: `(${L} >>> 0) > ${ub}`,
          [asm.BPF_JMP_OP.JGE]: `(${L} >>> 0) >= ${ub}`,
          [asm.BPF_JMP_OP.JSET]: `(${L} & ${b}) !== 0`,
          [asm.BPF_JMP_OP.JNE]: `${L} !== ${b}`,
          [asm.BPF_JMP_OP.JSGT]: `${L} > ${b}`,
          [asm.BPF_JMP_OP.JSGE]: `${L} >= ${b}`,
          [asm.BPF_JMP_OP.JLT]: `(${L} >>> 0) < ${ub}`,
          [asm.BPF_JMP_OP.JLE]: `(${L} >>> 0) <= ${ub}`,
          [asm.BPF_JMP_OP.JSLT]: `${L} < ${b}`,
          [asm.BPF_JMP_OP.JSLE]: `${L} <= ${b}`,
        };
        cond = ops[sub]!;
      }
      return falls(`if (${cond}) ${target}`);
    }
    return falls(this.mem(pc, op, d, s, off, imm));
  }

  private alu64(
    sub: number,
    L: string,
    H: string,
    BL: string,
    BH: string,
    sreg: number,
    imm: number,
    off: number,
  ): string {
    const constShift = sreg < 0;
    switch (sub) {
      case asm.BPF_ALU_OP.ADD:
        return `t = (${L} + ${BL}) | 0; ${H} = (${H} + ${BH} + ((t >>> 0) < (${L} >>> 0) ? 1 : 0)) | 0; ${L} = t;`;
      case asm.BPF_ALU_OP.SUB:
        return `t = (${L} - ${BL}) | 0; ${H} = (${H} - ${BH} - ((${L} >>> 0) < (${BL} >>> 0) ? 1 : 0)) | 0; ${L} = t;`;
      case asm.BPF_ALU_OP.MUL:
        return (
          `a0 = ${L} & 65535; a1 = ${L} >>> 16; b0 = ${BL} & 65535; b1 = ${BL} >>> 16; p01 = Math.imul(a0, b1); p10 = Math.imul(a1, b0); ` +
          `m = (Math.imul(a0, b0) >>> 16) + (p01 & 65535) + (p10 & 65535); ` +
          `t = (Math.imul(a1, b1) + (p01 >>> 16) + (p10 >>> 16) + (m >>> 16) + Math.imul(${L}, ${BH}) + Math.imul(${H}, ${BL})) | 0; ` +
          `${L} = Math.imul(${L}, ${BL}); ${H} = t;`
        );
      case asm.BPF_ALU_OP.DIV:
        return `${L} = ${off === asm.BPF_OFF_SIGNED ? "sdiv64" : "udiv64"}(${L}, ${H}, ${BL}, ${BH}); ${H} = OUT[0];`;
      case asm.BPF_ALU_OP.MOD:
        return `${L} = ${off === asm.BPF_OFF_SIGNED ? "smod64" : "umod64"}(${L}, ${H}, ${BL}, ${BH}); ${H} = OUT[0];`;
      case asm.BPF_ALU_OP.OR:
        return `${L} |= ${BL}; ${H} |= ${BH};`;
      case asm.BPF_ALU_OP.AND:
        return `${L} &= ${BL}; ${H} &= ${BH};`;
      case asm.BPF_ALU_OP.XOR:
        return `${L} ^= ${BL}; ${H} ^= ${BH};`;
      case asm.BPF_ALU_OP.NEG:
        return `${H} = (0 - ${H} - (${L} !== 0 ? 1 : 0)) | 0; ${L} = -${L} | 0;`;
      case asm.BPF_ALU_OP.MOV:
        if (off === 8) return `${L} = (${BL} << 24) >> 24; ${H} = ${L} >> 31;`;
        if (off === 16) return `${L} = (${BL} << 16) >> 16; ${H} = ${L} >> 31;`;
        if (off === 32) return `${L} = ${BL}; ${H} = ${L} >> 31;`;
        return `${L} = ${BL}; ${H} = ${BH};`;
      case asm.BPF_ALU_OP.LSH:
      case asm.BPF_ALU_OP.RSH:
      case asm.BPF_ALU_OP.ARSH: {
        if (!constShift) {
          const f = sub === asm.BPF_ALU_OP.LSH ? "lsh64" : sub === asm.BPF_ALU_OP.RSH ? "rsh64" : "arsh64";
          return `${L} = ${f}(${L}, ${H}, ${BL}); ${H} = OUT[0];`;
        }
        const n = imm & 63;
        if (n === 0) return "";
        if (sub === asm.BPF_ALU_OP.LSH)
          return n < 32
            ? `${H} = (${H} << ${n}) | (${L} >>> ${32 - n}); ${L} = ${L} << ${n};`
            : `${H} = ${L} << ${n - 32}; ${L} = 0;`;
        if (sub === asm.BPF_ALU_OP.RSH)
          return n < 32
            ? `${L} = (${L} >>> ${n}) | (${H} << ${32 - n}); ${H} = (${H} >>> ${n}) | 0;`
            : `${L} = (${H} >>> ${n - 32}) | 0; ${H} = 0;`;
        return n < 32
          ? `${L} = (${L} >>> ${n}) | (${H} << ${32 - n}); ${H} = ${H} >> ${n};`
          : `${L} = ${H} >> ${n - 32}; ${H} = ${H} >> 31;`;
      }
      default: // asm.BPF_ALU_OP.END: bswap
        if (imm === 16) return `${L} = ((${L} & 255) << 8) | ((${L} >>> 8) & 255); ${H} = 0;`;
        if (imm === 32) return `${L} = ${bswap32(L)}; ${H} = 0;`;
        return `t = ${bswap32(H)}; ${H} = ${bswap32(L)}; ${L} = t;`;
    }
  }

  private alu32(
    op: number,
    L: string,
    H: string,
    B: string,
    constB: number,
    imm: number,
    off: number,
  ): string {
    const isConst = constB !== -1 || !B.startsWith("l");
    const n = imm & 31;
    let r: string;
    switch (asm.opOp(op)) {
      case asm.BPF_ALU_OP.ADD:
        r = `(${L} + ${B}) | 0`;
        break;
      case asm.BPF_ALU_OP.SUB:
        r = `(${L} - ${B}) | 0`;
        break;
      case asm.BPF_ALU_OP.MUL:
        r = `Math.imul(${L}, ${B})`;
        break;
      case asm.BPF_ALU_OP.DIV:
        r = `${off === asm.BPF_OFF_SIGNED ? "sdiv32" : "udiv32"}(${L}, ${B})`;
        break;
      case asm.BPF_ALU_OP.OR:
        r = `${L} | ${B}`;
        break;
      case asm.BPF_ALU_OP.AND:
        r = `${L} & ${B}`;
        break;
      case asm.BPF_ALU_OP.LSH:
        r = isConst ? `${L} << ${n}` : `${L} << (${B} & 31)`;
        break;
      case asm.BPF_ALU_OP.RSH:
        r = isConst ? `(${L} >>> ${n}) | 0` : `(${L} >>> (${B} & 31)) | 0`;
        break;
      case asm.BPF_ALU_OP.NEG:
        r = `-${L} | 0`;
        break;
      case asm.BPF_ALU_OP.MOD:
        r = `${off === asm.BPF_OFF_SIGNED ? "smod32" : "umod32"}(${L}, ${B})`;
        break;
      case asm.BPF_ALU_OP.XOR:
        r = `${L} ^ ${B}`;
        break;
      case asm.BPF_ALU_OP.MOV:
        r = off === 8 ? `(${B} << 24) >> 24` : off === 16 ? `(${B} << 16) >> 16` : `${B}`;
        break;
      case asm.BPF_ALU_OP.ARSH:
        r = isConst ? `${L} >> ${n}` : `${L} >> (${B} & 31)`;
        break;
      default: // asm.BPF_ALU_OP.END
        if (imm === 64)
          return asm.opSrc(op) === asm.BPF_END.TO_BE
            ? `t = ${bswap32(H)}; ${H} = ${bswap32(L)}; ${L} = t;`
            : "";
        if (asm.opSrc(op) === asm.BPF_END.TO_BE)
          r = imm === 16 ? `((${L} & 255) << 8) | ((${L} >>> 8) & 255)` : bswap32(L);
        else r = imm === 16 ? `${L} & 65535` : L;
    }
    return `${L} = ${r}; ${H} = 0;`;
  }

  private call(pc: number, op: number, s: number, d: number, imm: number): string {
    const c = this.c;
    const pass = `CPC = ${pc}; A[0] = l1; A[1] = h1; A[2] = l2; A[3] = h2; A[4] = l3; A[5] = h3; A[6] = l4; A[7] = h4; A[8] = l5; A[9] = h5;`;
    const back = "l0 = A[0]; h0 = A[1];";
    if (op === asm.BPF_INSN.CALLX)
      return `f = HF[l${d} >>> 0]; if (h${d} !== 0 || !f) F("unknown-helper", ${pc}, "no helper with id " + (l${d} >>> 0)); ${pass} f(A, CB); ${back}`;
    if (s === asm.BPF_PSEUDO.CALL) {
      const t = pc + c.imm[pc]! + 1;
      return `if (++D >= MAXD) F("stack-overflow", ${pc}, "call depth exceeds ${this.env.stackTops.length} frames"); l0 = f${t}(${ARGS}); h0 = RH; D--;`;
    }
    if (s === asm.BPF_PSEUDO.KFUNC_CALL) {
      if (!this.env.kfuncs[imm]) return `F("kfunc", ${pc}, "kfunc #${imm} has no binding");`;
      return `${pass} KF[${imm}](A, CB); ${back}`;
    }
    if (!this.env.helpers[imm]) return `F("unknown-helper", ${pc}, "no helper with id ${imm}");`;
    return `${pass} HF[${imm}](A, CB); ${back}`;
  }

  private check(pc: number, reg: number, off: number, n: number, perm: number): string {
    const p = n === 1 ? `P[o] & ${perm}` : `P[o] & P[o + ${n - 1}] & ${perm}`;
    return (
      `o = (l${reg} + ${off - BASE}) | 0; ` +
      `if (h${reg} !== 0 || (o >>> 0) >= ${this.cap} || (${p}) === 0) W(${pc}, ${reg}, l${reg}, h${reg}, ${off}, ${n}, ${perm}); `
    );
  }

  private mem(pc: number, op: number, d: number, s: number, off: number, imm: number): string {
    const L = `l${d}`;
    const H = `h${d}`;
    const c = this.c;
    if (op === asm.BPF_INSN.LD_IMM64) {
      if (c.src[pc] === asm.BPF_PSEUDO.FUNC) return `${L} = ${CODE_BASE + (pc + imm + 1) * 8}; ${H} = 0;`;
      return `${L} = ${imm}; ${H} = ${c.imm[pc + 1]!};`;
    }
    const n = asm.opBytes(op);
    const cls = asm.opClass(op);
    const mode = asm.opMode(op);
    if (cls === asm.BPF_CLASS.LDX) {
      const chk = this.check(pc, s, off, n, PERM_READ);
      if (mode === asm.BPF_MODE.MEMSX) return `${chk}${L} = ${LOAD_SX[n]}; ${H} = ${L} >> 31;`;
      if (n === 8) return `${chk}${L} = dv.getInt32(o, true); ${H} = dv.getInt32(o + 4, true);`;
      return `${chk}${L} = ${LOAD[n]}; ${H} = 0;`;
    }
    if (mode === asm.BPF_MODE.MEM) {
      const chk = this.check(pc, d, off, n, PERM_WRITE);
      const [v, vh] = cls === asm.BPF_CLASS.ST ? [`${imm}`, `${imm >> 31}`] : [`l${s}`, `h${s}`];
      if (n === 8) return `${chk}dv.setInt32(o, ${v}, true); dv.setInt32(o + 4, ${vh}, true);`;
      return `${chk}${STORE[n]!(v)}`;
    }
    // BPF_STX | asm.BPF_ATOMIC
    const base = asm.opOp(imm);
    const fetch = (imm & asm.BPF_ATOMIC.FETCH) !== 0;
    if (n === 4) {
      const S = `l${s}`;
      const pre = `${this.check(pc, d, off, 4, PERM_RW)}t = dv.getInt32(o, true); `;
      if (imm === asm.BPF_ATOMIC.CMPXCHG)
        return `${pre}if (t === l0) dv.setInt32(o, ${S}, true); l0 = t; h0 = 0;`;
      const nv =
        base === asm.BPF_ATOMIC.ADD ? `(t + ${S}) | 0` : ATOMIC_JS[base] ? `t ${ATOMIC_JS[base]} ${S}` : S;
      return `${pre}dv.setInt32(o, ${nv}, true);${fetch ? ` ${S} = t; h${s} = 0;` : ""}`;
    }
    const SL = `l${s}`;
    const SH = `h${s}`;
    const pre = `${this.check(pc, d, off, 8, PERM_RW)}a0 = dv.getInt32(o, true); a1 = dv.getInt32(o + 4, true); `;
    if (imm === asm.BPF_ATOMIC.CMPXCHG)
      return `${pre}if (a0 === l0 && a1 === h0) { dv.setInt32(o, ${SL}, true); dv.setInt32(o + 4, ${SH}, true); } l0 = a0; h0 = a1;`;
    let nv: string;
    if (base === asm.BPF_ATOMIC.ADD)
      nv = `t = (a0 + ${SL}) | 0; dv.setInt32(o, t, true); dv.setInt32(o + 4, (a1 + ${SH} + ((t >>> 0) < (a0 >>> 0) ? 1 : 0)) | 0, true);`;
    else {
      const f = ATOMIC_JS[base] ?? "";
      nv = f
        ? `dv.setInt32(o, a0 ${f} ${SL}, true); dv.setInt32(o + 4, a1 ${f} ${SH}, true);`
        : `dv.setInt32(o, ${SL}, true); dv.setInt32(o + 4, ${SH}, true);`;
    }
    return `${pre}${nv}${fetch ? ` ${SL} = a0; ${SH} = a1;` : ""}`;
  }
}

/** Loads (zero-extending) and sign-extending loads of 1, 2, 4 bytes at `o`; stores of 1, 2, 4 bytes. */
const LOAD: Record<number, string> = { 1: "heap[o]", 2: "dv.getUint16(o, true)", 4: "dv.getInt32(o, true)" };
const LOAD_SX: Record<number, string> = {
  1: "dv.getInt8(o)",
  2: "dv.getInt16(o, true)",
  4: "dv.getInt32(o, true)",
};
const STORE: Record<number, (v: string) => string> = {
  1: (v) => `heap[o] = ${v};`,
  2: (v) => `dv.setInt16(o, ${v}, true);`,
  4: (v) => `dv.setInt32(o, ${v}, true);`,
};
/** The bitwise atomics as JS operators (ADD needs a carry; XCHG stores the source). */
const ATOMIC_JS: Record<number, string> = {
  [asm.BPF_ATOMIC.OR]: "|",
  [asm.BPF_ATOMIC.AND]: "&",
  [asm.BPF_ATOMIC.XOR]: "^",
};

function bswap32(x: string): string {
  return `(((${x} & 255) << 24) | ((${x} & 65280) << 8) | ((${x} >>> 8) & 65280) | (${x} >>> 24))`;
}

/** Instructions reachable from `entry` without following calls, and the jump targets among them (block leaders). */
export function reachFrom(c: Code, entry: number): { pcs: number[]; leaders: Set<number> } {
  const seen = new Uint8Array(c.count + 1);
  const leaders = new Set<number>([entry]);
  const work = [entry];
  while (work.length) {
    let pc = work.pop()!;
    while (pc < c.count && !seen[pc]) {
      seen[pc] = 1;
      const op = c.op[pc]!;
      if (op === asm.BPF_INSN.LD_IMM64) {
        seen[pc + 1] = 1;
        pc += 2;
        continue;
      }
      if (op === asm.BPF_INSN.EXIT) break;
      if (isJump(op)) {
        const t = pc + jumpOffset(c, pc) + 1;
        leaders.add(t);
        work.push(t);
        if (op === asm.BPF_INSN.JA || op === asm.BPF_INSN.JA32) break;
      }
      pc++;
    }
    if (pc >= c.count) seen[c.count] = 1;
  }
  const pcs: number[] = [];
  for (let pc = 0; pc <= c.count; pc++) if (seen[pc]) pcs.push(pc);
  return { pcs, leaders };
}

/** Function entries: 0, every local-call target, every code address taken with lddw src=4. */
export function functionEntries(c: Code): number[] {
  const e = new Set<number>([0]);
  for (let pc = 0; pc < c.count; pc++) {
    if (c.op[pc] === asm.BPF_INSN.CALL && c.src[pc] === asm.BPF_PSEUDO.CALL) e.add(pc + c.imm[pc]! + 1);
    if (c.op[pc] === asm.BPF_INSN.LD_IMM64) {
      if (c.src[pc] === asm.BPF_PSEUDO.FUNC) e.add(pc + c.imm[pc]! + 1);
      pc++;
    }
  }
  return [...e].sort((a, b) => a - b);
}
