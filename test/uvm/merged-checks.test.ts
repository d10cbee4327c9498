import assert from "node:assert/strict";
import { test } from "node:test";
import { UvmFault } from "../../src/uvm/fault.ts";
import { RawVm } from "../../src/uvm/raw.ts";

// The Wasm JIT checks a run of loads off one base register once (wasm.ts, LoadGroup); these programs pin
// down that a merged check faults exactly where the per-load checks of the other engines do.
const ENGINES = ["jit", "js", "interp"] as const;

function insn(op: number, dst: number, src: number, off: number, imm: number): number[] {
  const b = new DataView(new ArrayBuffer(8));
  b.setUint8(0, op);
  b.setUint8(1, (src << 4) | dst);
  b.setInt16(2, off, true);
  b.setInt32(4, imm, true);
  return [...new Uint8Array(b.buffer)];
}
const ldxb = (d: number, s: number, off: number) => insn(0x71, d, s, off, 0);
const ldxh = (d: number, s: number, off: number) => insn(0x69, d, s, off, 0);
const ldxw = (d: number, s: number, off: number) => insn(0x61, d, s, off, 0);
const addi = (d: number, imm: number) => insn(0x07, d, 0, 0, imm);
const addr = (d: number, s: number) => insn(0x0f, d, s, 0, 0);
const mov = (d: number, s: number) => insn(0xbf, d, s, 0, 0);
const jeqi = (d: number, imm: number, off: number) => insn(0x15, d, 0, off, imm);
const exit = () => insn(0x95, 0, 0, 0, 0);

const MEM = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]);

function run(engine: (typeof ENGINES)[number], prog: number[][], mem = MEM): bigint {
  return new RawVm(Uint8Array.from(prog.flat()), { mem, engine, name: "merged" }).run();
}

function faultPc(engine: (typeof ENGINES)[number], prog: number[][]): number {
  try {
    run(engine, prog);
  } catch (e) {
    if (e instanceof UvmFault && e.kind !== "budget") return e.pc;
    throw e;
  }
  assert.fail(`${engine}: no fault`);
}

test("merged load checks: the first out-of-bounds load of a run faults with its own pc, in every engine", () => {
  // in bounds, then one byte past the 8-byte region (in the guard)
  const late = [ldxb(2, 1, 0), addi(2, 1), ldxb(3, 1, 9), mov(0, 2), exit()];
  // the out-of-bounds load first, below the run's other offsets
  const early = [ldxb(2, 1, 9), ldxb(3, 1, 0), mov(0, 2), exit()];
  // two in the run past the end: the first of them
  const both = [ldxb(2, 1, 1), ldxh(3, 1, 10), ldxb(4, 1, 8), mov(0, 2), exit()];
  // a faulting load off another register between the run's loads ends the run: it faults first
  const other = [ldxb(2, 1, 0), ldxb(3, 10, 8), ldxb(4, 1, 9), mov(0, 2), exit()];
  for (const e of ENGINES) {
    assert.equal(faultPc(e, late), 2, `${e}: late`);
    assert.equal(faultPc(e, early), 0, `${e}: early`);
    assert.equal(faultPc(e, both), 1, `${e}: both`);
    assert.equal(faultPc(e, other), 1, `${e}: other`);
  }
});

test("merged load checks: loads a jump skips or that follow a redefinition of the base are not checked early", () => {
  // mem[0] = 0: the jump skips the out-of-bounds load
  const skipped = [ldxb(2, 1, 0), jeqi(2, 0, 1), ldxb(3, 1, 9), mov(0, 2), addi(0, 40), exit()];
  // r1 moves back 8 bytes between the loads: the second reads mem[1], not mem[9]
  const moved = [ldxb(2, 1, 15), addi(1, -8), ldxb(3, 1, 9), mov(0, 2), addr(0, 3), exit()];
  const moveMem = new Uint8Array(16);
  moveMem[15] = 7;
  moveMem[1] = 20;
  moveMem[9] = 100;
  // the last load of a run redefines its base: r1 = *(u32 *)(r1 + 2)
  const redefined = [
    ldxb(2, 1, 1),
    addi(2, 5),
    ldxh(3, 1, 6),
    ldxw(1, 1, 2),
    mov(0, 2),
    addr(0, 3),
    addr(0, 1),
    exit(),
  ];
  for (const e of ENGINES) {
    assert.equal(run(e, skipped), 40n, `${e}: skipped`);
    assert.equal(run(e, moved, moveMem), 27n, `${e}: moved`);
    assert.equal(run(e, redefined), 6n + 0x0706n + 0x05040302n, `${e}: redefined`);
  }
});

const stxb = (d: number, s: number, off: number) => insn(0x73, d, s, off, 0);

test("merged load checks at the region's edges: the last byte in range passes, one past faults at its load", () => {
  // an 8-byte region: a group over bytes 0..7 (the last load's last byte is the region's last)
  const last = [ldxb(2, 1, 0), ldxh(3, 1, 6), mov(0, 3), exit()];
  // the same group one byte further: the halfword at 7 runs one byte past the region
  const past = [ldxb(2, 1, 0), ldxh(3, 1, 7), mov(0, 3), exit()];
  // one byte below the region: the group's lowest load faults first
  const below = [ldxb(2, 1, -1), ldxb(3, 1, 0), mov(0, 3), exit()];
  for (const e of ENGINES) {
    assert.equal(run(e, last), 0x0706n, `${e}: last`);
    assert.equal(faultPc(e, past), 1, `${e}: past`);
    assert.equal(faultPc(e, below), 0, `${e}: below`);
  }
});

test("merged load checks: a store between two loads runs before the later load faults", () => {
  // *(u8 *)(r1 + 1) = r2 lies between the loads: the run ends at it, so it is done when pc 3 faults
  const prog = [ldxb(2, 1, 0), addi(2, 40), stxb(1, 2, 1), ldxb(3, 1, 8), mov(0, 3), exit()];
  for (const e of ENGINES) {
    const vm = new RawVm(Uint8Array.from(prog.flat()), { mem: MEM, engine: e, name: "merged" });
    assert.throws(
      () => vm.run(),
      (f: unknown) => f instanceof UvmFault && f.pc === 3,
      `${e}: the load at pc 3 faults`,
    );
    assert.equal(vm.memRegion![1], 40, `${e}: the store before it was made`);
  }
});

test("merged load checks: a base rewritten mid-run to another region is checked against that region", () => {
  // r1 = r10 - 8 between the loads: the second reads the stack (in range there), not mem + 4
  const toStack = [ldxb(2, 1, 7), mov(1, 10), addi(1, -8), ldxb(3, 1, 4), mov(0, 2), addr(0, 3), exit()];
  // and past the stack frame's top: faults, at its own pc
  const pastTop = [ldxb(2, 1, 0), mov(1, 10), ldxb(3, 1, 0), mov(0, 2), exit()];
  for (const e of ENGINES) {
    assert.equal(run(e, toStack), 7n, `${e}: toStack`);
    assert.equal(faultPc(e, pastTop), 2, `${e}: pastTop`);
  }
});
