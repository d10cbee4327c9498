/**
 * The text `__xlated` patterns are matched against (pure): the kernel's disassembler (kernel/bpf/disasm.c,
 * print_bpf_insn, 6.12) as the selftests' disasm_helpers.c calls it — the `(code) ` prefix dropped, a
 * call's `#imm` suffix dropped, subprogram calls as `call pc<off>` — one `<index>: <insn>` line per
 * instruction (an ld_imm64 takes two slots).
 */
import { HELPER_NAMES } from "../uvm/helper-names.ts";

const ALU = ["+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=", "s>>=", "endian"];
const ALU_SIGNED: Record<number, string> = { 3: "s/=", 9: "s%=" };
const MOVSX: Record<number, string> = { 8: "(s8)", 16: "(s16)", 32: "(s32)" };
const ATOMIC_ALU: Record<number, string> = { 0: "add", 5: "and", 4: "or", 10: "xor" };
const LDST = ["u32", "u16", "u8", "u64"];
const LDSX = ["s32", "s16", "s8"];
const JMP = ["jmp", "==", ">", ">=", "&", "!=", "s>", "s>=", "call", "exit", "<", "<=", "s<", "s<="];
const CLASS = ["ld", "ldx", "st", "stx", "alu", "jmp", "jmp32", "alu64"];

const signed = (n: number) => (n >= 0 ? `+${n}` : `${n}`);
const hex32 = (n: number) => (n >>> 0).toString(16);

/** One instruction as disasm_insn() prints it. */
function insnText(v: DataView, i: number, count: number): string {
  const o = i * 8;
  const code = v.getUint8(o);
  const dst = v.getUint8(o + 1) & 0xf;
  const src = v.getUint8(o + 1) >> 4;
  const off = v.getInt16(o + 2, true);
  const imm = v.getInt32(o + 4, true);
  const cls = code & 7;
  const op = code >> 4;
  const size = (code >> 3) & 3;
  const mode = code & 0xe0;
  const isX = (code & 0x08) !== 0;
  if (cls === 4 || cls === 7) {
    const r = cls === 4 ? "w" : "r";
    if (op === 0xd)
      return cls === 7 ? `r${dst} = bswap${imm} r${dst}` : `r${dst} = ${isX ? "be" : "le"}${imm} r${dst}`;
    if (op === 0x8) return `${r}${dst} = -${r}${dst}`;
    if (code === 0xbf && off === 1)
      return `r${dst} = addr_space_cast(r${src}, ${imm >>> 16}, ${imm & 0xffff})`;
    if (code === 0xbf && off === -1) return `r${dst} = &(void __percpu *)(r${src})`;
    const sdiv = (op === 3 || op === 9) && off === 1;
    const opStr = sdiv ? ALU_SIGNED[op]! : (ALU[op] ?? "");
    if (isX) return `${r}${dst} ${opStr} ${op === 0xb ? (MOVSX[off] ?? "") : ""}${r}${src}`;
    return `${r}${dst} ${opStr} ${imm}`;
  }
  if (cls === 3) {
    const sz = LDST[size]!;
    if (mode === 0x60) return `*(${sz} *)(r${dst} ${signed(off)}) = r${src}`;
    if (mode === 0xc0) {
      const aop = imm & ~1;
      if ((imm === 0x00 || imm === 0x50 || imm === 0x40 || imm === 0xa0) && aop === imm)
        return `lock *(${sz} *)(r${dst} ${signed(off)}) ${ALU[imm >> 4]} r${src}`;
      const bits = size === 3 ? "64" : "";
      if ((imm & 1) === 1 && ATOMIC_ALU[aop >> 4] !== undefined && aop !== 0xe0 && aop !== 0xf0)
        return `r${src} = atomic${bits}_fetch_${ATOMIC_ALU[aop >> 4]}((${sz} *)(r${dst} ${signed(off)}), r${src})`;
      if (imm === 0xf1) return `r0 = atomic${bits}_cmpxchg((${sz} *)(r${dst} ${signed(off)}), r0, r${src})`;
      if (imm === 0xe1) return `r${src} = atomic${bits}_xchg((${sz} *)(r${dst} ${signed(off)}), r${src})`;
    }
    return `BUG_${code.toString(16).padStart(2, "0")}`;
  }
  if (cls === 2) {
    if (mode === 0x60) return `*(${LDST[size]} *)(r${dst} ${signed(off)}) = ${imm}`;
    if (mode === 0xc0) return "nospec";
    return `BUG_st_${code.toString(16).padStart(2, "0")}`;
  }
  if (cls === 1) {
    if (mode !== 0x60 && mode !== 0x80) return `BUG_ldx_${code.toString(16).padStart(2, "0")}`;
    return `r${dst} = *(${mode === 0x60 ? LDST[size] : LDSX[size]} *)(r${src} ${signed(off)})`;
  }
  if (cls === 0) {
    if (mode === 0x20) return `r0 = *(${LDST[size]} *)skb[${imm}]`;
    if (mode === 0x40) return `r0 = *(${LDST[size]} *)skb[r${src} + ${imm}]`;
    if (code === 0x18) {
      const hi = i + 1 < count ? v.getUint32(o + 12, true) : 0;
      const full = (BigInt(hi) << 32n) | BigInt(imm >>> 0);
      return `r${dst} = 0x${full.toString(16)}`;
    }
    return `BUG_ld_${code.toString(16).padStart(2, "0")}`;
  }
  // jmp, jmp32
  const r = cls === 6 ? "w" : "r";
  if (op === 0x8) {
    if (src === 1) return `call pc${signed(off)}`;
    if (src === 0 && imm >= 0 && HELPER_NAMES[imm]) return `call ${HELPER_NAMES[imm]}`;
    return `call ${src === 2 ? "kernel-function" : "unknown"}`;
  }
  if (code === 0x05) return `goto pc${signed(off)}`;
  if (code === 0xe5 && src === 0) return `may_goto pc${signed(off)}`;
  if (code === 0x06) return `gotol pc${signed(imm)}`;
  if (code === 0x95) return "exit";
  if (isX) return `if ${r}${dst} ${JMP[op] ?? ""} ${r}${src} goto pc${signed(off)}`;
  if (JMP[op] === undefined) return CLASS[cls]!;
  return `if ${r}${dst} ${JMP[op]} 0x${hex32(imm)} goto pc${signed(off)}`;
}

/** test_loader's get_xlated_program_text(): `<index>: <insn>` lines. */
export function xlatedText(insns: Uint8Array): string {
  const v = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  const count = insns.byteLength >> 3;
  let out = "";
  for (let i = 0; i < count; ) {
    out += `${i}: ${insnText(v, i, count)}\n`;
    i += v.getUint8(i * 8) === 0x18 ? 2 : 1;
  }
  return out;
}
