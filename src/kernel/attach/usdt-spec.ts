/**
 * USDT argument specs → libbpf's `struct __bpf_usdt_spec` bytes, the contract of `usdt.bpf.h`: the BPF side
 * looks the spec up by id (BPF cookie, or the IP-to-id map) and reads each argument as a constant, a
 * register of `struct pt_regs`, a memory word at register + offset, or (libbpf ≥ 1.6 headers) at
 * base + index << scale + offset, then narrows it to 1/2/4/8 bytes with sign or zero extension.
 * Pure: strings and layouts in, bytes out. x86-64 only (the operand syntax and pt_regs are per-arch).
 */
import type { Btf, BtfStruct } from "../../btf/index.ts";
import { KfuncKitError, type KfuncKitErrorOptions, ObjectError } from "../../errors.ts";

/** enum __bpf_usdt_arg_type */
export const USDT_ARG = { CONST: 0, REG: 1, REG_DEREF: 2, SIB: 3 } as const;

export type UsdtArgKind = "const" | "reg" | "deref" | "sib" | "symbol";

export interface UsdtArg {
  /** The argument's text in the note ("-4@-20(%rbp)"). */
  spec: string;
  /** 1, 2, 4 or 8. */
  size: number;
  signed: boolean;
  /**
   * const: `$value`; reg: `%reg`; deref: `offset(%reg)`; sib: `offset(%base,%index,scale)`;
   * symbol: `symbol±addend(%rip)` (a global: becomes a deref of %rip once the symbol's address is known).
   */
  kind: UsdtArgKind;
  /** const: the value; deref/sib: the offset; symbol: the addend. Two's complement as a signed 64-bit. */
  value: bigint;
  /** reg/deref/sib: the (base) register's name as written ("eax", "rbp"). */
  register?: string;
  /** reg/deref/sib: offsetof(struct pt_regs, <register>). */
  regOffset: number;
  /** sib: the index register and its pt_regs offset. */
  indexRegister?: string;
  indexRegOffset?: number;
  /** sib: 1, 2, 4 or 8. */
  scale?: number;
  /** symbol: the symbol's name. */
  symbol?: string;
}

/** A USDT argument we cannot turn into a spec: names the argument, its text and why. */
export class UsdtArgError extends KfuncKitError {
  override readonly name = "UsdtArgError";
  constructor(
    readonly index: number,
    readonly spec: string,
    what: string,
    options: KfuncKitErrorOptions = {},
  ) {
    super("NOT_SUPPORTED", `argument #${index} '${spec}': ${what}`, options);
  }
}

/** offsetof(struct pt_regs, …) on x86-64, by every name gas prints for the register (64/32/16/8-bit). */
const X86_64_REGS: Array<[names: string[], offset: number]> = [
  [["rip", "eip"], 128],
  [["rax", "eax", "ax", "al"], 80],
  [["rbx", "ebx", "bx", "bl"], 40],
  [["rcx", "ecx", "cx", "cl"], 88],
  [["rdx", "edx", "dx", "dl"], 96],
  [["rsi", "esi", "si", "sil"], 104],
  [["rdi", "edi", "di", "dil"], 112],
  [["rbp", "ebp", "bp", "bpl"], 32],
  [["rsp", "esp", "sp", "spl"], 152],
  [["r8", "r8d", "r8w", "r8b"], 72],
  [["r9", "r9d", "r9w", "r9b"], 64],
  [["r10", "r10d", "r10w", "r10b"], 56],
  [["r11", "r11d", "r11w", "r11b"], 48],
  [["r12", "r12d", "r12w", "r12b"], 24],
  [["r13", "r13d", "r13w", "r13b"], 16],
  [["r14", "r14d", "r14w", "r14b"], 8],
  [["r15", "r15d", "r15w", "r15b"], 0],
];
const REG_OFFSET = new Map<string, number>(X86_64_REGS.flatMap(([names, off]) => names.map((n) => [n, off])));

/** offsetof(struct pt_regs, <name>) for an x86-64 register name ("eax", "r8w"…), undefined if unknown. */
export function ptRegsOffset(name: string): number | undefined {
  return REG_OFFSET.get(name);
}

