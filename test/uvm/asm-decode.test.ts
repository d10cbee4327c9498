import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  Asm,
  aluImm,
  aluReg,
  BPF_ATOMIC,
  BPF_CLASS,
  BPF_MODE,
  BPF_SIZE,
  exit,
  insn,
  movImm,
} from "../../src/asm/index.ts";
import { RawVm } from "../../src/uvm/raw.ts";

// src/uvm reads instructions through src/asm (issue 8): no opcode numbers of its own. Wasm's opcodes in
// wasm.ts are hex bytes too, but never compared with an eBPF field, which is what this looks for.
test("src/uvm compares no instruction field with a literal opcode number", () => {
  const dir = "src/uvm";
  const bad: string[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".ts"))) {
    const lines = readFileSync(join(dir, f), "utf8").split("\n");
    lines.forEach((line, i) => {
      if (
        /(===|!==|case)\s*0x[0-9a-f]+\b/i.test(line) ||
        /\bop\s*(>>\s*[34]|&\s*(7|8|0x[0-9a-f]+))\b/.test(line)
      )
        bad.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(bad, []);
});

test("every engine runs src/asm-built programs alike (an atomic fetch-add, built by its constants)", () => {
  const prog = new Asm().add(
    movImm(0, 5),
    // *(u64 *)(r10 - 8) = 7; r1 = 3; r1 = atomic_fetch_add((u64 *)(r10 - 8), r1); r0 = *(u64 *)(r10 - 8) + r1
    insn(BPF_CLASS.ST | BPF_MODE.MEM | BPF_SIZE.DW, 10, 0, -8, 7),
    movImm(1, 3),
    insn(BPF_CLASS.STX | BPF_MODE.ATOMIC | BPF_SIZE.DW, 10, 1, -8, BPF_ATOMIC.ADD | BPF_ATOMIC.FETCH),
    insn(BPF_CLASS.LDX | BPF_MODE.MEM | BPF_SIZE.DW, 0, 10, -8),
    aluImm("MUL", 0, 100),
    aluReg("ADD", 0, 1),
    exit(),
  );
  for (const engine of ["interp", "js", "jit"] as const)
    assert.equal(new RawVm(prog.bytes(), { engine }).run(), 1007n, engine);
});
