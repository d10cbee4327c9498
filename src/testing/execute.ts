/**
 * Runs the tests of one object in the running kernel, test_loader's way: each test program is loaded alone
 * with the object's `__auxiliary` programs (so one refused program never stops the others, and `SEC("?…")`
 * works), with its `__flag`s and `__log_level`; `__success` must load, `__failure` must be refused, every
 * `__msg` must be in the verifier log in order; `__retval` test-runs it with test_loader's default input
 * (64 zero bytes of packet data, nothing for syscall programs) and compares; `__printk` lines are read from
 * trace_pipe. Runs inside the VM (src/testing/guest.ts) or on the host.
 */
import { existsSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { dirname, resolve } from "node:path";
import { type Btf, parseBtf } from "../btf/index.ts";
import { formatError, isKfuncKitError, ObjectError, VerifierError } from "../errors.ts";
import { loadCollection } from "../kernel/collection.ts";
import { LoadSession } from "../kernel/load-session.ts";
import { testRun } from "../kernel/test-run.ts";
import { clearTrace, tracePipe } from "../kernel/trace-pipe.ts";
import { parseObject } from "../object/index.ts";
import type { MapSpec, ObjectSpec, ProgramSpec } from "../object/types.ts";
import { progXlatedInsns } from "../sys/bpf-obj.ts";
import { disableEffective, restoreEffective } from "../sys/caps.ts";
import {
  isPacketType,
  PROG_FLAGS,
  parseTestCases,
  type RunExpectation,
  type TestCase,
} from "./annotations.ts";
import { xlatedText } from "./disasm.ts";
import { describeThrown, retvalFailure } from "./failures.ts";
import { describePattern, matchInOrder, type Pattern, printkFailure } from "./match.ts";
import { CAPS, type TestFailure, type TestOutcome } from "./types.ts";

const TEST_DATA_LEN = 64;
/** test_loader.c's TEST_LOADER_LOG_BUF_SZ. */
const TEST_LOADER_LOG_SIZE = 2 << 20;

/** What a runner reads about its kernel once (the sysctls do not change during a run; each read costs under TCG). */
export interface KernelFacts {
  release: string;
  version: [number, number, number];
  jited: boolean;
  arch: string;
  /** `kernel.unprivileged_bpf_disabled`, undefined when unreadable. */
  unprivilegedBpfDisabled: number | undefined;
}

export function kernelFacts(): KernelFacts {
  const r = release();
  const [a = 0, b = 0, c = 0] = (/^(\d+)\.(\d+)(?:\.(\d+))?/.exec(r) ?? [])
    .slice(1)
    .map((x) => Number(x ?? 0));
  let jited = true;
  try {
    jited = readFileSync("/proc/sys/net/core/bpf_jit_enable", "utf8").trim() !== "0";
  } catch {
    // no such sysctl: an always-on JIT
  }
  const arch =
    process.arch === "x64"
      ? "X86_64"
      : process.arch === "arm64"
        ? "ARM64"
        : process.arch === "riscv64"
          ? "RISCV64"
          : process.arch;
  return { release: r, version: [a, b, c], jited, arch, unprivilegedBpfDisabled: unprivilegedBpfDisabled() };
}

function below(k: KernelFacts, v: string): boolean {
  const [a = 0, b = 0, c = 0] = v.split(".").map(Number);
  const [x, y, z] = k.version;
  return x !== a ? x < a : y !== b ? y < b : z < c;
}

/** test_loader's testing_prog_flags(): the verifier self-checks test_progs turns on where the kernel has them. */
function testingFlags(k: KernelFacts): number {
  let f = PROG_FLAGS["BPF_F_TEST_RND_HI32"]!;
  if (!below(k, "6.7")) f |= PROG_FLAGS["BPF_F_TEST_REG_INVARIANTS"]!;
  return f;
}

/** A log excerpt for a failed match: the last lines (where the verifier stopped), at most 12. */
function excerpt(log: string[]): string[] {
  const meaningful = log.filter(
    (l) => !/^(processed \d+ insns|verification time|stack depth|mark_read)/.test(l),
  );
  return meaningful.slice(-12);
}

function msgFailure(log: string[], patterns: Pattern[], source: string | undefined): TestFailure | undefined {
  const f = matchInOrder(log.join("\n"), patterns);
  if (!f) return undefined;
  return {
    kind: "msg",
    expected: [
      ...f.matched.map((p) => `MATCHED  ${describePattern(p)}`),
      `${f.wrongLine ? "WRONG LINE" : "EXPECTED"} ${describePattern(f.pattern)}`,
    ].join("\n"),
    got: log.length
      ? "the verifier log (excerpt below) does not contain it after the earlier matches"
      : "an empty verifier log",
    log: excerpt(log),
    ...(source ? { sourceLine: source } : {}),
  };
}

function sourceOf(e: VerifierError): string | undefined {
  const s = (e as VerifierError & { sourceLine?: { file: string; line: number; text: string } }).sourceLine;
  return s ? `${s.file}:${s.line}: ${s.text}` : undefined;
}

/**
 * Keeps only the maps the loaded programs use (by relocation, and the maps those maps hold): a test loads
 * one program, and creating and closing every map of the object for it is most of the kernel's work.
 */
function pruneMaps(s: ObjectSpec, programs: string[]): void {
  const maps = new Set<string>();
  const sections = new Set<string>();
  for (const p of s.programs) {
    if (!programs.includes(p.name)) continue;
    for (const r of p.relocations) {
      if (r.kind === "map") maps.add(r.map);
      else if (r.kind === "data") sections.add(r.section);
      else if (r.kind === "kconfig") sections.add(".kconfig");
    }
  }
  const keep = (m: ObjectSpec["maps"][number]) =>
    maps.has(m.name) || (m.dataSection !== undefined && sections.has(m.dataSection));
  for (let grew = true; grew; ) {
    grew = false;
    for (const m of s.maps)
      if (keep(m))
        for (const v of m.initialValues)
          if (v.kind === "map" && !maps.has(v.name)) {
            maps.add(v.name);
            grew = true;
          }
  }
  s.maps = s.maps.filter(keep);
}

/** test_loader's drop_capabilities(): what an unprivileged (`@unpriv`) run loads without. */
const UNPRIV_DROP = [
  CAPS["CAP_SYS_ADMIN"]!,
  CAPS["CAP_NET_ADMIN"]!,
  CAPS["CAP_PERFMON"]!,
  CAPS["CAP_BPF"]!,
].reduce((m, c) => m | (1n << BigInt(c)), 0n);

/** `kernel.unprivileged_bpf_disabled` (0: unprivileged BPF allowed), undefined when unreadable. */
export function unprivilegedBpfDisabled(): number | undefined {
  try {
    return Number(readFileSync("/proc/sys/kernel/unprivileged_bpf_disabled", "utf8").trim());
  } catch {
    return undefined;
  }
}

const BPF_F_ZERO_SEED = 1 << 6;
/** test_loader's is_unpriv_capable_map(): the maps libbpf still creates in an unprivileged run. */
function unprivCapableMap(m: MapSpec): boolean {
  if (m.dataSection !== undefined) return true; // global data: an array
  const t = m.type.name.replace(/^BPF_MAP_TYPE_/, "");
  if (t === "HASH" || t === "PERCPU_HASH" || t === "HASH_OF_MAPS") return (m.flags & BPF_F_ZERO_SEED) === 0;
  return [
    "PERCPU_CGROUP_STORAGE",
    "ARRAY",
    "RINGBUF",
    "PROG_ARRAY",
    "CGROUP_ARRAY",
    "PERCPU_ARRAY",
    "USER_RINGBUF",
    "ARRAY_OF_MAPS",
    "CGROUP_STORAGE",
    "PERF_EVENT_ARRAY",
  ].includes(t);
}

interface RunOptions {
  kernel: KernelFacts;
  /** The object's `__auxiliary` programs (loaded with every test). */
  auxiliary: string[];
  /** The object's `__auxiliary_unpriv` programs (loaded with every unprivileged run). */
  auxiliaryUnpriv: string[];
  /** test_loader's unprivileged run (`@unpriv`). */
  unpriv: boolean;
  /** Where the object is (`__btf_path` is relative to it). */
  dir: string;
  /** Module BTF and the object's BTF, loaded once for all the tests. */
  session: LoadSession | undefined;
}

const btfCache = new Map<string, Btf>();
/** libbpf's btf__parse(): the .BTF of an ELF object, or a raw BTF file; parsed once per run. */
function customBtf(path: string): Btf {
  let btf = btfCache.get(path);
  if (!btf) {
    const bytes = readFileSync(path);
    const elf = bytes[0] === 0x7f && bytes[1] === 0x45;
    const parsed = elf ? parseObject(bytes, path).btf : parseBtf(bytes, { source: path });
    if (!parsed) throw new ObjectError(`__btf_path '${path}': the object has no .BTF section`);
    btf = parsed;
    btfCache.set(path, btf);
  }
  return btf;
}

/** How the runs of a file are made (the guest plan's settings). */
export interface TestEnv {
  /** Capabilities (numbers) every run goes without, privileged ones too (prog_tests/verifier.c: CAP_SYS_ADMIN). */
  dropCaps?: number[] | undefined;
}

/** One privileged run of a test. */
async function runOne(
  spec: ObjectSpec,
  tc: TestCase,
  exp: RunExpectation,
  o: RunOptions,
): Promise<Omit<TestOutcome, "file" | "program" | "title" | "durationMs">> {
  const k = o.kernel;
  if (tc.arch.length && !tc.arch.includes(k.arch))
    return { status: "skip", reason: `__arch_*: runs on ${tc.arch.join(", ")}, this is ${k.arch}` };
  if (tc.loadMode === "jited" && !k.jited)
    return { status: "skip", reason: "__load_if_JITed: the JIT is off" };
  if (tc.loadMode === "no_jited" && k.jited)
    return { status: "skip", reason: "__load_if_no_JITed: the JIT is on" };
  if (tc.kernelMin && below(k, tc.kernelMin))
    return {
      status: "skip",
      reason: `__kernel_min: requires Linux >= ${tc.kernelMin}, running ${k.release}`,
    };
  if (exp.unsupported.length)
    return { status: "skip", reason: `not supported by kfunc test yet: ${exp.unsupported.join(", ")}` };
  if (o.unpriv) {
    const disabled = k.unprivilegedBpfDisabled;
    if (disabled !== 0)
      return {
        status: "skip",
        reason: `unprivileged run: kernel.unprivileged_bpf_disabled is ${disabled ?? "unreadable"} (test_loader skips it too; kfunc test sets it to 0 in its VM)`,
      };
  }
  const refusedBelow = tc.refusedBelow && below(k, tc.refusedBelow.version) ? tc.refusedBelow : undefined;
  const expectFailure = refusedBelow ? true : exp.expectFailure;
  const msgs = refusedBelow ? refusedBelow.msgs : exp.msgs;

  // the loader copies what it changes (instructions included), so the test's own copy need only hold its
  // program's flags and its map list: not a deep copy of every program per test
  const flags = (p: ProgramSpec) => ((p.flags | testingFlags(k) | tc.flagsSet) & ~tc.flagsClear) >>> 0;
  const s: ObjectSpec = {
    ...spec,
    programs: spec.programs.map((p) => (p.name === tc.program ? { ...p, flags: flags(p) } : p)),
  };
  const logLevel = tc.logLevel;
  const aux = o.unpriv ? o.auxiliaryUnpriv : o.auxiliary;
  const programs = [tc.program, ...aux.filter((a) => a !== tc.program)];
  pruneMaps(s, programs);
  if (o.unpriv) s.maps = s.maps.filter(unprivCapableMap);
  let kernelBtf: Btf | undefined;
  if (tc.btfPath) {
    const path = resolve(o.dir, tc.btfPath);
    if (!existsSync(path))
      return { status: "skip", reason: `__btf_path: no '${tc.btfPath}' next to the test file` };
    kernelBtf = customBtf(path);
  }
  let coll: Awaited<ReturnType<typeof loadCollection>> | undefined;
  let log: string[] = [];
  // the load (maps, BTF, programs) without test_loader's unprivileged set; put back before a test run
  const saved = o.unpriv ? disableEffective(UNPRIV_DROP) : undefined;
  try {
    coll = await loadCollection(s, {
      programs,
      // libbpf: log level 0 asks for no log, and retries with level 1 when the load fails
      logLevel: logLevel || 1,
      // a refusal is expected: ask for its log in the first load (libbpf verifies once without a log, then
      // again with one; the verdict and the log are the same, and a 1M-insn refusal costs minutes under TCG)
      alwaysLog: logLevel > 0 || expectFailure,
      // test_loader's fixed 2 MiB log buffer: a longer log is cut, not re-verified with a bigger one
      logSize: TEST_LOADER_LOG_SIZE,
      maxLogSize: TEST_LOADER_LOG_SIZE,
      btfOptional: true,
      ...(kernelBtf ? { kernelBtf } : {}),
      // a session holds module BTF split against the running kernel's: not for a __btf_path load
      ...(o.session && !kernelBtf ? { session: o.session } : {}),
    }).finally(() => {
      if (saved !== undefined) restoreEffective(saved);
    });
    log = coll
      .program(tc.program)
      .verifierLog.split("\n")
      .filter((l) => l !== "");
  } catch (e) {
    if (!(e instanceof VerifierError)) {
      // not the verifier: a kfunc that does not resolve, a map that cannot be created…
      const message = isKfuncKitError(e) ? formatError(e) : String(e);
      if (expectFailure && msgs.length === 0) return { status: "pass" };
      if (expectFailure) {
        const f = msgFailure(message.split("\n"), msgs, undefined);
        return f ? { status: "fail", failure: f } : { status: "pass" };
      }
      return {
        status: "fail",
        failure: { kind: "load", expected: "the program loads (__success)", got: message },
      };
    }
    if (!expectFailure)
      return {
        status: "fail",
        failure: {
          kind: "load",
          expected: "the program loads (__success)",
          got: `the verifier refused it: ${e.message.split("\n").slice(1).join(" ").trim()}`,
          log: excerpt(e.log),
          ...(sourceOf(e) ? { sourceLine: sourceOf(e)! } : {}),
          ...(e.hint ? { hint: e.hint } : {}),
        },
      };
    const f = msgFailure(e.log, msgs, sourceOf(e));
    return f ? { status: "fail", failure: f } : { status: "pass" };
  }
  try {
    if (expectFailure) {
      return {
        status: "fail",
        failure: {
          kind: "not-refused",
          expected: refusedBelow
            ? `the verifier refuses it on Linux < ${refusedBelow.version} (__refused_below)`
            : "the verifier refuses the program (__failure)",
          got: "it loaded",
          log: excerpt(log),
        },
      };
    }
    const f = msgFailure(log, msgs, undefined);
    if (f) {
      if (logLevel === 0) f.got += " (the log of a successful load needs __log_level(1) or (2))";
      return { status: "fail", failure: f };
    }
    if (exp.xlated.length) {
      const text = xlatedText(progXlatedInsns(coll.program(tc.program).fd));
      const xf = matchInOrder(text, exp.xlated);
      if (xf) {
        const lines = text.split("\n").filter((l) => l !== "");
        return {
          status: "fail",
          failure: {
            kind: "xlated",
            expected: [
              ...xf.matched.map((p) => `MATCHED  ${describePattern(p)}`),
              `${xf.wrongLine ? `WRONG LINE (expected line ${xf.wrongLine.expected}, matched ${xf.wrongLine.actual})` : "EXPECTED"} ${describePattern(xf.pattern)}`,
            ].join("\n"),
            got: "the translated program (excerpt below) does not match",
            log: lines.length > 40 ? [...lines.slice(0, 40), `… ${lines.length - 40} more`] : lines,
          },
        };
      }
    }
    if (exp.retval === undefined) return { status: "pass" };
    const program = coll.program(tc.program);
    // test_loader gives every type but syscall its 64 bytes of data; the kernel takes none for these
    const packet = isPacketType(tc.progType) || tc.progType === "netfilter";
    const input = {
      ...(packet
        ? { dataIn: tc.dataIn ?? new Uint8Array(TEST_DATA_LEN), dataSizeOut: TEST_DATA_LEN << 2 }
        : {}),
      ...(tc.ctxIn ? { ctxIn: tc.ctxIn } : {}),
    };
    if (tc.printk.length) clearTrace();
    let retval = 0;
    const runs = packet ? 1 : tc.repeat;
    for (let i = 0; i < runs; i++) {
      try {
        retval = testRun(program, {
          ...input,
          ...(packet && tc.repeat > 1 ? { repeat: tc.repeat } : {}),
        }).retval;
      } catch (e) {
        return {
          status: "fail",
          failure: {
            kind: "test-run",
            expected: "BPF_PROG_TEST_RUN runs the program",
            got: describeThrown(e),
          },
        };
      }
      const wrong = retvalFailure(exp.retval, retval, i, runs);
      if (wrong) return { status: "fail", retval, failure: wrong };
    }
    if (tc.printk.length) {
      // Read through trace_pipe, which consumes what it reads (the buffer was cleared for this test anyway),
      // not by re-reading `trace`: opening `trace` pauses tracing while it is read (pause-on-trace), which
      // under TCG is most of the time, and a line written meanwhile is lost (seen on a loaded 6.1 guest).
      const lines: string[] = [];
      let pf = matchInOrder("", tc.printk);
      const signal = AbortSignal.timeout(5000);
      for await (const l of tracePipe({ signal, idleMs: 20 })) {
        lines.push(l.message.trim());
        pf = matchInOrder(lines.join("\n"), tc.printk);
        if (!pf) break;
      }
      if (pf)
        return { status: "fail", retval, failure: printkFailure(pf.pattern, lines, "the trace buffer had") };
    }
    return { status: "pass", retval };
  } finally {
    coll.close();
  }
}

export interface ObjectRunHooks {
  /** Called before each test starts (so a crash can be charged to it). */
  onStart?: (tc: TestCase, title: string) => void;
  onResult?: (r: TestOutcome) => void;
  filter?: RegExp | undefined;
  /**
   * Kernel objects shared between the loads (module BTF enumerated once, the object's BTF loaded once);
   * default: a session for this object, closed at the end. Each test still loads alone (its program, the
   * auxiliary programs and the maps they use). `false`: nothing shared (each load enumerates module BTF and
   * loads the object's BTF; for comparisons).
   */
  session?: LoadSession | false;
}

/** One run of a test case: privileged, or test_loader's unprivileged run (`title` ends in " @unpriv"). */
export interface TestRun {
  title: string;
  tc: TestCase;
  exp: RunExpectation;
  unpriv: boolean;
}

/** An object's tests, parsed once: its runs in file order, and what each load of one of them needs. */
export interface ObjectTests {
  file: string;
  spec: ObjectSpec;
  runs: TestRun[];
  auxiliary: string[];
  auxiliaryUnpriv: string[];
  dir: string;
}

/** Parses an object's test annotations into its runs (file order: each program, then its `@unpriv` run). */
export function openObjectTests(objectPath: string, file: string): ObjectTests {
  const spec = parseObject(readFileSync(objectPath), file);
  const cases = parseTestCases(spec, file);
  const runs: TestRun[] = [];
  for (const tc of cases) {
    if (tc.auxiliary) continue;
    if (tc.priv) runs.push({ title: tc.title, tc, exp: tc.priv, unpriv: false });
    if (tc.unpriv) runs.push({ title: `${tc.title} @unpriv`, tc, exp: tc.unpriv, unpriv: true });
  }
  return {
    file,
    spec,
    runs,
    auxiliary: cases.filter((c) => c.auxiliary && c.priv).map((c) => c.program),
    auxiliaryUnpriv: cases.filter((c) => c.auxiliary && c.unpriv).map((c) => c.program),
    dir: dirname(objectPath),
  };
}

/** Runs one run of an object's tests (the capabilities `dropCaps` asks for are already dropped). */
export async function runTestRun(
  obj: ObjectTests,
  run: TestRun,
  kernel: KernelFacts,
  session: LoadSession | undefined,
): Promise<TestOutcome> {
  const { tc, exp, unpriv } = run;
  const t0 = performance.now();
  let r: Omit<TestOutcome, "file" | "program" | "title" | "durationMs">;
  try {
    r = await runOne(obj.spec, tc, exp, {
      kernel,
      auxiliary: obj.auxiliary,
      auxiliaryUnpriv: obj.auxiliaryUnpriv,
      unpriv,
      dir: obj.dir,
      session,
    });
  } catch (e) {
    r = { status: "error", reason: isKfuncKitError(e) ? formatError(e) : String(e) };
  }
  return {
    file: obj.file,
    program: tc.program,
    title: run.title,
    durationMs: Math.round((performance.now() - t0) * 10) / 10,
    ...r,
  };
}

/** The capability mask of `dropCaps`, dropped from the effective set until `restoreEffective`. */
export function dropCapabilities(env: TestEnv): bigint | undefined {
  const dropMask = (env.dropCaps ?? []).reduce((m, c) => m | (1n << BigInt(c)), 0n);
  return dropMask ? disableEffective(dropMask) : undefined;
}

/** Runs every test of an object; returns the outcomes (also given to hooks as they come). */
export async function runObjectTests(
  objectPath: string,
  file: string,
  hooks: ObjectRunHooks = {},
  kernel = kernelFacts(),
  env: TestEnv = {},
): Promise<TestOutcome[]> {
  const obj = openObjectTests(objectPath, file);
  const out: TestOutcome[] = [];
  const saved = dropCapabilities(env);
  const session = hooks.session === false ? undefined : (hooks.session ?? new LoadSession());
  try {
    for (const run of obj.runs) {
      if (hooks.filter && !hooks.filter.test(run.title)) continue;
      hooks.onStart?.(run.tc, run.title);
      const outcome = await runTestRun(obj, run, kernel, session);
      out.push(outcome);
      hooks.onResult?.(outcome);
    }
  } finally {
    if (!hooks.session) session?.close();
    if (saved !== undefined) restoreEffective(saved);
  }
  return out;
}
