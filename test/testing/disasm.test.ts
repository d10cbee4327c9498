/**
 * The `__xlated` text (src/testing/disasm.ts) is the kernel's disassembler as the selftests call it
 * (kernel/bpf/disasm.c through disasm_helpers.c, 6.12): the strings below are the 6.12 selftests' own
 * `__xlated` expectations for these instructions, and `__xlated` patterns parse with test_loader's "…" rule.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { encodeInsns, type Insn, insn } from "../../src/asm/index.ts";
import { xlatedText } from "../../src/testing/disasm.ts";

// insn(code, dst, src, off, imm): raw fields, since these are the forms the kernel's disassembler prints
const prog = (...xs: Insn[]) => encodeInsns(xs);

test("xlated text: ALU, memory, jumps, calls, ld_imm64 and the sdiv/movsx/percpu forms, as disasm.c prints them", () => {
  const text = xlatedText(
    prog(
      insn(0xb7, 0, 0, 0, 1), // r0 = 1
      insn(0x07, 0, 0, 0, -2), // r0 += -2
      insn(0xbc, 1, 2, 0, 0), // w1 = w2
      insn(0xbf, 1, 2, 8, 0), // r1 = (s8)r2
      insn(0x3f, 1, 2, 1, 0), // r1 s/= r2
      insn(0x7b, 10, 1, -8, 0), // *(u64 *)(r10 -8) = r1
      insn(0x79, 0, 10, -8, 0), // r0 = *(u64 *)(r10 -8)
      insn(0x91, 0, 10, -1, 0), // r0 = *(s8 *)(r10 -1)
      insn(0x62, 10, 0, -4, 7), // *(u32 *)(r10 -4) = 7
      insn(0xdb, 10, 1, -8, 0x01), // r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)
      insn(0xc3, 10, 1, -4, 0x00), // lock *(u32 *)(r10 -4) += r1
      insn(0x15, 1, 0, 2, -1), // if r1 == 0xffffffff goto pc+2
      insn(0x2e, 1, 2, -3, 0), // if w1 > w2 goto pc-3
      insn(0x05, 0, 0, 0, 0), // goto pc+0
      insn(0x85, 0, 0, 0, 8), // call bpf_get_smp_processor_id
      insn(0x85, 0, 1, 4, 0), // call pc+4
      insn(0x85, 0, 2, 0, 12345), // call kernel-function
      insn(0xbf, 0, 0, -1, 0), // r0 = &(void __percpu *)(r0)
      insn(0x18, 1, 0, 0, 0x12345678),
      insn(0, 0, 0, 0, 1), // r1 = 0x112345678
      insn(0xd7, 2, 0, 0, 32), // r2 = bswap32 r2
      insn(0xdc, 3, 0, 0, 16), // r3 = be16 r3
      insn(0x95, 0, 0, 0, 0),
    ),
  );
  assert.equal(
    text,
    [
      "0: r0 = 1",
      "1: r0 += -2",
      "2: w1 = w2",
      "3: r1 = (s8)r2",
      "4: r1 s/= r2",
      "5: *(u64 *)(r10 -8) = r1",
      "6: r0 = *(u64 *)(r10 -8)",
      "7: r0 = *(s8 *)(r10 -1)",
      "8: *(u32 *)(r10 -4) = 7",
      "9: r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)",
      "10: lock *(u32 *)(r10 -4) += r1",
      "11: if r1 == 0xffffffff goto pc+2",
      "12: if w1 > w2 goto pc-3",
      "13: goto pc+0",
      "14: call bpf_get_smp_processor_id",
      "15: call pc+4",
      "16: call kernel-function",
      "17: r0 = &(void __percpu *)(r0)",
      "18: r1 = 0x112345678",
      "20: r2 = bswap32 r2",
      "21: r3 = be16 r3",
      "22: exit",
      "",
    ].join("\n"),
  );
});

test("an atomic imm that names no operation prints BUG_<code>, as disasm.c does (imm 3 is FETCH with op 0x02)", () => {
  assert.equal(xlatedText(prog(insn(0xdb, 10, 1, -8, 0x03))), "0: BUG_db\n");
  assert.equal(xlatedText(prog(insn(0xdb, 10, 1, -8, 0xe1))), "0: r1 = atomic64_xchg((u64 *)(r10 -8), r1)\n");
});

test("src/testing/disasm.ts reads opcodes through src/asm: no instruction field compared with a literal number", () => {
  const lines = readFileSync("src/testing/disasm.ts", "utf8").split("\n");
  const bad = lines
    .map((line, i) => `${i + 1}: ${line.trim()}`)
    .filter((l) => /(===|!==|case)\s*(0x[0-9a-f]+|\d+)\b/i.test(l) || /\bcode\s*(>>|&)/.test(l))
    .filter((l) => !/[!=]==\s*0\b/.test(l));
  assert.deepEqual(bad, []);
});
