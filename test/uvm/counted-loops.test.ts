import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Asm,
  aluImm,
  aluReg,
  callHelper,
  callLocal,
  exit,
  type Insn,
  ja,
  jmpImm,
  jmpReg,
  movImm,
} from "../../src/asm/index.ts";
import { decodeCode } from "../../src/uvm/code.ts";
import { UvmFault } from "../../src/uvm/fault.ts";
import { Memory } from "../../src/uvm/memory.ts";
import { allocStacks, MAX_FRAMES, RawVm, STACK_SIZE } from "../../src/uvm/raw.ts";
import { loopCopies } from "../../src/uvm/wasm.ts";

// The Wasm JIT emits a counted loop twice (wasm.ts, FnGen.versionable): a copy that takes the whole trip
// count's budget at the entry and charges nothing per iteration, and the charged one for when the budget
// does not cover it. Both must end as the charged loop alone does: the same r0, or the same budget fault at
// the same pc, for every budget. The dispatch loop (KFUNC_KIT_UVM_DISPATCH=1) copies no loop: the reference.

function outcome(
  prog: Uint8Array,
  budget: number,
  reference: boolean,
  knob = "KFUNC_KIT_UVM_DISPATCH",
): string {
  const was = process.env[knob];
  process.env[knob] = reference ? "1" : "0";
  try {
    const vm = new RawVm(prog, { engine: "jit", budget, name: "counted" });
    return `r0 ${vm.run()}`;
  } catch (e) {
    if (e instanceof UvmFault) return `${e.kind} at ${e.pc}`;
    throw e;
  } finally {
    if (was === undefined) delete process.env[knob];
    else process.env[knob] = was;
  }
}

function versioned(prog: Uint8Array): number[] {
  const mem = new Memory(MAX_FRAMES * Memory.footprint(STACK_SIZE) + 64);
  const env = { mem, helpers: [], kfuncs: [], stackTops: allocStacks(mem) };
  return loopCopies(decodeCode(prog, "counted"), env).counted;
}

/** Every budget from 0 to `upTo`, and a large one: the versioned JIT against the dispatch loop. */
function sameForEveryBudget(name: string, prog: Uint8Array, upTo: number, knob?: string): void {
  const ends = new Set<string>();
  for (const b of [...Array.from({ length: upTo + 1 }, (_, i) => i), 1_000_000]) {
    const want = outcome(prog, b, true, knob);
    assert.equal(outcome(prog, b, false, knob), want, `${name}, budget ${b}`);
    ends.add(want.replace(/ at \d+/, ""));
  }
  // the sweep reached both ends: budget faults and, unless the loop never ends, a result
  assert.ok(ends.has("budget"), `${name}: no budget fault in the sweep`);
}

const bytes = (...xs: Insn[]) => new Asm().add(...xs).bytes();

/** r1 = n; do { r0 += r1; r1 -= 1 } while (r1 != 0), the test at the bottom jumping out; then 3 more turns. */
function countDown(n: number): Uint8Array {
  return bytes(
    movImm(0, 0),
    movImm(1, n),
    aluReg("ADD", 0, 1), // 2: header
    aluImm("ADD", 1, -1),
    jmpImm("JEQ", 1, 0, 1),
    ja(-4),
    movImm(2, 3), // 6: a second loop, charged, after the first: the budget the first left matters
    aluImm("ADD", 2, -1),
    jmpImm("JNE", 2, 0, -2),
    exit(),
  );
}

/** r3 = from; r2 = to; do { r0 += r3; r3 += 1 } while (r3 < r2): the back edge is the conditional jump. */
function countUp(from: number, to: number): Uint8Array {
  return bytes(
    movImm(0, 0),
    movImm(3, from),
    movImm(2, to),
    aluReg("ADD", 0, 3), // 3: header
    aluImm("ADD", 3, 1),
    jmpReg("JLT", 3, 2, -3),
    exit(),
  );
}

