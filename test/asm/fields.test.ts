import assert from "node:assert/strict";
import { test } from "node:test";
import * as asm from "../../src/asm/index.ts";

// The opcode numbers as include/uapi/linux/bpf.h and RFC 9669 write them, spelled out independently of
// opcodes.ts, so that a wrong table entry fails here.
test("whole opcodes the engines name singly have the uapi values", () => {
  assert.equal(asm.BPF_INSN.CALL, 0x85);
  assert.equal(asm.BPF_INSN.CALLX, 0x8d);
  assert.equal(asm.BPF_INSN.EXIT, 0x95);
  assert.equal(asm.BPF_INSN.JA, 0x05);
  assert.equal(asm.BPF_INSN.JA32, 0x06);
  assert.equal(asm.BPF_INSN.LD_IMM64, 0x18);
  assert.equal(asm.BPF_CLASS.LDX | asm.BPF_MODE.MEMSX | asm.BPF_SIZE.B, 0x91); // ldxsb
  assert.equal(asm.BPF_CLASS.LDX | asm.BPF_MODE.MEMSX | asm.BPF_SIZE.H, 0x89);
  assert.equal(asm.BPF_CLASS.LDX | asm.BPF_MODE.MEMSX | asm.BPF_SIZE.W, 0x81);
  assert.equal(asm.BPF_CLASS.STX | asm.BPF_MODE.ATOMIC | asm.BPF_SIZE.W, 0xc3);
  assert.equal(asm.BPF_CLASS.STX | asm.BPF_MODE.ATOMIC | asm.BPF_SIZE.DW, 0xdb);
  assert.equal(asm.BPF_CLASS.ALU | asm.BPF_ALU_OP.END | asm.BPF_END.TO_LE, 0xd4);
  assert.equal(asm.BPF_CLASS.ALU | asm.BPF_ALU_OP.END | asm.BPF_END.TO_BE, 0xdc);
  assert.equal(asm.BPF_CLASS.ALU64 | asm.BPF_ALU_OP.END | asm.BPF_SRC.K, 0xd7); // bswap
});

test("atomic operation immediates have the uapi values", () => {
  assert.deepEqual(
    [
      asm.BPF_ATOMIC.ADD,
      asm.BPF_ATOMIC.OR,
      asm.BPF_ATOMIC.AND,
      asm.BPF_ATOMIC.XOR,
      asm.BPF_ATOMIC.XCHG,
      asm.BPF_ATOMIC.CMPXCHG,
    ],
    [0x00, 0x40, 0x50, 0xa0, 0xe1, 0xf1],
  );
  assert.equal(asm.BPF_ATOMIC.ADD | asm.BPF_ATOMIC.FETCH, 0x01);
  assert.equal(asm.opOp(asm.BPF_ATOMIC.XOR | asm.BPF_ATOMIC.FETCH), asm.BPF_ATOMIC.XOR);
});

test("the field readers take every opcode apart into the constants it was built from", () => {
  for (const cls of [asm.BPF_CLASS.ALU, asm.BPF_CLASS.ALU64])
    for (const op of Object.values(asm.BPF_ALU_OP))
      for (const src of Object.values(asm.BPF_SRC)) {
        const code = cls | op | src;
        assert.equal(asm.opClass(code), cls);
        assert.equal(asm.opOp(code), op);
        assert.equal(asm.opSrc(code), src);
        assert.ok(asm.isAluClass(asm.opClass(code)) && !asm.isJmpClass(asm.opClass(code)));
      }
  for (const cls of [asm.BPF_CLASS.JMP, asm.BPF_CLASS.JMP32])
    for (const op of Object.values(asm.BPF_JMP_OP)) {
      const code = cls | op | asm.BPF_SRC.X;
      assert.equal(asm.opClass(code), cls);
      assert.equal(asm.opOp(code), op);
      assert.ok(asm.isJmpClass(asm.opClass(code)) && !asm.isAluClass(asm.opClass(code)));
    }
  const bytes = { B: 1, H: 2, W: 4, DW: 8 } as const;
  for (const [size, n] of Object.entries(bytes) as [keyof typeof bytes, number][]) {
    const load = asm.ldx(size, 1, 2, 0).code;
    const store = asm.stx(size, 1, 2, 0).code;
    assert.equal(asm.opSize(load), asm.BPF_SIZE[size]);
    assert.equal(asm.opMode(load), asm.BPF_MODE.MEM);
    assert.equal(asm.opClass(load), asm.BPF_CLASS.LDX);
    assert.equal(asm.opClass(store), asm.BPF_CLASS.STX);
    assert.equal(asm.opBytes(load), n);
    assert.equal(asm.opBytes(store), n);
  }
  assert.equal(asm.opMode(asm.BPF_CLASS.STX | asm.BPF_MODE.ATOMIC | asm.BPF_SIZE.DW), asm.BPF_MODE.ATOMIC);
  assert.equal(asm.opMode(asm.BPF_CLASS.LDX | asm.BPF_MODE.MEMSX | asm.BPF_SIZE.H), asm.BPF_MODE.MEMSX);
});
