/**
 * Reads the test annotations of an eBPF object from its BTF decl tags (pure: ObjectSpec in, test cases
 * out). The kernel selftests' tags (`comment:test_…`, bpf_misc.h of Linux 6.12, read as test_loader.c
 * reads them) and kfunc-kit's own (`kfunc:…`, include/kfunc_test.h). A program with at least one of these
 * tags is a test; programs without are not. A tag in either namespace that is unknown or malformed is an
 * {@link AnnotationError} naming the file, the program and the tag.
 */
import type { Btf } from "../btf/index.ts";
import { KfuncKitError } from "../errors.ts";
import { testRunUnsupported } from "../kernel/test-run.ts";
import type { ObjectSpec, ProgramSpec } from "../object/types.ts";
import { compilePattern, type Pattern } from "./match.ts";

export class AnnotationError extends KfuncKitError {
  override readonly name = "AnnotationError";
  constructor(
    readonly file: string,
    readonly program: string,
    readonly tag: string,
    what: string,
    hint?: string,
  ) {
    super("USAGE", `${file}: program '${program}': annotation '${tag}': ${what}`, hint ? { hint } : {});
  }
}

/** The expectations of one run of a test (test_loader's test_subspec). */
export interface RunExpectation {
  expectFailure: boolean;
  /** Verifier log patterns, in order. */
  msgs: Pattern[];
  /** `__retval`: the expected r0 (as a signed 32-bit int), "any" for POINTER_VALUE; undefined = no test run. */
  retval: number | "any" | undefined;
  /** `__xlated`: patterns for the translated program's text (src/testing/disasm.ts), in order. */
  xlated: Pattern[];
  /** Annotations this run needs that kfunc-kit does not do yet (the run is a skip naming them). */
  unsupported: string[];
}

export interface TestCase {
  /** The source (or object) file, for messages. */
  file: string;
  program: string;
  section: string;
  /** BPF_PROG_TYPE_* name without the prefix, lower case ("syscall", "xdp"). */
  progType: string;
  description: string | undefined;
  /** The program's name, then its description. */
  title: string;
  auxiliary: boolean;
  /** Privileged run (test_loader's default). */
  priv: RunExpectation | undefined;
  /** Unprivileged run (`…_unpriv` tags): reported as a skip (not done yet). */
  unpriv: RunExpectation | undefined;
  logLevel: number;
  /** Flags or'ed into the program's (`__flag`) and cleared (`__flag(!X)`). */
  flagsSet: number;
  flagsClear: number;
  /** `__arch_*`: the architectures the test runs on (empty = all). */
  arch: string[];
  /**
   * `__btf_path`: the BTF CO-RE relocates against instead of the kernel's (an object or raw BTF file, found
   * next to the test file; a `x.bpf.o` there that does not exist is compiled from `x.c`, as the selftests
   * Makefile builds every progs/*.c).
   */
  btfPath: string | undefined;
  /** `__load_if_JITed` / `__load_if_no_JITed`. */
  loadMode: "jited" | "no_jited" | undefined;
  kernelMin: string | undefined;
  refusedBelow: { version: string; msgs: Pattern[] } | undefined;
  ctxIn: Uint8Array | undefined;
  dataIn: Uint8Array | undefined;
  repeat: number;
  /** bpf_printk lines expected in trace_pipe during the run, in order. */
  printk: Pattern[];
}

/** BPF_F_* program flags test_loader knows by name. */
export const PROG_FLAGS: Record<string, number> = {
  BPF_F_STRICT_ALIGNMENT: 1 << 0,
  BPF_F_ANY_ALIGNMENT: 1 << 1,
  BPF_F_TEST_RND_HI32: 1 << 2,
  BPF_F_TEST_STATE_FREQ: 1 << 3,
  BPF_F_SLEEPABLE: 1 << 4,
  BPF_F_XDP_HAS_FRAGS: 1 << 5,
  BPF_F_TEST_REG_INVARIANTS: 1 << 7,
};

