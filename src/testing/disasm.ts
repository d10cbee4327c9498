/**
 * The text `__xlated` patterns are matched against (pure): the kernel's disassembler (kernel/bpf/disasm.c,
 * print_bpf_insn, 6.12) as the selftests' disasm_helpers.c calls it — the `(code) ` prefix dropped, a
 * call's `#imm` suffix dropped, subprogram calls as `call pc<off>` — one `<index>: <insn>` line per
 * instruction (an ld_imm64 takes two slots).
 */
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
  Insns,
  opClass,
  opMode,
  opOp,
  opSize,
  opSrc,
} from "../asm/index.ts";
import { HELPER_NAMES } from "../uvm/helper-names.ts";

const ALU: Readonly<Record<number, string>> = {
  [BPF_ALU_OP.ADD]: "+=",
  [BPF_ALU_OP.SUB]: "-=",
  [BPF_ALU_OP.MUL]: "*=",
  [BPF_ALU_OP.DIV]: "/=",
  [BPF_ALU_OP.OR]: "|=",
  [BPF_ALU_OP.AND]: "&=",
  [BPF_ALU_OP.LSH]: "<<=",
  [BPF_ALU_OP.RSH]: ">>=",
  [BPF_ALU_OP.NEG]: "neg",
  [BPF_ALU_OP.MOD]: "%=",
  [BPF_ALU_OP.XOR]: "^=",
  [BPF_ALU_OP.MOV]: "=",
  [BPF_ALU_OP.ARSH]: "s>>=",
  [BPF_ALU_OP.END]: "endian",
};
const ALU_SIGNED: Readonly<Record<number, string>> = { [BPF_ALU_OP.DIV]: "s/=", [BPF_ALU_OP.MOD]: "s%=" };
const MOVSX: Readonly<Record<number, string>> = { 8: "(s8)", 16: "(s16)", 32: "(s32)" };
/** The atomic ALU ops disasm.c names in `atomic_fetch_<op>`. */
const ATOMIC_ALU: Readonly<Record<number, string>> = {
  [BPF_ATOMIC.ADD]: "add",
  [BPF_ATOMIC.AND]: "and",
  [BPF_ATOMIC.OR]: "or",
  [BPF_ATOMIC.XOR]: "xor",
};
const LDST: Readonly<Record<number, string>> = {
  [BPF_SIZE.W]: "u32",
  [BPF_SIZE.H]: "u16",
  [BPF_SIZE.B]: "u8",
  [BPF_SIZE.DW]: "u64",
};
const LDSX: Readonly<Record<number, string>> = {
  [BPF_SIZE.W]: "s32",
  [BPF_SIZE.H]: "s16",
  [BPF_SIZE.B]: "s8",
};
const JMP: Readonly<Record<number, string>> = {
  [BPF_JMP_OP.JA]: "jmp",
  [BPF_JMP_OP.JEQ]: "==",
  [BPF_JMP_OP.JGT]: ">",
  [BPF_JMP_OP.JGE]: ">=",
  [BPF_JMP_OP.JSET]: "&",
  [BPF_JMP_OP.JNE]: "!=",
  [BPF_JMP_OP.JSGT]: "s>",
  [BPF_JMP_OP.JSGE]: "s>=",
  [BPF_JMP_OP.CALL]: "call",
  [BPF_JMP_OP.EXIT]: "exit",
  [BPF_JMP_OP.JLT]: "<",
  [BPF_JMP_OP.JLE]: "<=",
  [BPF_JMP_OP.JSLT]: "s<",
  [BPF_JMP_OP.JSLE]: "s<=",
};
const CLASS: Readonly<Record<number, string>> = {
  [BPF_CLASS.LD]: "ld",
  [BPF_CLASS.LDX]: "ldx",
  [BPF_CLASS.ST]: "st",
  [BPF_CLASS.STX]: "stx",
  [BPF_CLASS.ALU]: "alu",
  [BPF_CLASS.JMP]: "jmp",
  [BPF_CLASS.JMP32]: "jmp32",
  [BPF_CLASS.ALU64]: "alu64",
};
/** The addr_space_cast and per-cpu address forms of BPF_ALU64 | BPF_MOV | BPF_X, told apart by `off`. */
const MOV64_X = BPF_CLASS.ALU64 | BPF_ALU_OP.MOV | BPF_SRC.X;
const OFF_ADDR_SPACE_CAST = 1;
const OFF_PERCPU_ADDR = -1;

const signed = (n: number) => (n >= 0 ? `+${n}` : `${n}`);
const hex32 = (n: number) => (n >>> 0).toString(16);
const bug = (what: string, code: number) => `BUG${what}_${code.toString(16).padStart(2, "0")}`;