const SIZE = String.raw`\s*(-?\d+)\s*@\s*`;
const NUM = String.raw`([+-]?(?:0[xX][0-9a-fA-F]+|\d+))`;
const REG = "%([A-Za-z0-9]+)";
const END = String.raw`(?=\s|$)\s*`;
const PATTERNS: Array<[UsdtArgKind, RegExp]> = [
  ["sib", new RegExp(`${SIZE}${NUM}?\\s*\\(\\s*${REG}\\s*,\\s*${REG}\\s*(?:,\\s*(\\d+)\\s*)?\\)${END}`, "y")],
  ["deref", new RegExp(`${SIZE}${NUM}?\\s*\\(\\s*${REG}\\s*\\)${END}`, "y")],
  ["reg", new RegExp(`${SIZE}${REG}${END}`, "y")],
  ["const", new RegExp(`${SIZE}\\$${NUM}${END}`, "y")],
  [
    "symbol",
    new RegExp(`${SIZE}([A-Za-z_.$][\\w.$@]*)(?:\\s*([+-]\\s*\\d+))?\\s*\\(\\s*%rip\\s*\\)${END}`, "y"),
  ],
];

function int64(text: string): bigint {
  const neg = text.startsWith("-");
  const digits = text.replace(/^[+-]/, "");
  const v = BigInt(digits);
  return BigInt.asIntN(64, neg ? -v : v);
}

function register(index: number, spec: string, name: string): number {
  const off = ptRegsOffset(name);
  if (off === undefined)
    throw new UsdtArgError(index, spec, `unknown x86-64 register '%${name}'`, {
      hint: "USDT arguments are read from struct pt_regs: only the general-purpose registers and %rip work",
    });
  return off;
}

/** At most this many arguments per probe (BPF_USDT_MAX_ARG_CNT in libbpf's usdt.bpf.h). */
export const USDT_MAX_ARGS = 12;

/**
 * Parses a probe's argument string ("-4@%esi -4@-24(%rbp) 8@$5") the way libbpf's x86-64 parser does, plus
 * `symbol(%rip)` operands (globals in PIE code), which libbpf refuses. Throws {@link UsdtArgError} naming
 * the first argument it cannot read.
 */
export function parseUsdtArgs(args: string): UsdtArg[] {
  const out: UsdtArg[] = [];
  let pos = 0;
  while (pos < args.length) {
    if (/^\s*$/.test(args.slice(pos))) break;
    const index = out.length;
    let matched: { kind: UsdtArgKind; m: RegExpExecArray } | undefined;
    for (const [kind, re] of PATTERNS) {
      re.lastIndex = pos;
      const m = re.exec(args);
      if (m) {
        matched = { kind, m };
        break;
      }
    }
    const text = args.slice(pos).trim().split(/\s+/)[0] ?? "";
    if (!matched)
      throw new UsdtArgError(index, text, "not a USDT operand this x86-64 parser knows", {
        hint: "known forms: N@%reg, N@$imm, N@off(%reg), N@off(%base,%index,scale), N@symbol(%rip)",
      });
    const { kind, m } = matched;
    const spec = m[0].trim();
    pos += m[0].length;
    const sz = Number(m[1]);
    const size = Math.abs(sz);
    if (![1, 2, 4, 8].includes(size))
      throw new UsdtArgError(index, spec, `argument size ${size} is not 1, 2, 4 or 8 bytes`);
    const arg: UsdtArg = { spec, size, signed: sz < 0, kind, value: 0n, regOffset: 0 };
    switch (kind) {
      case "const":
        arg.value = int64(m[2]!);
        break;
      case "reg":
        arg.register = m[2]!;
        arg.regOffset = register(index, spec, m[2]!);
        break;
      case "deref":
        arg.value = m[2] ? int64(m[2]) : 0n;
        arg.register = m[3]!;
        arg.regOffset = register(index, spec, m[3]!);
        break;
      case "sib": {
        arg.value = m[2] ? int64(m[2]) : 0n;
        arg.register = m[3]!;
        arg.regOffset = register(index, spec, m[3]!);
        arg.indexRegister = m[4]!;
        arg.indexRegOffset = register(index, spec, m[4]!);
        const scale = m[5] ? Number(m[5]) : 1;
        if (![1, 2, 4, 8].includes(scale))
          throw new UsdtArgError(index, spec, `scale ${scale} is not 1, 2, 4 or 8`);
        arg.scale = scale;
        break;
      }
      case "symbol":
        arg.symbol = m[2]!;
        arg.value = m[3] ? int64(m[3].replace(/\s+/g, "")) : 0n;
        arg.register = "rip";
        arg.regOffset = register(index, spec, "rip");
        break;
    }
    out.push(arg);
  }
  if (out.length > USDT_MAX_ARGS)
    throw new UsdtArgError(
      USDT_MAX_ARGS,
      out[USDT_MAX_ARGS]!.spec,
      `more than ${USDT_MAX_ARGS} arguments (usdt.bpf.h reads at most ${USDT_MAX_ARGS})`,
    );
  return out;
}

