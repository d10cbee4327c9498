/**
 * Runs the tests of one object in the running kernel, test_loader's way: each test program is loaded alone
 * with the object's `__auxiliary` programs (so one refused program never stops the others, and `SEC("?…")`
 * works), with its `__flag`s and `__log_level`; `__success` must load, `__failure` must be refused, every
 * `__msg` must be in the verifier log in order; `__retval` test-runs it with test_loader's default input
 * (64 zero bytes of packet data, nothing for syscall programs) and compares; `__printk` lines are read from
 * trace_pipe. Runs inside the VM (src/testing/guest.ts) or on the host.
 */
import { readFileSync } from "node:fs";
import { release } from "node:os";
import { formatError, isKfuncKitError, VerifierError } from "../errors.ts";
import { loadCollection } from "../kernel/collection.ts";
import { LoadSession } from "../kernel/load-session.ts";
import { testRun } from "../kernel/test-run.ts";
import { clearTrace, tracePipe } from "../kernel/trace-pipe.ts";
import { cloneObjectSpec, parseObject } from "../object/index.ts";
import type { ObjectSpec } from "../object/types.ts";
import {
  isPacketType,
  PROG_FLAGS,
  parseTestCases,
  type RunExpectation,
  type TestCase,
} from "./annotations.ts";
import { matchInOrder, type Pattern } from "./match.ts";
import type { TestFailure, TestOutcome } from "./types.ts";

const TEST_DATA_LEN = 64;

export interface KernelFacts {
  release: string;
  version: [number, number, number];
  jited: boolean;
  arch: string;
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
  return { release: r, version: [a, b, c], jited, arch };
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

function describePattern(p: Pattern): string {
  return `${p.regex ? "REGEX " : "SUBSTR"} '${p.text}'`;
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

interface RunOptions {
  kernel: KernelFacts;
  /** The object's `__auxiliary` programs (loaded with every test). */
  auxiliary: string[];
  /** Module BTF and the object's BTF, loaded once for all the tests. */
  session: LoadSession | undefined;
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
  const refusedBelow = tc.refusedBelow && below(k, tc.refusedBelow.version) ? tc.refusedBelow : undefined;
  const expectFailure = refusedBelow ? true : exp.expectFailure;
  const msgs = refusedBelow ? refusedBelow.msgs : exp.msgs;

  const s = cloneObjectSpec(spec);
  const prog = s.programs.find((p) => p.name === tc.program)!;
  prog.flags = ((prog.flags | testingFlags(k) | tc.flagsSet) & ~tc.flagsClear) >>> 0;
  const logLevel = tc.logLevel;
  const programs = [tc.program, ...o.auxiliary.filter((a) => a !== tc.program)];
  pruneMaps(s, programs);
  let coll: Awaited<ReturnType<typeof loadCollection>> | undefined;
  let log: string[] = [];
  try {
    coll = await loadCollection(s, {
      programs,
      // libbpf: log level 0 asks for no log, and retries with level 1 when the load fails
      logLevel: logLevel || 1,
      alwaysLog: logLevel > 0,
      ...(o.session ? { session: o.session } : {}),
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
    if (exp.retval === undefined) return { status: "pass" };
    const program = coll.program(tc.program);
    const packet = isPacketType(tc.progType);
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
            got: isKfuncKitError(e) ? formatError(e) : String(e),
          },
        };
      }
      if (exp.retval !== "any" && retval !== exp.retval)
        return {
          status: "fail",
          retval,
          failure: {
            kind: "retval",
            expected: `retval ${exp.retval}`,
            got: `retval ${retval}${runs > 1 ? ` (run ${i + 1} of ${runs})` : ""}`,
          },
        };
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
        return {
          status: "fail",
          retval,
          failure: {
            kind: "printk",
            expected: `a bpf_printk line with ${describePattern(pf.pattern)}`,
            got: lines.length
              ? `the trace buffer had:\n${lines.slice(-8).join("\n")}`
              : "no bpf_printk output",
          },
        };
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

/** Runs every test of an object; returns the outcomes (also given to hooks as they come). */
export async function runObjectTests(
  objectPath: string,
  file: string,
  hooks: ObjectRunHooks = {},
  kernel = kernelFacts(),
): Promise<TestOutcome[]> {
  const spec = parseObject(readFileSync(objectPath), file);
  const cases = parseTestCases(spec, file);
  const auxiliary = cases.filter((c) => c.auxiliary && c.priv).map((c) => c.program);
  const out: TestOutcome[] = [];
  const session = hooks.session === false ? undefined : (hooks.session ?? new LoadSession());
  try {
    await runCases();
  } finally {
    if (!hooks.session) session?.close();
  }
  return out;

  async function runCases(): Promise<void> {
    for (const tc of cases) {
      if (tc.auxiliary) continue;
      const runs: [string, RunExpectation][] = [];
      if (tc.priv) runs.push([tc.title, tc.priv]);
      if (tc.unpriv) runs.push([`${tc.title} @unpriv`, tc.unpriv]);
      for (const [title, exp] of runs) {
        if (hooks.filter && !hooks.filter.test(title)) continue;
        hooks.onStart?.(tc, title);
        const t0 = performance.now();
        let r: Omit<TestOutcome, "file" | "program" | "title" | "durationMs">;
        try {
          r = await runOne(spec, tc, exp, { kernel, auxiliary, session });
        } catch (e) {
          r = { status: "error", reason: isKfuncKitError(e) ? formatError(e) : String(e) };
        }
        const outcome: TestOutcome = {
          file,
          program: tc.program,
          title,
          durationMs: Math.round((performance.now() - t0) * 10) / 10,
          ...r,
        };
        out.push(outcome);
        hooks.onResult?.(outcome);
      }
    }
  }
}
