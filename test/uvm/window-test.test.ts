import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Asm,
  aluImm,
  exit,
  type Insn,
  insn,
  ldImm64,
  ldx,
  movImm,
  movReg,
  stx,
} from "../../src/asm/index.ts";
import { UvmFault } from "../../src/uvm/fault.ts";
import { RawVm } from "../../src/uvm/raw.ts";

// For a raw program the Wasm JIT tests each access first against the program's memory (Env.window, read and
// write for the engine's life) with one compare, and runs the exact capacity and permission checks only
// outside it (wasm.ts, windowTest). These programs put single loads, stores and merged load groups of every
// width on both sides of the window's edges — the bytes past its end are in the heap but belong to no
// region, the bytes below it are a stack's guard — and compare the JIT's outcome with the interpreter's.

const ENGINES = ["jit", "js"] as const;
const SIZES = ["B", "H", "W", "DW"] as const;
const WIDTH = { B: 1, H: 2, W: 4, DW: 8 } as const;
/** 13 bytes: the heap rounds a region up to 8, so bytes 13..15 are padding that no region owns */
const MEM = Uint8Array.from({ length: 13 }, (_, i) => 0x11 * (i + 1));

function outcome(engine: "jit" | "js" | "interp", insns: Insn[]): string {
  const vm = new RawVm(new Asm().add(...insns).bytes(), {
    engine,
    mem: Uint8Array.from(MEM),
    name: "window",
  });
  try {
    return `r0 ${vm.run().toString(16)} mem ${[...vm.memRegion!].join(",")}`;
  } catch (e) {
    if (e instanceof UvmFault) return `${e.kind} at ${e.pc}`;
    throw e;
  }
}

function same(insns: Insn[], what: string): string {
  const want = outcome("interp", insns);
  for (const e of ENGINES) assert.equal(outcome(e, insns), want, `${e}: ${what}`);
  return want;
}

/** Offsets from one past the lowest byte below the memory to one past its end, for an n-byte access. */
const around = (n: number) => Array.from({ length: MEM.length + n + 3 }, (_, i) => i - n - 1);

test("window test: a load of each width at every offset around the memory ends as in the interpreter", () => {
  let faults = 0;
  for (const sz of SIZES)
    for (const off of around(WIDTH[sz])) {
      // through r1 with the offset in the instruction, and through r3 = r1 + 5 with off - 5
      const got = same([ldx(sz, 0, 1, off), exit()], `ldx${sz} r1${off}`);
      same([movReg(3, 1), aluImm("ADD", 3, 5), ldx(sz, 0, 3, off - 5), exit()], `ldx${sz} r3${off - 5}`);
      if (got.startsWith("wild")) faults++;
      const inside = off >= 0 && off + WIDTH[sz] <= MEM.length;
      assert.equal(got.startsWith("r0"), inside, `ldx${sz} at ${off}: ${got}`);
    }
  assert.ok(faults > 0);
});

test("window test: a store of each width at every offset around the memory ends as in the interpreter", () => {
  for (const sz of SIZES)
    for (const off of around(WIDTH[sz])) {
      const got = same([movImm(2, -2), stx(sz, 1, 2, off), movImm(0, 1), exit()], `stx${sz} r1${off}`);
      assert.equal(
        got.startsWith("r0"),
        off >= 0 && off + WIDTH[sz] <= MEM.length,
        `stx${sz} at ${off}: ${got}`,
      );
    }
});

test("window test: merged load groups straddling either edge fault at the first load out of range", () => {
  for (let base = -3; base <= MEM.length; base++) {
    // three loads off r1 in one group: bytes base, base+2..base+3, base+4..base+7
    const insns = [
      ldx("B", 2, 1, base),
      ldx("H", 3, 1, base + 2),
      ldx("W", 4, 1, base + 4),
      movReg(0, 2),
      insn(0x0f, 0, 3),
      insn(0x0f, 0, 4),
      exit(),
    ];
    same(insns, `group at ${base}`);
  }
});

test("window test: an address whose upper half is set is outside the window, not wrapped into it", () => {
  // r3 = r1 + 2^32: its low half is r1's, so a test on 32 bits would let it through
  const hi = [movReg(3, 1), ...ldImm64(4, 1n << 32n), insn(0x0f, 3, 4)];
  assert.match(same([...hi, ldx("W", 0, 3, 0), exit()], "ldxw past 2^32"), /^wild/);
  assert.match(same([...hi, movImm(2, 7), stx("B", 3, 2, 0), exit()], "stxb past 2^32"), /^wild/);
});
