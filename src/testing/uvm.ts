/**
 * `kfunc test --uvm`: the `__retval` tests of annotated eBPF objects run in the userspace runtime (src/uvm)
 * instead of a kernel, with the kfuncs implemented by a TypeScript module (`--kfuncs impl.ts`, its named
 * exports). No kernel verifier is involved, so what only the verifier can answer (`__failure`, `__msg`,
 * `__success` without `__retval`, unprivileged runs) is a skip that says so.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import type { Btf } from "../btf/index.ts";
import { formatError, isKfuncKitError } from "../errors.ts";
import { parseObject } from "../object/index.ts";
import type { ObjectSpec } from "../object/types.ts";
import { hostVmlinuxBtf, loadModule, sourceParamNames } from "../uvm/host.ts";
import { type EngineKind, type KfuncFn, UvmObject } from "../uvm/index.ts";
import { isPacketType, parseTestCases, type RunExpectation, type TestCase } from "./annotations.ts";
import { compileTest } from "./compile.ts";
import { findTestFiles } from "./discover.ts";
import { describeThrown, retvalFailure } from "./failures.ts";
import { matchInOrder, printkFailure } from "./match.ts";
import type { KernelColumn, TestOutcome, TestRunResults } from "./types.ts";

/** test_loader's default packet for packet program types (execute.ts uses the same). */
const TEST_DATA_LEN = 64;
const HOST_BTF = "/sys/kernel/btf/vmlinux";

export interface UvmTestOptions {
  paths: string[];
  /** A module whose named exports implement the objects' `__ksym` kfuncs. */
  kfuncs?: string | undefined;
  filter?: string | undefined;
  clang?: string | undefined;
  /** "jit" (default), "js" or "interp". */
  engine?: EngineKind | undefined;
  /** BTF file for CO-RE and for vmlinux.h (default /sys/kernel/btf/vmlinux). */
  btf?: string | undefined;
  /** Where compiled test objects are cached (default: kfunc-kit's cache). */
  cacheDir?: string | undefined;
  onResult?: ((t: TestOutcome) => void) | undefined;
}

type Verdict = Omit<TestOutcome, "file" | "program" | "title" | "durationMs">;

/** Why a run cannot be judged in userspace, or undefined when it can. */
function kernelOnly(tc: TestCase, exp: RunExpectation): string | undefined {
  if (exp.expectFailure) return "__failure needs the kernel's verifier (run without --uvm)";
  if (exp.msgs.length) return "__msg matches the kernel's verifier log (run without --uvm)";
  if (exp.retval === undefined)
    return "__success without __retval is a verifier verdict (run without --uvm); --uvm runs __retval tests";
  if (exp.unsupported.length) return `not supported by kfunc test yet: ${exp.unsupported.join(", ")}`;
  if (tc.refusedBelow) return "__refused_below is a verifier verdict (run without --uvm)";
  return undefined;
}

function runInUvm(
  spec: ObjectSpec,
  tc: TestCase,
  exp: RunExpectation,
  kfuncs: Record<string, KfuncFn>,
  o: { engine: EngineKind; btf: Btf | undefined },
): Verdict {
  const lines: string[] = [];
  const obj = new UvmObject(spec, {
    engine: o.engine,
    btf: o.btf,
    paramNames: sourceParamNames(spec),
    host: { printk: (l) => lines.push(l), comm: "kfunc" },
  });
  const externs = new Set(obj.kfuncExterns.map((e) => e.name));
  for (const [name, fn] of Object.entries(kfuncs)) if (externs.has(name)) obj.kfunc(name, fn);
  try {
    obj.load();
  } catch (e) {
    return {
      status: "fail",
      failure: {
        kind: "load",
        expected: "the program loads in the userspace runtime",
        got: describeThrown(e),
      },
    };
  }
  const prog = obj.program(tc.program);
  const data = isPacketType(tc.progType) ? (tc.dataIn ?? new Uint8Array(TEST_DATA_LEN)) : undefined;
  let retval = 0;
  for (let i = 0; i < tc.repeat; i++) {
    try {
      retval = Number(BigInt.asIntN(32, prog.run({ ctx: tc.ctxIn, data }).r0));
    } catch (e) {
      return {
        status: "fail",
        failure: {
          kind: "test-run",
          expected: "the program runs to its exit",
          got: describeThrown(e),
        },
      };
    }
    const wrong = retvalFailure(exp.retval ?? "any", retval, i, tc.repeat);
    if (wrong) return { status: "fail", retval, failure: wrong };
  }
  if (tc.printk.length) {
    const got = lines.map((l) => l.replace(/^.*?bpf_trace_printk: /, "").trim());
    const pf = matchInOrder(got.join("\n"), tc.printk);
    if (pf) return { status: "fail", retval, failure: printkFailure(pf.pattern, got, "the runtime printed") };
  }
  return { status: "pass", retval };
}