/** One instruction as disasm_insn() prints it. */
function insnText(v: Insns, i: number, count: number): string {
  const { code, dst, src, off, imm } = v.at(i);
  const cls = opClass(code);
  const op = opOp(code);
  const size = opSize(code);
  const mode = opMode(code);
  const isX = opSrc(code) === BPF_SRC.X;
  if (cls === BPF_CLASS.ALU || cls === BPF_CLASS.ALU64) {
    const wide = cls === BPF_CLASS.ALU64;
    const r = wide ? "r" : "w";
    if (op === BPF_ALU_OP.END)
      return wide
        ? `r${dst} = bswap${imm} r${dst}`
        : `r${dst} = ${opSrc(code) === BPF_END.TO_BE ? "be" : "le"}${imm} r${dst}`;
    if (op === BPF_ALU_OP.NEG) return `${r}${dst} = -${r}${dst}`;
    if (code === MOV64_X && off === OFF_ADDR_SPACE_CAST)
      return `r${dst} = addr_space_cast(r${src}, ${imm >>> 16}, ${imm & 0xffff})`;
    if (code === MOV64_X && off === OFF_PERCPU_ADDR) return `r${dst} = &(void __percpu *)(r${src})`;
    const sdiv = (op === BPF_ALU_OP.DIV || op === BPF_ALU_OP.MOD) && off === BPF_OFF_SIGNED;
    const opStr = sdiv ? ALU_SIGNED[op]! : (ALU[op] ?? "");
    if (isX) return `${r}${dst} ${opStr} ${op === BPF_ALU_OP.MOV ? (MOVSX[off] ?? "") : ""}${r}${src}`;
    return `${r}${dst} ${opStr} ${imm}`;
  }
  if (cls === BPF_CLASS.STX) {
    const sz = LDST[size]!;
    if (mode === BPF_MODE.MEM) return `*(${sz} *)(r${dst} ${signed(off)}) = r${src}`;
    if (mode === BPF_MODE.ATOMIC) {
      const aop = imm & ~BPF_ATOMIC.FETCH;
      if (ATOMIC_ALU[imm] !== undefined && aop === imm)
        return `lock *(${sz} *)(r${dst} ${signed(off)}) ${ALU[imm]} r${src}`;
      const bits = size === BPF_SIZE.DW ? "64" : "";
      if ((imm & BPF_ATOMIC.FETCH) !== 0 && ATOMIC_ALU[aop] !== undefined)
        return `r${src} = atomic${bits}_fetch_${ATOMIC_ALU[aop]}((${sz} *)(r${dst} ${signed(off)}), r${src})`;
      if (imm === BPF_ATOMIC.CMPXCHG)
        return `r0 = atomic${bits}_cmpxchg((${sz} *)(r${dst} ${signed(off)}), r0, r${src})`;
      if (imm === BPF_ATOMIC.XCHG)
        return `r${src} = atomic${bits}_xchg((${sz} *)(r${dst} ${signed(off)}), r${src})`;
    }
    return bug("", code);
  }
  if (cls === BPF_CLASS.ST) {
    if (mode === BPF_MODE.MEM) return `*(${LDST[size]} *)(r${dst} ${signed(off)}) = ${imm}`;
    if (mode === BPF_MODE.ATOMIC) return "nospec";
    return bug("_st", code);
  }
  if (cls === BPF_CLASS.LDX) {
    if (mode !== BPF_MODE.MEM && mode !== BPF_MODE.MEMSX) return bug("_ldx", code);
    return `r${dst} = *(${mode === BPF_MODE.MEM ? LDST[size] : LDSX[size]} *)(r${src} ${signed(off)})`;
  }
  if (cls === BPF_CLASS.LD) {
    if (mode === BPF_MODE.ABS) return `r0 = *(${LDST[size]} *)skb[${imm}]`;
    if (mode === BPF_MODE.IND) return `r0 = *(${LDST[size]} *)skb[r${src} + ${imm}]`;
    if (code === BPF_INSN.LD_IMM64) {
      const hi = i + 1 < count ? v.imm(i + 1) >>> 0 : 0;
      const full = (BigInt(hi) << 32n) | BigInt(imm >>> 0);
      return `r${dst} = 0x${full.toString(16)}`;
    }
    return bug("_ld", code);
  }
  // jmp, jmp32
  const r = cls === BPF_CLASS.JMP32 ? "w" : "r";
  if (op === BPF_JMP_OP.CALL) {
    if (src === BPF_PSEUDO.CALL) return `call pc${signed(off)}`;
    if (src === 0 && imm >= 0 && HELPER_NAMES[imm]) return `call ${HELPER_NAMES[imm]}`;
    return `call ${src === BPF_PSEUDO.KFUNC_CALL ? "kernel-function" : "unknown"}`;
  }
  if (code === BPF_INSN.JA) return `goto pc${signed(off)}`;
  if (code === BPF_INSN.MAY_GOTO && src === 0) return `may_goto pc${signed(off)}`;
  if (code === BPF_INSN.JA32) return `gotol pc${signed(imm)}`;
  if (code === BPF_INSN.EXIT) return "exit";
  if (isX) return `if ${r}${dst} ${JMP[op] ?? ""} ${r}${src} goto pc${signed(off)}`;
  if (JMP[op] === undefined) return CLASS[cls]!;
  return `if ${r}${dst} ${JMP[op]} 0x${hex32(imm)} goto pc${signed(off)}`;
}

/** test_loader's get_xlated_program_text(): `<index>: <insn>` lines. */
export function xlatedText(insns: Uint8Array): string {
  const v = new Insns(insns);
  const count = v.count;
  let out = "";
  for (let i = 0; i < count; ) {
    out += `${i}: ${insnText(v, i, count)}\n`;
    i += v.isLdImm64(i) ? 2 : 1;
  }
  return out;
}
