import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  Asm,
  aluImm,
  aluReg,
  BPF_ATOMIC,
  BPF_INSN,
  exit,
  insn,
  jmpImm,
  ldImm64,
  movImm,
} from "../../src/asm/index.ts";
import { decodeCode } from "../../src/uvm/code.ts";
import { UvmFault } from "../../src/uvm/fault.ts";
import { caseOf } from "../../src/uvm/interp.ts";
import { RawVm } from "../../src/uvm/raw.ts";

/** Every instruction form the decoder accepts: each opcode byte with the src/off/imm values that matter. */
function validForms(): { op: number; src: number; off: number; imm: number; c: number }[] {
  const out: { op: number; src: number; off: number; imm: number; c: number }[] = [];
  const imms = [0, 16, 32, 64, ...Object.values(BPF_ATOMIC)];
  for (let op = 0; op < 256; op++)
    for (const src of [0, 1, 2, 4])
      for (const off of [0, 1, 8, 16, 32])
        for (const imm of imms) {
          const first = insn(op, 1, src, off, imm);
          const prog = (op === BPF_INSN.LD_IMM64 ? new Asm().add(first, insn(0)) : new Asm().add(first))
            .add(exit())
            .bytes();
          let code: ReturnType<typeof decodeCode>;
          try {
            code = decodeCode(prog, "form");
          } catch {
            continue;
          }
          out.push({ op, src, off, imm, c: caseOf(code, 0).c });
        }
  return out;
}

// The interpreter's switch is over literal case numbers (interp.ts says why); `caseOf` computes them from
// src/asm's tables. This holds the two together: every accepted instruction lands on a case the switch
// has, every case but the sentinel and the trap is reached, and no case serves two opcode bytes.
test("the interpreter's case numbers: each valid instruction has its own case in the switch", () => {
  const src = readFileSync("src/uvm/interp.ts", "utf8");
  const labels = new Set([...src.matchAll(/^\s*case (\d+):/gm)].map((m) => Number(m[1])));
  const forms = validForms();
  assert.ok(forms.length > 150, `${forms.length} forms`);
  const opOf = new Map<number, number>();
  for (const f of forms) {
    assert.ok(
      labels.has(f.c),
      `opcode 0x${f.op.toString(16)} (src ${f.src}, off ${f.off}): case ${f.c} is not in the switch`,
    );
    const seen = opOf.get(f.c);
    assert.ok(
      seen === undefined || seen === f.op,
      `case ${f.c} serves opcodes 0x${seen?.toString(16)} and 0x${f.op.toString(16)}`,
    );
    opOf.set(f.c, f.op);
  }
  const unreached = [...labels].filter((c) => !opOf.has(c));
  assert.deepEqual(
    unreached.sort(),
    [151, 152],
    "only the end sentinel and the budget trap are not instructions",
  );
});

// The budget is charged per straight-line run (interp.ts); a fault must still name the first instruction
// past the budget, as a per-instruction count would: the pc of the (b+1)-th instruction executed.
test("the interpreter's budget faults at the first instruction it does not cover, mid-run included", () => {
  // 0: r0 = 0; 1: r1 = 0; 2: lddw r2 (2 slots); 4: r0 += 1; 5: r1 += 2; 6: if r0 < 3 goto 4; 7: exit
  const prog = new Asm()
    .add(movImm(0, 0), movImm(1, 0), ldImm64(2, 5), aluImm("ADD", 0, 1), aluImm("ADD", 1, 2))
    .add(jmpImm("JLT", 0, 3, -3), exit())
    .bytes();
  const trace = [0, 1, 2, 4, 5, 6, 4, 5, 6, 4, 5, 6, 7];
  const vm = new RawVm(prog, { engine: "interp" });
  for (let b = 0; b < trace.length; b++) {
    let f: unknown;
    try {
      vm.engine.run(0, 0, 0, 0, { budget: b });
    } catch (e) {
      f = e;
    }
    assert.ok(f instanceof UvmFault && f.kind === "budget", `budget ${b}: ${String(f)}`);
    assert.equal(f.pc, trace[b], `budget ${b}`);
  }
  // each fault took its trap away again: the same engine runs to the end on exactly enough budget
  assert.equal(vm.engine.run(0, 0, 0, 0, { budget: trace.length }), 3);
});

// Registers and program words live in module-level arrays (interp.ts says why): a helper that runs another
// program must leave the caller's registers and code as they were.
test("the interpreter: a program run inside a helper leaves the caller's registers and code intact", () => {
  const inner = new RawVm(
    new Asm()
      .add(movImm(0, 1), movImm(0, 2), movImm(0, 3), movImm(0, 4), movImm(0, 5), movImm(0, 6), exit())
      .bytes(),
    { engine: "interp" },
  );
  const outer = new RawVm(
    new Asm()
      .add(movImm(6, 5), insn(BPF_INSN.CALL, 0, 0, 0, 1), aluReg("ADD", 0, 6), movImm(7, 100))
      .add(aluReg("ADD", 0, 7), exit())
      .bytes(),
    {
      engine: "interp",
      nativeHelpers: {
        1: (A) => {
          A[0] = Number(inner.run());
          A[1] = 0;
        },
      },
    },
  );
  assert.equal(outer.run(), 111n);
  assert.equal(inner.run(), 6n);
  assert.equal(outer.run(), 111n);
});
