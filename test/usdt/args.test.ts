/**
 * USDT argument specs (src/kernel/attach/usdt-spec.ts), pure: the operand strings gcc 12 wrote into the
 * test target's notes (-O2 registers, memory, immediates, SIB and stack slots; -O0 frame slots) parse into
 * the kind, size, sign, register and offset libbpf's x86-64 parser gives them; every register alias maps to
 * its struct pt_regs offset; the bytes follow libbpf 1.1's struct __bpf_usdt_spec (read back from the
 * fixture's BTF) and, for SIB operands, the newer bitfield layout exactly as gcc places it; and what cannot
 * be expressed is refused naming the argument.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isKfuncKitError } from "../../src/errors.ts";
import {
  encodeUsdtSpec,
  LIBBPF_USDT_SPEC_LAYOUT,
  narrowUsdtValue,
  parseUsdtArgs,
  ptRegsOffset,
  resolveRipRelative,
  UsdtArgError,
  usdtSpecLayoutFromBtf,
} from "../../src/kernel/attach/index.ts";
import { parseObject } from "../../src/object/index.ts";
import { compileFixture, FIXTURES_DIR } from "../helpers/index.ts";
import { vmlinuxHeaderDir } from "../kernel/load-helpers.ts";

// struct pt_regs (x86-64): r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp ss
const PT = {
  r15: 0,
  r14: 8,
  r13: 16,
  r12: 24,
  bp: 32,
  bx: 40,
  r11: 48,
  r10: 56,
  r9: 64,
  r8: 72,
  ax: 80,
  cx: 88,
  dx: 96,
  si: 104,
  di: 112,
  ip: 128,
  sp: 152,
};

test("the operands gcc -O2/-O0 wrote for the test target parse as libbpf reads them", () => {
  const cases: Array<[string, Array<[string, number, boolean, string, bigint, number]>]> = [
    // kk:regs (-O2): 1/2/4/8-byte registers, signed and unsigned
    [
      "-1@%dl 1@%cl -2@%si 2@%r8w -4@%r9d 4@%r10d -8@%r11 8@%rax",
      [
        ["-1@%dl", 1, true, "reg", 0n, PT.dx],
        ["1@%cl", 1, false, "reg", 0n, PT.cx],
        ["-2@%si", 2, true, "reg", 0n, PT.si],
        ["2@%r8w", 2, false, "reg", 0n, PT.r8],
        ["-4@%r9d", 4, true, "reg", 0n, PT.r9],
        ["4@%r10d", 4, false, "reg", 0n, PT.r10],
        ["-8@%r11", 8, true, "reg", 0n, PT.r11],
        ["8@%rax", 8, false, "reg", 0n, PT.ax],
      ],
    ],
    // kk:mem: register-relative memory, with and without an offset
    [
      "-1@(%rdi) 1@1(%rdi) -8@16(%rdi) 8@24(%rdi)",
      [
        ["-1@(%rdi)", 1, true, "deref", 0n, PT.di],
        ["1@1(%rdi)", 1, false, "deref", 1n, PT.di],
        ["-8@16(%rdi)", 8, true, "deref", 16n, PT.di],
        ["8@24(%rdi)", 8, false, "deref", 24n, PT.di],
      ],
    ],
    // kk:consts: immediates are printed sign-extended ((unsigned char)250 → $-6)
    [
      "-1@$-5 1@$-6 2@$-5536 4@$-294967296 -8@$-9000000000000000000 8@$-81985529216486896",
      [
        ["-1@$-5", 1, true, "const", -5n, 0],
        ["1@$-6", 1, false, "const", -6n, 0],
        ["2@$-5536", 2, false, "const", -5536n, 0],
        ["4@$-294967296", 4, false, "const", -294967296n, 0],
        ["-8@$-9000000000000000000", 8, true, "const", -9000000000000000000n, 0],
        ["8@$-81985529216486896", 8, false, "const", -81985529216486896n, 0],
      ],
    ],
    // kk:stack (-O2, red zone below %rsp) and kk:frame (-O0, %rbp slots)
    [
      "-8@-32(%rsp) -4@-4(%rbp) 1@-20(%rbp)",
      [
        ["-8@-32(%rsp)", 8, true, "deref", -32n, PT.sp],
        ["-4@-4(%rbp)", 4, true, "deref", -4n, PT.bp],
        ["1@-20(%rbp)", 1, false, "deref", -20n, PT.bp],
      ],
    ],
    // kk:sib: scale-index-base
    [
      "-8@40(%rdi,%rsi,8) -4@44(%rdi,%rsi,4) 2@(%rax, %rbx)",
      [
        ["-8@40(%rdi,%rsi,8)", 8, true, "sib", 40n, PT.di],
        ["-4@44(%rdi,%rsi,4)", 4, true, "sib", 44n, PT.di],
        ["2@(%rax, %rbx)", 2, false, "sib", 0n, PT.ax],
      ],
    ],
  ];
  for (const [text, want] of cases) {
    const got = parseUsdtArgs(text);
    assert.deepEqual(
      got.map((a) => [a.spec, a.size, a.signed, a.kind, a.value, a.regOffset]),
      want,
      text,
    );
  }
  const sib = parseUsdtArgs("-8@40(%rdi,%rsi,8) 2@(%rax, %rbx)");
  assert.deepEqual([sib[0]!.indexRegOffset, sib[0]!.scale], [PT.si, 8]);
  assert.deepEqual([sib[1]!.indexRegOffset, sib[1]!.scale], [PT.bx, 1]);
  assert.deepEqual(parseUsdtArgs(""), []);
  assert.deepEqual(parseUsdtArgs("  "), []);
  // libbpf's sscanf patterns allow blanks around '@'
  assert.equal(parseUsdtArgs(" -4 @ %eax ")[0]!.regOffset, PT.ax);
});

test("every x86-64 register alias maps to its struct pt_regs slot", () => {
  const families: Array<[string[], number]> = [
    [["rax", "eax", "ax", "al"], PT.ax],
    [["rbx", "ebx", "bx", "bl"], PT.bx],
    [["rcx", "ecx", "cx", "cl"], PT.cx],
    [["rdx", "edx", "dx", "dl"], PT.dx],
    [["rsi", "esi", "si", "sil"], PT.si],
    [["rdi", "edi", "di", "dil"], PT.di],
    [["rbp", "ebp", "bp", "bpl"], PT.bp],
    [["rsp", "esp", "sp", "spl"], PT.sp],
    [["rip", "eip"], PT.ip],
  ];
  for (let r = 8; r <= 15; r++)
    families.push([[`r${r}`, `r${r}d`, `r${r}w`, `r${r}b`], PT[`r${r}` as keyof typeof PT]]);
  for (const [names, off] of families) for (const n of names) assert.equal(ptRegsOffset(n), off, n);
  assert.equal(ptRegsOffset("ah"), undefined, "libbpf has no high-byte registers either");
});

test("spec bytes follow libbpf 1.1's struct __bpf_usdt_spec, which the object's BTF confirms", () => {
  const obj = compileFixture("usdt-args", { includeDirs: [vmlinuxHeaderDir()] });
  const spec = parseObject(readFileSync(obj), obj);
  const m = spec.maps.find((x) => x.name === "__bpf_usdt_specs")!;
  assert.deepEqual(usdtSpecLayoutFromBtf(spec.btf!, m.valueTypeId, obj), LIBBPF_USDT_SPEC_LAYOUT);
  assert.equal(m.valueSize, 208);
  const b = encodeUsdtSpec(parseUsdtArgs("-4@-20(%rbp) 8@%rax 1@$-6"), 0x1122334455667788n);
  const v = new DataView(b.buffer);
  // arg 0: val_off -20, REG_DEREF, reg_off 32 (bp), signed, bitshift 32
  assert.equal(v.getBigInt64(0, true), -20n);
  assert.deepEqual([v.getUint32(8, true), v.getInt16(12, true), b[14], b[15]], [2, 32, 1, 32]);
  // arg 1: val_off 0, REG, reg_off 80 (ax), unsigned, bitshift 0
  assert.deepEqual(
    [v.getBigInt64(16, true), v.getUint32(24, true), v.getInt16(28, true), b[30], b[31]],
    [0n, 1, 80, 0, 0],
  );
  // arg 2: the immediate as val_off, CONST, reg_off 0, unsigned, bitshift 56
  assert.deepEqual(
    [v.getBigInt64(32, true), v.getUint32(40, true), v.getInt16(44, true), b[46], b[47]],
    [-6n, 0, 0, 0, 56],
  );
  assert.equal(v.getBigUint64(192, true), 0x1122334455667788n);
  assert.equal(v.getInt16(200, true), 3);
  assert.ok(
    b.subarray(48, 192).every((x) => x === 0),
    "unused argument slots stay zero",
  );
  // what bpf_usdt_arg() then returns: (unsigned char)-6 is 250
  assert.equal(narrowUsdtValue({ size: 1, signed: false }, BigInt.asUintN(64, -6n)), 250n);
  assert.equal(narrowUsdtValue({ size: 4, signed: true }, 0xffffffffn), -1n);
});

test("SIB operands: the libbpf ≥ 1.6 bitfield layout from BTF, bytes identical to gcc's struct", (t) => {
  const obj = compileFixture("usdt-sib-layout");
  const spec = parseObject(readFileSync(obj), obj);
  const m = spec.maps.find((x) => x.name === "__bpf_usdt_specs")!;
  const layout = usdtSpecLayoutFromBtf(spec.btf!, m.valueTypeId, obj);
  assert.ok(layout.arg.idxRegOff && layout.arg.scaleBitshift, "the layout has the SIB fields");
  assert.equal(layout.size, m.valueSize);
  const dir = mkdtempSync(join(tmpdir(), "kfunc-kit-sib-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const oracle = join(dir, "oracle");
  execFileSync("gcc", ["-O2", "-I", FIXTURES_DIR, "-o", oracle, join(FIXTURES_DIR, "usdt-sib-layout.c")]);
  const args = parseUsdtArgs(
    "-8@40(%rdi,%rsi,8) -4@44(%rdi,%rsi,4) 2@(%rax,%r15) -4@%r9d 8@$-3 -1@-20(%rbp)",
  );
  const fields = args.map((a) => {
    const type = { const: 0, reg: 1, deref: 2, sib: 3, symbol: -1 }[a.kind];
    const off = a.kind === "reg" ? 0n : a.value;
    const reg = a.kind === "const" ? 0 : a.regOffset;
    return `${type},${off},${reg},${a.indexRegOffset ?? 0},${Math.log2(a.scale ?? 1)},${a.signed ? 1 : 0},${64 - a.size * 8}`;
  });
  const want = execFileSync(oracle, ["77", ...fields], { encoding: "utf8" }).trim();
  assert.equal(Buffer.from(encodeUsdtSpec(args, 77n, layout)).toString("hex"), want);
  // the old layout cannot say "index register": refused, naming the argument
  assert.throws(
    () => encodeUsdtSpec(args, 0n),
    (e: unknown) =>
      e instanceof UsdtArgError &&
      e.index === 0 &&
      /argument #0 '-8@40\(%rdi,%rsi,8\)': a scale-index-base operand/.test(e.message) &&
      /libbpf ≥ 1\.6/.test(e.hint ?? ""),
  );
});

test("symbol(%rip) operands become a %rip-relative read once the symbol's address is known", () => {
  const [a] = parseUsdtArgs("-4@counter+8(%rip)");
  assert.deepEqual([a!.kind, a!.symbol, a!.value, a!.regOffset], ["symbol", "counter", 8n, PT.ip]);
  const r = resolveRipRelative(a!, 0x4010, 0x1234);
  assert.deepEqual([r.kind, r.value], ["deref", BigInt(0x4010 + 8 - 0x1234)]);
  assert.throws(() => encodeUsdtSpec([a!], 0n), /symbol 'counter' was not resolved/);
});

test("operands we cannot read are refused naming the argument and why", () => {
  const refuse = (text: string, index: number, spec: string, why: RegExp) =>
    assert.throws(
      () => parseUsdtArgs(text),
      (e: unknown) =>
        e instanceof UsdtArgError &&
        isKfuncKitError(e) &&
        e.index === index &&
        e.spec === spec &&
        e.message.startsWith(`argument #${index} '${spec}': `) &&
        why.test(e.message),
      text,
    );
  refuse("8@%rax -4@%ah", 1, "-4@%ah", /unknown x86-64 register '%ah'/);
  refuse("-4@%xmm0", 0, "-4@%xmm0", /unknown x86-64 register/);
  refuse("3@%eax", 0, "3@%eax", /size 3 is not 1, 2, 4 or 8/);
  refuse("8@(%rdi,%rsi,3)", 0, "8@(%rdi,%rsi,3)", /scale 3/);
  refuse("4@%eax junk", 1, "junk", /not a USDT operand/);
  refuse(Array.from({ length: 13 }, () => "8@%rax").join(" "), 12, "8@%rax", /more than 12 arguments/);
});
