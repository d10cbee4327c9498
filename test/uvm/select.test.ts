import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Asm,
  aluImm,
  aluReg,
  exit,
  type Insn,
  ja,
  jmpImm,
  jmpReg,
  ldImm64,
  ldx,
  mov32Imm,
  mov32Reg,
  movImm,
  movReg,
} from "../../src/asm/index.ts";
import { RawVm } from "../../src/uvm/raw.ts";

// The Wasm JIT turns the diamond clang emits for a boolean — `if cond goto +1; <move into rX>;` joining at the
// next instruction — into a Wasm `select` (wasm.ts, selectOf). These programs loop over bytes whose values
// make the condition go both ways, for each form of the move (64- and 32-bit, immediate and register, with
// the values whose extension differs) and of the jump (64- and 32-bit, immediate and register), and compare
// with the interpreter; then the shapes that must not be converted.

const ENGINES = ["jit", "js"] as const;
const MEM = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff);

function run(engine: "jit" | "js" | "interp", insns: Insn[]): bigint {
  return new RawVm(new Asm().add(...insns).bytes(), {
    engine,
    mem: Uint8Array.from(MEM),
    name: "select",
  }).run();
}

function same(insns: Insn[], what: string): bigint {
  const want = run("interp", insns);
  for (const e of ENGINES) assert.equal(run(e, insns), want, `${e}: ${what}`);
  return want;
}

/**
 * r0 = Σ over the memory's bytes b of (r5 after `r5 = r7; <jump on b>; <move into r5>`), folded with a
 * rotate so every iteration's outcome counts; r7 = 0x8000000180000001 (both halves' signs set), r8 its
 * negation. `diamond` is the jump and the move, in that order.
 */
function loop(diamond: [Insn, Insn]): Insn[] {
  return [
    movImm(0, 0),
    ...ldImm64(7, 0x8000000180000001n),
    movReg(8, 7),
    aluImm("NEG", 8, 0),
    movReg(6, 1),
    movReg(9, 1),
    aluReg("ADD", 9, 2),
    ldx("B", 3, 6, 0), // header (pc 8)
    movReg(5, 7),
    ...diamond,
    aluReg("ADD", 0, 5),
    movReg(4, 0),
    aluImm("LSH", 4, 7),
    aluImm("RSH", 0, 57),
    aluReg("OR", 0, 4),
    aluImm("ADD", 6, 1),
    jmpReg("JLT", 6, 9, -11),
    exit(),
  ];
}

const MOVES: [string, Insn][] = [
  ["r5 = -3", movImm(5, -3)],
  ["r5 = 0x7fffffff", movImm(5, 0x7fffffff)],
  ["w5 = -3", mov32Imm(5, -3)],
  ["w5 = 0", mov32Imm(5, 0)],
  ["r5 = r8", movReg(5, 8)],
  ["w5 = w8", mov32Reg(5, 8)],
  ["w5 = w5", mov32Reg(5, 5)],
  ["r5 = r3", movReg(5, 3)],
];
const JUMPS: [string, Insn][] = [
  ["if r3 > 100", jmpImm("JGT", 3, 100, 1)],
  ["if w3 s< 77", jmpImm("JSLT", 3, 77, 1, false)],
  ["if r3 & 1", jmpImm("JSET", 3, 1, 1)],
  ["if r3 == 196", jmpImm("JEQ", 3, 196, 1)],
  ["if r3 s> r2", jmpReg("JSGT", 3, 2, 1)],
  ["if w3 >= w2", jmpReg("JGE", 3, 2, 1, false)],
];

test("select: every move and jump form of the boolean diamond gives the interpreter's result", () => {
  for (const [jn, j] of JUMPS)
    for (const [mn, m] of MOVES) {
      const got = same(loop([j, m]), `${jn} goto +1; ${mn}`);
      // the condition went both ways: the result is neither that of always jumping nor that of never
      assert.notEqual(got, run("interp", loop([ja(1), m])), `${jn}; ${mn}: always taken`);
      assert.notEqual(got, run("interp", loop([ja(0), m])), `${jn}; ${mn}: never taken`);
    }
});

test("select: a move that is also a jump target, or that a longer jump skips, is left as a branch", () => {
  // pc 10 jumps to the move at pc 12, which the diamond's jump at pc 11 skips: the move has two predecessors
  const twoIn = loop([jmpImm("JEQ", 3, 7, 1), jmpImm("JGT", 3, 100, 1)]);
  twoIn.splice(12, 0, movImm(5, 9));
  twoIn[twoIn.length - 2] = jmpReg("JLT", 6, 9, -12);
  same(twoIn, "move with two predecessors");
  // the fall-through is a move and a goto: not the one-move shape
  const withJa = loop([jmpImm("JGT", 3, 100, 2), movImm(5, 9)]);
  withJa.splice(12, 0, ja(0));
  withJa[withJa.length - 2] = jmpReg("JLT", 6, 9, -12);
  same(withJa, "move then goto");
  // a move that is not a plain move (movsx, off 8): converted it would lose the sign extension
  same(loop([jmpImm("JGT", 3, 100, 1), { code: 0xbf, dst: 5, src: 3, off: 8, imm: 0 }]), "movsx");
});