/** Program types BPF_PROG_TEST_RUN runs with test_loader's default input (packet data or nothing). */
const PACKET_TYPES = new Set([
  "socket_filter",
  "sched_cls",
  "sched_act",
  "xdp",
  "cgroup_skb",
  "lwt_in",
  "lwt_out",
  "lwt_xmit",
  "lwt_seg6local",
  "flow_dissector",
]);
export const TEST_RUN_TYPES = [...PACKET_TYPES, "syscall", "raw_tracepoint (with __ctx_in)"];

export function isPacketType(progType: string): boolean {
  return PACKET_TYPES.has(progType);
}

export function canTestRun(progType: string, hasCtx: boolean): boolean {
  return PACKET_TYPES.has(progType) || progType === "syscall" || (progType === "raw_tracepoint" && hasCtx);
}

const DEFAULT_RUN = (): RunExpectation => ({
  expectFailure: false,
  msgs: [],
  retval: undefined,
  xlated: [],
  unsupported: [],
});

const NAMED_RETVALS: Record<string, number | "any"> = {
  INT_MIN: -2147483648,
  _INT_MIN: -2147483648,
  POINTER_VALUE: "any",
  TEST_DATA_LEN: 64,
};

function parseIntStrict(s: string): number | undefined {
  const t = s.trim();
  const m = /^(-)?(0x[0-9a-fA-F]+|\d+)[uUlL]*$/.exec(t);
  if (!m) return undefined;
  const v = Number(m[2]) * (m[1] ? -1 : 1);
  return Number.isSafeInteger(v) ? v : undefined;
}