/** r1 = n; do { r1 -= 1; r0 += 1 } while (r1 > 3), as `if r1 <= 3 goto out; goto header`. */
function downToThree(n: number): Uint8Array {
  return bytes(
    movImm(0, 0),
    movImm(1, n),
    aluImm("SUB", 1, 1), // 2: header
    aluImm("ADD", 0, 1),
    jmpImm("JLE", 1, 3, 1),
    ja(-4),
    exit(),
  );
}

test("counted loops: the three forms are compiled in two copies; a loop with a call is not", () => {
  assert.deepEqual(versioned(countDown(5)), [2]);
  assert.deepEqual(versioned(countUp(0, 5)), [3]);
  assert.deepEqual(versioned(downToThree(10)), [2]);
  const withCall = bytes(movImm(6, 4), callHelper(5), aluImm("ADD", 6, -1), jmpImm("JNE", 6, 0, -3), exit());
  assert.deepEqual(versioned(withCall), []);
  // a counter stepped by 2 has no simple trip count
  const byTwo = bytes(movImm(1, 8), aluImm("ADD", 1, -2), jmpImm("JNE", 1, 0, -2), exit());
  assert.deepEqual(versioned(byTwo), []);
});

test("counted loops: every budget ends as in the charged loop (result, or the budget fault's pc)", () => {
  // 5 turns of 4 instructions' charge, then the second loop's 3 turns of 2
  sameForEveryBudget("countDown(5)", countDown(5), 40);
  // counter 0 at the entry: 2^64 turns, never covered, always the charged loop's fault
  sameForEveryBudget("countDown(0)", countDown(0), 30);
  sameForEveryBudget("countUp(0, 5)", countUp(0, 5), 25);
  // starting at or past the bound: one turn; and from 2^64 - 1, the counter wraps to 0 and runs on to 5
  sameForEveryBudget("countUp(5, 5)", countUp(5, 5), 10);
  sameForEveryBudget("countUp(9, 5)", countUp(9, 5), 10);
  sameForEveryBudget("countUp(-1, 5)", countUp(-1, 5), 30);
  sameForEveryBudget("downToThree(10)", downToThree(10), 40);
  sameForEveryBudget("downToThree(4)", downToThree(4), 10);
  sameForEveryBudget("downToThree(3)", downToThree(3), 10);
  // from 0 the counter wraps to 2^64 - 1: a loop no budget covers
  sameForEveryBudget("downToThree(0)", downToThree(0), 20);
});

test("counted loops: the copy without charges computes what the charged one does", () => {
  assert.equal(outcome(countDown(5), 1_000_000, false), "r0 15");
  assert.equal(outcome(countUp(2, 6), 1_000_000, false), "r0 14");
  assert.equal(outcome(downToThree(10), 1_000_000, false), "r0 7");
});

// A function without calls or counted loops keeps the budget in a local between its entry and its returns
// (wasm.ts, FnGen.localBudget); KFUNC_KIT_UVM_BUDGET_WORD=1 keeps it in the scratch word throughout.
test("the budget in a local: a call-free callee's charges reach its caller's, for every budget", () => {
  // 0: r6 = 3; 1: call +4 (the callee at 6); 2: r6 -= 2; 3: if r6 s> 0 goto -3 (to 1); 4: r0 = 9; 5: exit
  // 6: r1 = 6; 7: r1 -= 3; 8: if r1 != 0 goto -2 (to 7); 9: exit
  const prog = bytes(
    movImm(6, 3),
    callLocal(4),
    aluImm("SUB", 6, 2),
    jmpImm("JSGT", 6, 0, -3),
    movImm(0, 9),
    exit(),
    movImm(1, 6),
    aluImm("SUB", 1, 3),
    jmpImm("JNE", 1, 0, -2),
    exit(),
  );
  assert.deepEqual(versioned(prog), []);
  sameForEveryBudget("call-free callee", prog, 40, "KFUNC_KIT_UVM_BUDGET_WORD");
  assert.equal(outcome(prog, 1_000_000, false, "KFUNC_KIT_UVM_BUDGET_WORD"), "r0 9");
});