/**
 * A `symbol(%rip)` argument made concrete: %rip holds the probe's own address when the uprobe fires, so
 * the global is at %rip + (symbolAddress + addend − probeAddress). Other kinds are returned as they are.
 */
export function resolveRipRelative(arg: UsdtArg, symbolAddress: number, probeAddress: number): UsdtArg {
  if (arg.kind !== "symbol") return arg;
  return {
    ...arg,
    kind: "deref",
    value: BigInt.asIntN(64, BigInt(symbolAddress) + arg.value - BigInt(probeAddress)),
  };
}

// ---- struct __bpf_usdt_spec layout ---------------------------------------------------------------------

/** A field: its first bit from the start of its struct, and its width in bits. */
export interface LayoutField {
  bitOffset: number;
  bits: number;
}

export interface UsdtSpecLayout {
  /** sizeof(struct __bpf_usdt_spec) */
  size: number;
  argsOffset: number;
  /** sizeof(struct __bpf_usdt_arg_spec) */
  argSize: number;
  maxArgs: number;
  cookie: LayoutField;
  argCount: LayoutField;
  arg: {
    valOff: LayoutField;
    argType: LayoutField;
    regOff: LayoutField;
    argSigned: LayoutField;
    argBitshift: LayoutField;
    /** Only in libbpf ≥ 1.6's header (SIB operands). */
    idxRegOff?: LayoutField;
    scaleBitshift?: LayoutField;
  };
}

const f = (byte: number, bytes: number): LayoutField => ({ bitOffset: byte * 8, bits: bytes * 8 });

/** The layout of libbpf 1.1–1.5's usdt.bpf.h (no SIB fields): 12 × 16-byte args, cookie at 192, count at 200. */
export const LIBBPF_USDT_SPEC_LAYOUT: UsdtSpecLayout = {
  size: 208,
  argsOffset: 0,
  argSize: 16,
  maxArgs: 12,
  cookie: f(192, 8),
  argCount: f(200, 2),
  arg: { valOff: f(0, 8), argType: f(8, 4), regOff: f(12, 2), argSigned: f(14, 1), argBitshift: f(15, 1) },
};

function memberField(btf: Btf, s: BtfStruct, name: string): LayoutField | undefined {
  const m = s.members.find((x) => x.name === name);
  if (!m) return undefined;
  const bits = s.kindFlag && m.bitfieldSize ? m.bitfieldSize : btf.sizeof(m.type) * 8;
  return { bitOffset: m.bitOffset, bits };
}

/**
 * The spec layout the object was compiled with, read from its BTF (`struct __bpf_usdt_spec`, the value type
 * of `__bpf_usdt_specs`), so both the libbpf 1.1 header and the newer one with SIB bitfields are written
 * exactly. Throws when the type does not look like usdt.bpf.h's.
 */
export function usdtSpecLayoutFromBtf(btf: Btf, valueTypeId: number, source: string): UsdtSpecLayout {
  const bad = (what: string): never => {
    throw new ObjectError(`${source}: map '__bpf_usdt_specs': ${what}`, {
      hint: "declare the USDT maps by including <bpf/usdt.bpf.h>, not by hand",
    });
  };
  const spec = btf.resolve(valueTypeId);
  if (spec.kind !== "STRUCT") return bad(`value type is a ${spec.kind}, not struct __bpf_usdt_spec`);
  const argsMember = spec.members.find((m) => m.name === "args");
  if (!argsMember) return bad(`struct ${spec.name || "(anonymous)"} has no 'args' member`);
  const arr = btf.resolve(argsMember.type);
  if (arr.kind !== "ARRAY") return bad("'args' is not an array");
  const argT = btf.resolve(arr.type);
  if (argT.kind !== "STRUCT") return bad("'args' is not an array of struct __bpf_usdt_arg_spec");
  const need = (s: BtfStruct, name: string): LayoutField =>
    memberField(btf, s, name) ?? bad(`struct ${s.name || "(anonymous)"} has no '${name}' member`);
  const idxRegOff = memberField(btf, argT, "idx_reg_off");
  const scaleBitshift = memberField(btf, argT, "scale_bitshift");
  return {
    size: spec.size,
    argsOffset: argsMember.bitOffset / 8,
    argSize: argT.size,
    maxArgs: arr.nelems,
    cookie: need(spec, "usdt_cookie"),
    argCount: need(spec, "arg_cnt"),
    arg: {
      valOff: need(argT, "val_off"),
      argType: need(argT, "arg_type"),
      regOff: need(argT, "reg_off"),
      argSigned: need(argT, "arg_signed"),
      argBitshift: need(argT, "arg_bitshift"),
      ...(idxRegOff ? { idxRegOff } : {}),
      ...(scaleBitshift ? { scaleBitshift } : {}),
    },
  };
}

