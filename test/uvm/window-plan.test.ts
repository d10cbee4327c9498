import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Asm,
  aluImm,
  aluReg,
  exit,
  type Insn,
  jmpReg,
  ldx,
  movImm,
  movReg,
  stx,
} from "../../src/asm/index.ts";
import { decodeCode } from "../../src/uvm/code.ts";
import { UvmFault } from "../../src/uvm/fault.ts";
import { Memory, PERM_RW } from "../../src/uvm/memory.ts";
import { allocStacks, MAX_FRAMES, RawVm, STACK_SIZE } from "../../src/uvm/raw.ts";
import { loopCopies } from "../../src/uvm/wasm.ts";

// A loop whose accesses all lie in a range off one register (window-plan.ts) is emitted twice by the Wasm
// JIT: without those checks when one test at the header finds the range inside the raw program's memory,
// and checked otherwise. These programs run the JIT against the interpreter (which checks every access) on
// both sides of that test: the last byte of the range in the memory, one past it, a store before the
// access that faults, and a base register in the stack rather than the memory.

const ENGINES = ["jit", "js", "interp"] as const;
const bytes = (...xs: Insn[]) => new Asm().add(...xs).bytes();

function outcome(engine: (typeof ENGINES)[number], prog: Uint8Array, mem: Uint8Array): string {
  const vm = new RawVm(prog, { engine, mem: Uint8Array.from(mem), name: "plan" });
  try {
    return `r0 ${vm.run()} mem ${[...vm.memRegion!].join(",")}`;
  } catch (e) {
    if (e instanceof UvmFault) return `${e.kind} at ${e.pc} mem ${[...vm.memRegion!].join(",")}`;
    throw e;
  }
}

function planned(prog: Uint8Array, memSize: number): number[] {
  const mem = new Memory(MAX_FRAMES * Memory.footprint(STACK_SIZE) + Memory.footprint(memSize) + 64);
  const stackTops = allocStacks(mem);
  const window = mem.alloc("mem", memSize, PERM_RW);
  return loopCopies(decodeCode(prog, "plan"), { mem, helpers: [], kfuncs: [], stackTops, window }).planned;
}

/**
 * r6 walks 8-byte records from r1 to r1 + r2 + `extra`: per record r0 += *(u8 *)(r6 + 0) + *(u8 *)(r6 + 7),
 * and *(u8 *)(r6 + 1) = r0 (the store comes before the second load). With extra > 0 the last record runs
 * past the memory: the checked copy must fault at the load of its byte 7 (pc 5) after the store of byte 1.
 */
function records(extra: number): Uint8Array {
  return walk([movReg(6, 1), movReg(7, 1), aluReg("ADD", 7, 2), aluImm("ADD", 7, extra)]);
}

/** The loop of `records` after four instructions that set r6 (the first record) and r7 (the end). */
function walk(setup: Insn[]): Uint8Array {
  return bytes(
    movImm(0, 0),
    ...setup,
    ldx("B", 3, 6, 0), // 5: header
    stx("B", 6, 0, 1),
    ldx("B", 4, 6, 7),
    aluReg("ADD", 0, 3),
    aluReg("ADD", 0, 4),
    aluImm("ADD", 6, 8),
    jmpReg("JLT", 6, 7, -7),
    exit(),
  );
}

const MEM = Uint8Array.from({ length: 32 }, (_, i) => i * 3);

test("window plan: a loop over records is planned, and ends as in the interpreter in range and one past", () => {
  assert.deepEqual(planned(records(0), 32), [5]);
  for (const extra of [0, 1, 8]) {
    const want = outcome("interp", records(extra), MEM);
    for (const e of ENGINES) assert.equal(outcome(e, records(extra), MEM), want, `${e}, extra ${extra}`);
  }
  // one byte more: a fifth record, whose first load (pc 5) is past the memory
  assert.match(outcome("jit", records(1), MEM), /^[a-z-]+ at 5 /);
});

test("window plan: the memory's last byte is the range's last (checks left out), one more record faults", () => {
  // 31 bytes: the fourth record's byte 7 is one past the memory; its store of byte 1 is done first
  const short = MEM.subarray(0, 31);
  const want = outcome("interp", records(0), short);
  assert.match(want, / at 7 mem 0,0,6,9,12,15,18,21,24,21,/);
  for (const e of ENGINES) assert.equal(outcome(e, records(0), short), want, e);
  const exact = outcome("interp", records(0), MEM);
  assert.match(exact, /^r0 /);
  assert.equal(outcome("jit", records(0), MEM), exact);
});

test("window plan: a base in the stack fails the header's test and runs the checked copy", () => {
  // r6 = r10 - 32: the records are the stack frame's last 32 bytes (zero), then one past its top
  const onStack = (extra: number) =>
    walk([movReg(6, 10), aluImm("ADD", 6, -32), movReg(7, 10), aluImm("ADD", 7, extra)]);
  assert.deepEqual(planned(onStack(0), 32), [5]);
  for (const extra of [0, 8]) {
    const want = outcome("interp", onStack(extra), MEM);
    for (const e of ENGINES) assert.equal(outcome(e, onStack(extra), MEM), want, `${e}, extra ${extra}`);
  }
});
