/** src/asm: the one eBPF instruction encoder/decoder (pure). */
export * from "./codec.ts";
export * from "./fields.ts";
export * from "./insn.ts";
export * from "./opcodes.ts";
