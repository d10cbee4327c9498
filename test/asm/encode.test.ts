import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  Asm,
  aluImm,
  aluReg,
  callHelper,
  callKfunc,
  decodeInsns,
  encodeInsns,
  exit,
  type Insn,
  Insns,
  ja,
  jmpImm,
  jmpReg,
  ldImm64,
  ldMapFd,
  ldx,
  mov32Imm,
  mov32Reg,
  movImm,
  movReg,
  stx,
} from "../../src/asm/index.ts";
import { parseObject } from "../../src/object/index.ts";
import { compileFixture } from "../helpers/index.ts";

function programOf(fixture: string, name: string, extraArgs: string[] = []): Uint8Array {
  const path = compileFixture(fixture, { extraArgs });
  const spec = parseObject(new Uint8Array(readFileSync(path)), path);
  const p = spec.programs.find((x) => x.name === name);
  assert.ok(p, `program ${name} in ${path}`);
  return p.instructions;
}

// The same list, in the same order, as the inline asm in test/fixtures/asm-encodings.bpf.c.
const EXPECTED: (Insn | readonly Insn[])[] = [
  movImm(0, 0),
  movImm(0, -1),
  movReg(1, 2),
  mov32Imm(1, 5),
  mov32Reg(3, 4),
  aluImm("ADD", 1, 3),
  aluReg("SUB", 1, 2),
  aluImm("MUL", 1, 7),
  aluImm("DIV", 1, 2),
  aluImm("OR", 1, 1),
  aluImm("AND", 1, 255),
  aluImm("LSH", 1, 2),
  aluImm("RSH", 1, 3),
  aluImm("ARSH", 1, 1),
  aluReg("XOR", 1, 2),
  aluReg("ADD", 1, 2, false),
  aluImm("SUB", 5, 9, false),
  jmpImm("JEQ", 1, 0, 1),
  jmpReg("JGT", 1, 2, 1),
  jmpImm("JSGE", 3, -2, -3),
  jmpImm("JSLT", 1, 5, 1, false),
  jmpReg("JNE", 1, 2, 1, false),
  ja(0),
  ldImm64(1, 0x123456789abcdef0n),
  ldImm64(7, -2),
  ldx("W", 2, 1, 4),
  ldx("B", 3, 10, -1),
  ldx("H", 4, 1, 2),
  ldx("DW", 5, 1, 0),
  stx("DW", 10, 1, -8),
  stx("W", 10, 2, -12),
  stx("B", 10, 3, -13),
  callHelper(1),
  movImm(0, 0),
  exit(),
];

test("src/asm encodes every instruction as clang assembles it", () => {
  const clang = programOf("asm-encodings", "encodings", ["-mcpu=v3"]);
  const ours = encodeInsns(EXPECTED);
  const theirs = decodeInsns(clang);
  assert.equal(ours.length, clang.length, "instruction count");
  for (const [i, want] of decodeInsns(ours).entries())
    assert.deepEqual(want, theirs[i], `instruction ${i}: ours vs clang's`);
  assert.deepEqual(ours, clang, "byte for byte");
});

test("decode → encode round-trips clang's programs (real relocated code)", () => {
  let checked = 0;
  for (const fixture of [
    "obj-maps",
    "obj-weak",
    "obj-sections",
    "attach-trace",
    "attach-testrun",
    "uvm-runtime",
  ]) {
    const path = compileFixture(fixture);
    for (const p of parseObject(new Uint8Array(readFileSync(path)), path).programs) {
      assert.deepEqual(encodeInsns(decodeInsns(p.instructions)), p.instructions, `${fixture}:${p.name}`);
      checked++;
    }
  }
  assert.ok(checked >= 5, `round-tripped ${checked} programs`);
});

test("big-endian: the register nibbles swap, the fields are stored big-endian, and it round-trips", () => {
  const be = encodeInsns([movReg(1, 2), callKfunc(0x01020304, 3)], false);
  assert.deepEqual(Array.from(be.subarray(0, 8)), [0xbf, 0x12, 0, 0, 0, 0, 0, 0], "mov r1 = r2");
  assert.deepEqual(Array.from(be.subarray(8, 16)), [0x85, 0x02, 0, 3, 1, 2, 3, 4], "kfunc call, src 2");
  assert.deepEqual(decodeInsns(be, false), [movReg(1, 2), callKfunc(0x01020304, 3)]);
});

test("ld_imm64 splits the immediate into two slots; map fd uses BPF_PSEUDO_MAP_FD; Asm builds", () => {
  const [lo, hi] = ldImm64(2, 0xffffffff00000001n);
  assert.deepEqual([lo.code, lo.imm, hi.code, hi.imm], [0x18, 1, 0, -1]);
  assert.equal(ldMapFd(1, 9)[0].src, 1);
  const a = new Asm().add(ldMapFd(1, 9), movImm(0, 0), exit());
  assert.equal(a.length, 4);
  const v = new Insns(a.bytes());
  assert.deepEqual([v.count, v.isLdImm64(0), v.imm(0), v.code(3)], [4, true, 9, 0x95]);
});
