import { UvmFault } from "./fault.ts";

/**
 * A program's instructions decoded into parallel arrays (what both engines execute), validated once:
 * every opcode known, every jump and local call inside the program, every lddw complete. By the time a
 * program gets here the loader has rewritten lddw map/variable forms into plain 64-bit constants and kfunc
 * calls into indexes of the runtime's kfunc table.
 */
export interface Code {
  readonly name: string;
  readonly count: number;
  readonly op: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly off: Int16Array;
  readonly imm: Int32Array;
  /** The C source line of an instruction (from line_info), for faults. */
  readonly lineOf: (pc: number) => string | undefined;
}

/** Code addresses (lddw src=4, bpf_loop callbacks) are CODE_BASE + pc * 8: outside the heap. */
export const CODE_BASE = 0x60000000;

const VALID = new Set<number>();
for (const cls of [0x04, 0x07]) {
  for (let op = 0; op <= 0xc; op++) {
    VALID.add((op << 4) | cls);
    if (op !== 8) VALID.add((op << 4) | 0x08 | cls);
  }
}
for (const c of [0xd4, 0xdc, 0xd7, 0x05, 0x06, 0x85, 0x8d, 0x95, 0x18]) VALID.add(c);
for (let op = 1; op <= 0xd; op++) {
  if (op === 8 || op === 9) continue;
  for (const cls of [0x05, 0x06]) {
    VALID.add((op << 4) | cls);
    VALID.add((op << 4) | 0x08 | cls);
  }
}
for (const c of [0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b])
  VALID.add(c);
VALID.add(0xc3);
VALID.add(0xdb);
const ATOMIC_OPS = new Set([0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1]);

function mnemonicOf(op: number): string {
  return `opcode 0x${op.toString(16).padStart(2, "0")}`;
}

export function decodeCode(
  bytes: Uint8Array,
  name: string,
  lineOf: (pc: number) => string | undefined = () => undefined,
): Code {
  if (bytes.byteLength % 8 !== 0)
    throw new UvmFault(
      "bad-program",
      name,
      0,
      `${bytes.byteLength} bytes is not a whole number of instructions`,
    );
  const count = bytes.byteLength / 8;
  if (count === 0) throw new UvmFault("bad-program", name, 0, "the program is empty");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const code: Code = {
    name,
    count,
    op: new Uint8Array(count),
    dst: new Uint8Array(count),
    src: new Uint8Array(count),
    off: new Int16Array(count),
    imm: new Int32Array(count),
    lineOf,
  };
  for (let i = 0; i < count; i++) {
    code.op[i] = bytes[i * 8]!;
    code.dst[i] = bytes[i * 8 + 1]! & 0xf;
    code.src[i] = bytes[i * 8 + 1]! >> 4;
    code.off[i] = dv.getInt16(i * 8 + 2, true);
    code.imm[i] = dv.getInt32(i * 8 + 4, true);
  }
  validate(code);
  return code;
}

function validate(c: Code): void {
  const bad = (pc: number, what: string): never => {
    throw new UvmFault("bad-program", c.name, pc, what, c.lineOf(pc));
  };
  const second = new Uint8Array(c.count);
  for (let pc = 0; pc < c.count; pc++) {
    if (c.op[pc] === 0x18) {
      if (pc + 1 >= c.count) bad(pc, "lddw without its second half");
      second[pc + 1] = 1;
      pc++;
    }
  }
  const target = (pc: number, t: number, what: string): void => {
    if (t < 0 || t >= c.count) bad(pc, `${what} target ${t} is outside the program (0..${c.count - 1})`);
    if (second[t]) bad(pc, `${what} target ${t} is the second half of an lddw`);
  };
  for (let pc = 0; pc < c.count; pc++) {
    const op = c.op[pc]!;
    if (!VALID.has(op)) bad(pc, `unknown ${mnemonicOf(op)}`);
    if (c.dst[pc]! > 10 || c.src[pc]! > 10) bad(pc, "register number above r10");
    const cls = op & 7;
    if (op === 0x18) {
      if (c.src[pc] !== 0 && c.src[pc] !== 4)
        bad(pc, `lddw with src=${c.src[pc]} was not resolved by a loader (raw programs use src=0)`);
      if (c.src[pc] === 4) target(pc, pc + c.imm[pc]! + 1, "code address");
      pc++;
      continue;
    }
    if (cls === 0x04 || cls === 0x07) {
      const sub = op >> 4;
      if ((sub === 3 || sub === 9) && c.off[pc] !== 0 && c.off[pc] !== 1)
        bad(pc, "div/mod offset must be 0 or 1");
      if (sub === 0xb && ![0, 8, 16, 32].includes(c.off[pc]!)) bad(pc, "movsx offset must be 8, 16 or 32");
      if (sub === 0xd && ![16, 32, 64].includes(c.imm[pc]!)) bad(pc, "byte swap width must be 16, 32 or 64");
    } else if (cls === 0x05 || cls === 0x06) {
      if (op === 0x95) continue;
      if (op === 0x85) {
        if (c.src[pc] === 1) target(pc, pc + c.imm[pc]! + 1, "local call");
        else if (c.src[pc] !== 0 && c.src[pc] !== 2) bad(pc, `call with src=${c.src[pc]}`);
        continue;
      }
      if (op === 0x8d) continue;
      const off = op === 0x06 ? c.imm[pc]! : c.off[pc]!;
      target(pc, pc + off + 1, "jump");
    } else if (op === 0xc3 || op === 0xdb) {
      if (!ATOMIC_OPS.has(c.imm[pc]!)) bad(pc, `unknown atomic operation 0x${c.imm[pc]!.toString(16)}`);
    }
  }
}