/** Loads the `--kfuncs` module: its named function exports, by name. */
async function kfuncModule(file: string | undefined): Promise<Record<string, KfuncFn>> {
  if (!file) return {};
  const mod = await loadModule(file);
  const out: Record<string, KfuncFn> = {};
  for (const [k, v] of Object.entries(mod))
    if (k !== "default" && typeof v === "function") out[k] = v as KfuncFn;
  return out;
}

/** Runs the tests in the userspace runtime; one column named "uvm" in the results. */
export async function runUvmTests(o: UvmTestOptions): Promise<TestRunResults> {
  const t0 = performance.now();
  const cacheDir = o.cacheDir ?? (await import("../host/cache.ts")).defaultCacheDir();
  const files = findTestFiles(o.paths);
  const kfuncs = await kfuncModule(o.kfuncs);
  const filter = o.filter !== undefined ? new RegExp(o.filter) : undefined;
  const engine = o.engine ?? "jit";
  const btfPath = o.btf ?? HOST_BTF;
  let btf: Btf | undefined;
  let btfReason: string | undefined;
  if (o.btf) {
    const { parseBtf } = await import("../btf/index.ts");
    btf = parseBtf(new Uint8Array(readFileSync(o.btf)), { source: o.btf });
  } else {
    const host = await hostVmlinuxBtf();
    if ("btf" in host) btf = host.btf;
    else btfReason = host.reason;
  }
  const col: KernelColumn = { spec: "uvm", release: `uvm (${engine})`, tests: [], timings: {} };
  const push = (t: TestOutcome) => {
    col.tests.push(t);
    o.onResult?.(t);
  };
  for (const file of files) {
    let spec: ObjectSpec;
    try {
      if (!file.endsWith(".o") && !existsSync(btfPath))
        throw new Error(
          `compiling a test needs vmlinux.h, printed from ${btfPath}: ${btfReason ?? "missing"}`,
        );
      const { object } = compileTest(file, {
        kernelBtf: btfPath,
        moduleDirs: [],
        clang: o.clang,
        cacheDir,
      });
      spec = parseObject(readFileSync(object), file);
    } catch (e) {
      push({
        file,
        program: "(compile)",
        title: `${basename(file)} does not compile`,
        status: "error",
        reason: isKfuncKitError(e) ? formatError(e) : String(e),
        durationMs: 0,
      });
      continue;
    }
    let cases: TestCase[];
    try {
      cases = parseTestCases(spec, file);
    } catch (e) {
      push({
        file,
        program: "(annotations)",
        title: `${basename(file)}: bad annotations`,
        status: "error",
        reason: isKfuncKitError(e) ? formatError(e) : String(e),
        durationMs: 0,
      });
      continue;
    }
    for (const tc of cases) {
      if (tc.auxiliary) continue;
      const runs: [string, RunExpectation, string | undefined][] = [];
      if (tc.priv) runs.push([tc.title, tc.priv, undefined]);
      if (tc.unpriv)
        runs.push([
          `${tc.title} @unpriv`,
          tc.unpriv,
          "unprivileged runs need the kernel (run without --uvm)",
        ]);
      for (const [title, exp, unpriv] of runs) {
        if (filter && !filter.test(title)) continue;
        const t1 = performance.now();
        let r: Verdict;
        const skip = unpriv ?? kernelOnly(tc, exp);
        if (skip) r = { status: "skip", reason: skip };
        else {
          const needsBtf = spec.programs.some((p) => p.name === tc.program && p.coreRelos.length > 0);
          if (needsBtf && !btf)
            r = { status: "skip", reason: `CO-RE relocations need a target BTF: ${btfReason} (pass --btf)` };
          else {
            try {
              r = runInUvm(spec, tc, exp, kfuncs, { engine, btf });
            } catch (e) {
              r = { status: "error", reason: isKfuncKitError(e) ? formatError(e) : String(e) };
            }
          }
        }
        push({
          file,
          program: tc.program,
          title,
          durationMs: Math.round((performance.now() - t1) * 10) / 10,
          ...r,
        });
      }
    }
  }
  const count = (s: TestOutcome["status"]) => col.tests.filter((t) => t.status === s).length;
  const summary = {
    passed: count("pass"),
    failed: count("fail"),
    skipped: count("skip"),
    errors: count("error"),
    notRun: count("not-run"),
    total: col.tests.length,
  };
  const durationMs = Math.round(performance.now() - t0);
  col.timings["total"] = durationMs;
  return {
    kernels: [col],
    summary,
    ok: summary.failed === 0 && summary.errors === 0 && summary.total > 0,
    durationMs,
  };
}