function parseHex(s: string): Uint8Array | undefined {
  const t = s.replace(/0x/gi, "").replace(/[\s,:]/g, "");
  if (t.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(t)) return undefined;
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(t.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const VERSION = /^\d+\.\d+(\.\d+)?$/;

/**
 * The value of a tag that carries a `__COUNTER__` (`test_expect_msg=12=text`, 6.12's bpf_misc.h); older
 * headers wrote `test_expect_msg=text`. Returns the order key and the text.
 */
function dynamic(rest: string, seq: number): { order: number; text: string } {
  const m = /^(\d+)=([\s\S]*)$/.exec(rest);
  return m ? { order: Number(m[1]), text: m[2]! } : { order: seq, text: rest };
}

interface RawTag {
  name: string;
  /** Tags of newer headers (`comment:<N>:…`) and counter-carrying values sort by their counter. */
  order: number;
}

function tagsOf(btf: Btf, funcId: number): RawTag[] {
  return btf
    .declTagsOf(funcId)
    .filter((t) => t.componentIdx === -1)
    .map((t, i) => {
      // newest selftests: every tag is "comment:<__COUNTER__>:<tag>"
      const m = /^comment:(\d+):(.*)$/s.exec(t.name);
      return m ? { name: `comment:${m[2]}`, order: Number(m[1]) } : { name: t.name, order: 1e9 + i };
    });
}

/** Whether the tag belongs to the test annotation namespaces. */
export function isTestTag(name: string): boolean {
  return (
    name.startsWith("comment:test_") || name.startsWith("comment:load_mode=") || name.startsWith("kfunc:")
  );
}

/** Parses one program's annotations; undefined when it has none (not a test). */
export function parseTestCase(spec: ObjectSpec, p: ProgramSpec, file = spec.source): TestCase | undefined {
  const btf = spec.btf;
  if (!btf || !p.btfFuncId) return undefined;
  const tags = tagsOf(btf, p.btfFuncId).filter((t) => isTestTag(t.name));
  if (tags.length === 0) return undefined;
  const progType = p.type.name.replace(/^BPF_PROG_TYPE_/, "").toLowerCase();
  const tc: TestCase = {
    file,
    program: p.name,
    section: p.section,
    progType,
    description: undefined,
    title: p.name,
    auxiliary: false,
    priv: undefined,
    unpriv: undefined,
    logLevel: 0,
    flagsSet: 0,
    flagsClear: 0,
    arch: [],
    loadMode: undefined,
    btfPath: undefined,
    kernelMin: undefined,
    refusedBelow: undefined,
    ctxIn: undefined,
    dataIn: undefined,
    repeat: 1,
    printk: [],
  };
  const err = (tag: string, what: string, hint?: string) =>
    new AnnotationError(file, p.name, tag, what, hint);
  const pattern = (tag: string, text: string, onNextLine = false): Pattern => {
    try {
      return compilePattern(text, onNextLine);
    } catch (e) {
      throw err(
        tag,
        (e as Error).message,
        "{{…}} holds a POSIX extended regular expression; the rest is literal",
      );
    }
  };
  const priv = () => (tc.priv ??= DEFAULT_RUN());
  const unpriv = () => (tc.unpriv ??= DEFAULT_RUN());
  let hasUnprivResult = false;
  let hasUnprivRetval = false;
  let hasUnprivMsgs = false;
  const msgs: { run: "priv" | "unpriv" | "below"; order: number; tag: string; text: string }[] = [];
  const xlated: { run: "priv" | "unpriv"; order: number; tag: string; text: string }[] = [];
  const skipPriv: string[] = [];
  const skipUnpriv: string[] = [];
  const sorted = [...tags].sort((a, b) => a.order - b.order);
  for (const [seq, { name }] of sorted.entries()) {
    const eq = name.indexOf("=");
    const key = eq < 0 ? name : name.slice(0, eq);
    const val = eq < 0 ? "" : name.slice(eq + 1);
    const retval = (v: string): number | "any" => {
      const named = NAMED_RETVALS[v.trim()];
      if (named !== undefined) return named;
      const n = parseIntStrict(v);
      if (n === undefined)
        throw err(
          name,
          `'${v}' is not a number`,
          "__retval takes a decimal or 0x… number, INT_MIN, POINTER_VALUE or TEST_DATA_LEN",
        );
      return n | 0;
    };
    switch (key) {
      case "comment:test_expect_success":
        priv().expectFailure = false;
        break;
      case "comment:test_expect_failure":
        priv().expectFailure = true;
        break;
      case "comment:test_expect_success_unpriv":
        unpriv().expectFailure = false;
        hasUnprivResult = true;
        break;
      case "comment:test_expect_failure_unpriv":
        unpriv().expectFailure = true;
        hasUnprivResult = true;
        break;
      case "comment:test_auxiliary":
        tc.auxiliary = true;
        priv();
        break;
      case "comment:test_auxiliary_unpriv":
        tc.auxiliary = true;
        unpriv();
        break;
      case "comment:test_description":
        tc.description = val;
        break;
      case "comment:test_expect_msg":
      case "comment:test_expect_msg_unpriv": {
        const d = dynamic(val, seq);
        const run = key.endsWith("_unpriv") ? "unpriv" : "priv";
        if (run === "unpriv") {
          unpriv();
          hasUnprivMsgs = true;
        } else priv();
        msgs.push({ run, order: d.order, tag: name, text: d.text });
        break;
      }
      case "comment:test_expect_xlated":
      case "comment:test_expect_xlated_unpriv": {
        const d = dynamic(val, seq);
        const run = key.endsWith("_unpriv") ? "unpriv" : "priv";
        if (run === "unpriv") unpriv();
        else priv();
        xlated.push({ run, order: d.order, tag: name, text: d.text });
        break;
      }
      case "comment:test_jited":
      case "comment:test_jited_unpriv":
        // test_loader collects __jited only after an __arch_* naming this machine's architecture; the
        // JIT's x86 disassembly (LLVM's, in test_progs) is not something kfunc test has
        if (tc.arch.length === 0)
          throw err(name, "__jited before __arch_*", "test_loader requires __arch_x86_64 (or another) first");
        if (key.endsWith("_unpriv")) {
          unpriv();
          skipUnpriv.push("__jited_unpriv (disassembly of JITed code)");
        } else {
          priv();
          skipPriv.push("__jited (disassembly of JITed code)");
        }
        break;
      case "comment:test_retval":
        priv().retval = retval(val);
        break;
      case "comment:test_retval_unpriv":
        unpriv().retval = retval(val);
        hasUnprivRetval = true;
        break;
      case "comment:test_log_level": {
        const n = parseIntStrict(val);
        if (n === undefined || n < 0)
          throw err(name, `'${val}' is not a log level`, "__log_level(1), (2) or (4)");
        tc.logLevel = n;
        break;
      }
      case "comment:test_prog_flags": {
        const clear = val.startsWith("!");
        const v = clear ? val.slice(1) : val;
        const f = PROG_FLAGS[v] ?? parseIntStrict(v);
        if (f === undefined)
          throw err(name, `unknown flag '${v}'`, `known: ${Object.keys(PROG_FLAGS).join(", ")}, or a number`);
        if (clear) tc.flagsClear |= f;
        else tc.flagsSet |= f;
        break;
      }
      case "comment:test_arch":
        if (!["X86_64", "ARM64", "RISCV64", "s390x", "LOONGARCH"].includes(val))
          throw err(name, `unknown architecture '${val}'`, "__arch_x86_64, __arch_arm64, __arch_riscv64");
        tc.arch.push(val);
        break;
      case "comment:test_btf_path":
        if (!val) throw err(name, "an empty path", '__btf_path("btf__core_reloc_x.bpf.o")');
        tc.btfPath = val;
        break;
      case "comment:test_caps_unpriv":
        unpriv();
        break;
      case "comment:load_mode":
        if (val !== "jited" && val !== "no_jited")
          throw err(name, `unknown load mode '${val}'`, "__load_if_JITed() or __load_if_no_JITed()");
        tc.loadMode = val;
        break;
      case "kfunc:kernel_min":
        if (!VERSION.test(val))
          throw err(name, `'${val}' is not a kernel version`, 'e.g. __kernel_min("6.10")');
        tc.kernelMin = val;
        priv();
        break;
      case "kfunc:refused_below": {
        const m = /^([^=]*)=([\s\S]*)$/.exec(val);
        if (!m || !VERSION.test(m[1]!))
          throw err(
            name,
            `'${val}' does not start with a kernel version`,
            '__refused_below("6.10", "message")',
          );
        tc.refusedBelow = { version: m[1]!, msgs: m[2] ? [pattern(name, m[2])] : [] };
        priv();
        break;
      }
      case "kfunc:ctx_in":
      case "kfunc:data_in": {
        const bytes = parseHex(val);
        if (!bytes) throw err(name, `'${val}' is not hex bytes`, '__ctx_in("01 00 00 00 2a 00 00 00")');
        if (key === "kfunc:ctx_in") tc.ctxIn = bytes;
        else tc.dataIn = bytes;
        priv();
        break;
      }
      case "kfunc:ctx_in_var":
      case "kfunc:data_in_var": {
        const bytes = variableBytes(spec, val);
        if (!bytes)
          throw err(
            name,
            `no global variable '${val}' with an initializer in the object`,
            `declare it with KFUNC_TEST_INPUT(type, ${val}) = { … };`,
          );
        if (key === "kfunc:ctx_in_var") tc.ctxIn = bytes;
        else tc.dataIn = bytes;
        priv();
        break;
      }
      case "kfunc:repeat": {
        const n = parseIntStrict(val);
        if (n === undefined || n < 1) throw err(name, `'${val}' is not a positive count`, "__repeat(100)");
        tc.repeat = n;
        priv();
        break;
      }
      case "kfunc:printk": {
        const d = dynamic(val, seq);
        priv();
        tc.printk.push(pattern(name, d.text));
        break;
      }
      default:
        throw err(
          name,
          "unknown test annotation",
          name.startsWith("kfunc:")
            ? "kfunc-kit's annotations: __kernel_min, __refused_below, __ctx_in, __data_in, __ctx_in_var, __data_in_var, __repeat, __printk (include/kfunc_test.h)"
            : "the kernel selftests' annotations: __success, __failure, __msg, __retval, __description, __log_level, __flag, __auxiliary, __arch_*, and the _unpriv variants (include/kfunc_test.h)",
        );
    }
  }
  tc.title = tc.description ? `${p.name} ${tc.description}` : p.name;
  if (!tc.priv && !tc.unpriv) priv();
  for (const m of msgs.sort((a, b) => a.order - b.order)) {
    const target = m.run === "priv" ? tc.priv! : tc.unpriv!;
    target.msgs.push(pattern(m.tag, m.text));
  }
  // test_loader's push_disasm_msg(): consecutive lines, unless a "..." pattern stands between
  const nextLine = { priv: true, unpriv: true };
  for (const x of xlated.sort((a, b) => a.order - b.order)) {
    if (x.text === "...") {
      nextLine[x.run] = false;
      continue;
    }
    const target = x.run === "priv" ? tc.priv! : tc.unpriv!;
    target.xlated.push(pattern(x.tag, x.text, nextLine[x.run]));
    nextLine[x.run] = true;
  }
  if (tc.priv) tc.priv.unsupported.push(...skipPriv);
  if (tc.unpriv) {
    // test_loader: the unprivileged run inherits what it does not say itself
    if (!hasUnprivResult && tc.priv) tc.unpriv.expectFailure = tc.priv.expectFailure;
    if (!hasUnprivRetval && tc.priv) tc.unpriv.retval = tc.priv.retval;
    if (!hasUnprivMsgs && tc.priv) tc.unpriv.msgs = [...tc.priv.msgs];
    if (tc.unpriv.xlated.length === 0 && tc.priv) tc.unpriv.xlated = [...tc.priv.xlated];
    const jited = skipUnpriv.some((u) => u.startsWith("__jited"));
    if (!jited && tc.priv) skipUnpriv.push(...skipPriv.filter((u) => u.startsWith("__jited")));
    tc.unpriv.unsupported.push(...skipUnpriv);
  }
  const runs = [tc.priv, tc.unpriv].filter((r): r is RunExpectation => r !== undefined);
  // kfunc-kit's own inputs (canTestRun), or a type the kernel test-runs with test_loader's input (the
  // kernel selftests' __retval on fentry, netfilter, …)
  const runnable =
    canTestRun(progType, tc.ctxIn !== undefined) ||
    (progType !== "raw_tracepoint" && testRunUnsupported(p.type.id, p.expectedAttachType?.id) === undefined);
  if (runs.some((r) => r.retval !== undefined) && !runnable)
    throw err(
      "comment:test_retval",
      `program type '${progType}' (section '${p.section}') cannot be test-run`,
      `BPF_PROG_TEST_RUN runs: ${TEST_RUN_TYPES.join(", ")}; check it with __success and __msg instead, or attach it in a test of your own`,
    );
  if (
    (tc.repeat > 1 || tc.printk.length > 0) &&
    tc.priv &&
    tc.priv.retval === undefined &&
    !tc.priv.expectFailure
  )
    tc.priv.retval = "any";
  return tc;
}

/** The initial bytes of a global variable (`KFUNC_TEST_INPUT`). */
function variableBytes(spec: ObjectSpec, name: string): Uint8Array | undefined {
  for (const ds of spec.dataSections)
    for (const v of ds.variables)
      if (v.name === name && ds.kind !== "kconfig") return ds.bytes.slice(v.offset, v.offset + v.size);
  return undefined;
}

/** Every test in an object, in program order (auxiliary programs included, flagged). */
export function parseTestCases(spec: ObjectSpec, file = spec.source): TestCase[] {
  const out: TestCase[] = [];
  for (const p of spec.programs) {
    const tc = parseTestCase(spec, p, file);
    if (tc) out.push(tc);
  }
  return out;
}
