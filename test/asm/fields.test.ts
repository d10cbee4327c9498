import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BPF_ALU_OP,
  BPF_ATOMIC,
  BPF_CLASS,
  BPF_END,
  BPF_INSN,
  BPF_JMP_OP,
  BPF_MODE,
  BPF_SIZE,
  BPF_SRC,
  isAluClass,
  isJmpClass,
  ldx,
  opBytes,
  opClass,
  opMode,
  opOp,
  opSize,
  opSrc,
  stx,
} from "../../src/asm/index.ts";

// The opcode numbers as include/uapi/linux/bpf.h and RFC 9669 write them, spelled out independently of
// opcodes.ts, so that a wrong table entry fails here.
test("whole opcodes the engines name singly have the uapi values", () => {
  assert.equal(BPF_INSN.CALL, 0x85);
  assert.equal(BPF_INSN.CALLX, 0x8d);
  assert.equal(BPF_INSN.EXIT, 0x95);
  assert.equal(BPF_INSN.JA, 0x05);
  assert.equal(BPF_INSN.JA32, 0x06);
  assert.equal(BPF_INSN.LD_IMM64, 0x18);
  assert.equal(BPF_CLASS.LDX | BPF_MODE.MEMSX | BPF_SIZE.B, 0x91); // ldxsb
  assert.equal(BPF_CLASS.LDX | BPF_MODE.MEMSX | BPF_SIZE.H, 0x89);
  assert.equal(BPF_CLASS.LDX | BPF_MODE.MEMSX | BPF_SIZE.W, 0x81);
  assert.equal(BPF_CLASS.STX | BPF_MODE.ATOMIC | BPF_SIZE.W, 0xc3);
  assert.equal(BPF_CLASS.STX | BPF_MODE.ATOMIC | BPF_SIZE.DW, 0xdb);
  assert.equal(BPF_CLASS.ALU | BPF_ALU_OP.END | BPF_END.TO_LE, 0xd4);
  assert.equal(BPF_CLASS.ALU | BPF_ALU_OP.END | BPF_END.TO_BE, 0xdc);
  assert.equal(BPF_CLASS.ALU64 | BPF_ALU_OP.END | BPF_SRC.K, 0xd7); // bswap
});

test("atomic operation immediates have the uapi values", () => {
  assert.deepEqual(
    [BPF_ATOMIC.ADD, BPF_ATOMIC.OR, BPF_ATOMIC.AND, BPF_ATOMIC.XOR, BPF_ATOMIC.XCHG, BPF_ATOMIC.CMPXCHG],
    [0x00, 0x40, 0x50, 0xa0, 0xe1, 0xf1],
  );
  assert.equal(BPF_ATOMIC.ADD | BPF_ATOMIC.FETCH, 0x01);
  assert.equal(opOp(BPF_ATOMIC.XOR | BPF_ATOMIC.FETCH), BPF_ATOMIC.XOR);
});

test("the field readers take every opcode apart into the constants it was built from", () => {
  for (const cls of [BPF_CLASS.ALU, BPF_CLASS.ALU64])
    for (const op of Object.values(BPF_ALU_OP))
      for (const src of Object.values(BPF_SRC)) {
        const code = cls | op | src;
        assert.equal(opClass(code), cls);
        assert.equal(opOp(code), op);
        assert.equal(opSrc(code), src);
        assert.ok(isAluClass(opClass(code)) && !isJmpClass(opClass(code)));
      }
  for (const cls of [BPF_CLASS.JMP, BPF_CLASS.JMP32])
    for (const op of Object.values(BPF_JMP_OP)) {
      const code = cls | op | BPF_SRC.X;
      assert.equal(opClass(code), cls);
      assert.equal(opOp(code), op);
      assert.ok(isJmpClass(opClass(code)) && !isAluClass(opClass(code)));
    }
  const bytes = { B: 1, H: 2, W: 4, DW: 8 } as const;
  for (const [size, n] of Object.entries(bytes) as [keyof typeof bytes, number][]) {
    const load = ldx(size, 1, 2, 0).code;
    const store = stx(size, 1, 2, 0).code;
    assert.equal(opSize(load), BPF_SIZE[size]);
    assert.equal(opMode(load), BPF_MODE.MEM);
    assert.equal(opClass(load), BPF_CLASS.LDX);
    assert.equal(opClass(store), BPF_CLASS.STX);
    assert.equal(opBytes(load), n);
    assert.equal(opBytes(store), n);
  }
  assert.equal(opMode(BPF_CLASS.STX | BPF_MODE.ATOMIC | BPF_SIZE.DW), BPF_MODE.ATOMIC);
  assert.equal(opMode(BPF_CLASS.LDX | BPF_MODE.MEMSX | BPF_SIZE.H), BPF_MODE.MEMSX);
});