/** Writes `value` (two's complement, truncated to the field) little-endian into `out` at `base` bytes. */
function put(out: Uint8Array, base: number, field: LayoutField, value: bigint): void {
  let v = BigInt.asUintN(field.bits, value);
  let bit = base * 8 + field.bitOffset;
  let left = field.bits;
  while (left > 0) {
    const byte = bit >> 3;
    const shift = bit & 7;
    const n = Math.min(8 - shift, left);
    const mask = ((1 << n) - 1) << shift;
    out[byte] = (out[byte]! & ~mask) | ((Number(v & BigInt((1 << n) - 1)) << shift) & mask);
    v >>= BigInt(n);
    bit += n;
    left -= n;
  }
}

const TYPE_OF: Record<Exclude<UsdtArgKind, "symbol">, number> = {
  const: USDT_ARG.CONST,
  reg: USDT_ARG.REG,
  deref: USDT_ARG.REG_DEREF,
  sib: USDT_ARG.SIB,
};

/**
 * The bytes of one `struct __bpf_usdt_spec` for these arguments and USDT cookie, as libbpf's
 * parse_usdt_spec fills it. `symbol` arguments must be resolved first ({@link resolveRipRelative}).
 */
export function encodeUsdtSpec(
  args: readonly UsdtArg[],
  cookie: bigint,
  layout: UsdtSpecLayout = LIBBPF_USDT_SPEC_LAYOUT,
): Uint8Array {
  const out = new Uint8Array(layout.size);
  if (args.length > layout.maxArgs)
    throw new UsdtArgError(
      layout.maxArgs,
      args[layout.maxArgs]!.spec,
      `more than the ${layout.maxArgs} arguments this object's usdt.bpf.h holds`,
    );
  for (const [i, a] of args.entries()) {
    if (a.kind === "symbol")
      throw new UsdtArgError(i, a.spec, `symbol '${a.symbol}' was not resolved to an address`);
    const base = layout.argsOffset + i * layout.argSize;
    const l = layout.arg;
    if (a.kind === "sib") {
      if (!l.idxRegOff || !l.scaleBitshift)
        throw new UsdtArgError(
          i,
          a.spec,
          "a scale-index-base operand, which this object's usdt.bpf.h cannot express (no idx_reg_off in struct __bpf_usdt_arg_spec)",
          { hint: "rebuild the eBPF program with usdt.bpf.h from libbpf ≥ 1.6, which reads SIB operands" },
        );
      put(out, base, l.idxRegOff, BigInt(a.indexRegOffset ?? 0));
      put(out, base, l.scaleBitshift, BigInt(Math.log2(a.scale ?? 1)));
    }
    put(out, base, l.valOff, a.kind === "reg" ? 0n : a.value);
    put(out, base, l.argType, BigInt(TYPE_OF[a.kind]));
    put(out, base, l.regOff, BigInt(a.kind === "const" ? 0 : a.regOffset));
    put(out, base, l.argSigned, a.signed ? 1n : 0n);
    put(out, base, l.argBitshift, BigInt(64 - a.size * 8));
  }
  put(out, 0, layout.cookie, cookie);
  put(out, 0, layout.argCount, BigInt(args.length));
  return out;
}

/** What `bpf_usdt_arg()` computes for one argument, given the raw 64-bit word it read (tests and docs). */
export function narrowUsdtValue(arg: Pick<UsdtArg, "size" | "signed">, raw: bigint): bigint {
  return arg.signed ? BigInt.asIntN(arg.size * 8, raw) : BigInt.asUintN(arg.size * 8, raw);
}
