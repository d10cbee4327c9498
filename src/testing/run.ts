/**
 * `runTests(options)`: the `kfunc test` pipeline. Per kernel: prepare it, build the module(s) (cached),
 * compile each test file against that kernel (cached by content), boot once with the modules inserted and
 * run every test in one guest process (src/testing/guest.ts; with `guestJobs` N in N worker processes),
 * streaming results. One kernel's failure to build, boot or insmod marks its column and the others still
 * run; a guest panic, oops or hang is charged to the test that was running (with guest workers: to every
 * test that was running) and the rest of that kernel's tests are reported as not run.
 */
import { spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, freemem, release as osRelease, tmpdir } from "node:os";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { formatError, isKfuncKitError, UsageError } from "../errors.ts";
import { parseObject } from "../object/index.ts";
import type { Progress } from "../progress.ts";
import { resultSplitter } from "../qemu/result-channel.ts";
import { DEFAULT_VM_MEM_GIB } from "../qemu/vm-types.ts";
import { parseTestCases } from "./annotations.ts";
import { guestLoader } from "./code-cache.ts";
import { buildModuleCached, compileTest, type ModuleBuild, stageObjects } from "./compile.ts";
import { findModules, findTestFiles, parseShard, shardPairs } from "./discover.ts";
import { readDurations, recordDurations, schedule } from "./durations.ts";
import { guestBootCache } from "./guest-boot-cache.ts";
import type {
  GuestPlan,
  GuestRecord,
  KernelColumn,
  TestOutcome,
  TestRunResults,
  TestRunSummary,
} from "./types.ts";
import { CAPS, KMSG_TAG } from "./types.ts";

export interface RunTestsOptions {
  /** Test files or dirs (default: the current directory). */
  paths?: string[];
  /** Module dirs (default: the `kfunc.json` / Kbuild dir next to the tests). */
  modules?: string[];
  /** Kernel specs (`debian:bookworm-backports`…); default: as `kfunc module build` (host if it loads modules, else the QEMU default). */
  kernels?: string[];
  /** Run on the host kernel (no VM). */
  host?: boolean;
  /** Only tests whose title matches. */
  filter?: string;
  /** Whole-run timeout per kernel, seconds (default 300): a hang is charged to the running test. */
  timeoutS?: number;
  clang?: string;
  /** `-I` dirs for compiling test sources (searched after the test file's dir, before vmlinux.h's). */
  includeDirs?: string[];
  /** `-D NAME[=VALUE]` for compiling test sources. */
  defines?: string[];
  /** More clang arguments for test sources (a suite's own flags, e.g. `-mcpu=v3`). */
  cflags?: string[];
  /**
   * Capabilities the privileged runs go without too (`CAP_SYS_ADMIN`): the kernel's prog_tests/verifier.c
   * runs its test_loader suites so. The unprivileged runs (`…_unpriv`) drop test_loader's set as well.
   */
  dropCaps?: string[];
  /** "I/N": this machine's share of the kernel × file grid. */
  shard?: string;
  /**
   * Kernels run at once (default: as many as the host has cores for, at `guestJobs` vCPUs each, and free
   * memory for: on 2 cores, two kernels run at once on one vCPU each).
   */
  jobs?: number;
  /**
   * Test worker processes per kernel (default 1: every test in one process). With N > 1 the guest runner
   * forks N workers that take tests from one queue, the slowest known first (src/testing/guest-workers.ts);
   * the verdicts and the report's order are the same. The VM has 2 vCPUs: more than 2 gains nothing there.
   */
  guestJobs?: number;
  /**
   * vCPUs of each VM (default: 2, or, with several kernels at once, the host's cores shared out between
   * them, as TCG runs one host thread per vCPU: two VMs on two cores get one each). At least `guestJobs`.
   */
  vmCpus?: number;
  cacheDir?: string;
  progress?: Progress;
  /** Called as results come. */
  onEvent?: (e: TestEvent) => void;
  signal?: AbortSignal;
  /** The guest runner script (default: dist/testing/guest.bundle.js, or bundled from source). */
  guestScript?: string;
}

export type TestEvent =
  | { type: "kernel"; spec: string; release: string | undefined }
  | { type: "test"; kernel: string; outcome: TestOutcome }
  | { type: "kernel-error"; kernel: string; error: string }
  | { type: "output"; kernel: string; text: string };

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..", "..");

/** Paths the guest does not see from the host root: the guest mounts its own tmpfs on these. */
const GUEST_TMPFS = ["/tmp", "/run", "/var/tmp", "/root", "/dev", "/proc", "/sys"];
export const guestCanSee = (p: string) => !GUEST_TMPFS.some((d) => p === d || p.startsWith(`${d}/`));

async function guestScript(): Promise<string> {
  if (HERE.endsWith("/dist/testing") || fileURLToPath(import.meta.url).endsWith(".js")) {
    const bundle = join(HERE, "guest.bundle.js");
    return existsSync(bundle) ? bundle : join(HERE, "guest.js");
  }
  // from source (tests, tsx): one bundle, since the guest reads every file over 9p under TCG
  return bundleForGuest(join(HERE, "guest.ts"), `testing-guest-${process.pid}`);
}

/**
 * Bundles a TypeScript entry that runs in the QEMU guest into one ESM file (esbuild, a devDependency: from
 * source only). It lives under node_modules/.cache so that `koffi` (external: a native addon) still resolves;
 * CommonJS dependencies (commander) get a require() through the banner. Also used by the tests' guest scripts.
 */
export function bundleForGuest(entry: string, name: string, format: "esm" | "cjs" = "esm"): string {
  // loaded on demand, synchronously (esbuild is CommonJS): an installed package never reaches here
  const { buildSync } = createRequire(import.meta.url)("esbuild") as typeof import("esbuild");
  const outDir = join(ROOT, "node_modules", ".cache", "kfunc-kit-guest");
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `${name}.${format === "esm" ? "mjs" : "cjs"}`);
  buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format,
    target: "node20",
    external: ["koffi"],
    outfile,
    logLevel: "warning",
    // no comments: one non-ASCII character in one makes the whole source a two-byte string
    minifyWhitespace: true,
    ...(format === "esm"
      ? {
          banner: {
            js: 'import { createRequire as __kfuncRequire } from "node:module"; const require = __kfuncRequire(import.meta.url);',
          },
        }
      : CJS_GUEST),
  });
  return outfile;
}

/** A CommonJS guest bundle (run through the code-cache loader, src/testing/code-cache.ts): `import.meta.url` from `__filename`. */
const CJS_GUEST = {
  define: { "import.meta.url": "__kfuncUrl" },
  banner: { js: 'const __kfuncUrl = require("node:url").pathToFileURL(__filename).href;' },
};

/** The runner as CommonJS, for the code-cache loader: dist/testing/guest.bundle.cjs, or bundled from source. */
function guestCjsBundle(): string | undefined {
  if (HERE.endsWith("/dist/testing") || fileURLToPath(import.meta.url).endsWith(".js")) {
    const bundle = join(HERE, "guest.bundle.cjs");
    return existsSync(bundle) ? bundle : undefined;
  }
  return bundleForGuest(join(HERE, "guest.ts"), `testing-guest-${process.pid}`, "cjs");
}

interface FileEntry {
  source: string;
  /** As shown (relative to the cwd). */
  file: string;
}

interface ExpectedTest {
  program: string;
  title: string;
  /** A `__printk` test (reads the kernel's one trace buffer). */
  printk: boolean;
}

/** Expected test titles of an object, in run order (for "not run" after a crash, the queue, the report). */
function expectedTitles(object: string, file: string): ExpectedTest[] {
  const spec = parseObject(readFileSync(object), file);
  return parseTestCases(spec, file)
    .filter((t) => !t.auxiliary)
    .flatMap((t) => {
      const printk = t.printk.length > 0;
      return [
        ...(t.priv ? [{ program: t.program, title: t.title, printk }] : []),
        ...(t.unpriv ? [{ program: t.program, title: `${t.title} @unpriv`, printk }] : []),
      ];
    });
}

/** The `__btf_path` names an object's tests use. */
function btfPathsOf(object: string, file: string): string[] {
  const spec = parseObject(readFileSync(object), file);
  const names = parseTestCases(spec, file)
    .map((t) => t.btfPath)
    .filter((p): p is string => p !== undefined && !isAbsolute(p) && !p.split("/").includes(".."));
  return [...new Set(names)];
}

/**
 * A `__btf_path` file next to the test source; a `x.bpf.o` that is not there is compiled from `x.c` there
 * (the selftests Makefile builds every progs/*.c so). Undefined when neither exists (the test skips, saying so).
 */
function findBtfFile(name: string, source: string, compile: (src: string) => string): string | undefined {
  const dir = dirname(source);
  const direct = join(dir, name);
  if (existsSync(direct)) return direct;
  const c = join(dir, name.replace(/\.bpf\.o$|\.o$/, ".c"));
  if (c !== direct && name.endsWith(".o") && existsSync(c)) {
    try {
      return compile(c);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The guest plan's parallel part: `jobs` and the queue (slowest known first), when `guestJobs` > 1. */
function parallelPlan(
  objects: { source: string; titles: ExpectedTest[] }[],
  o: RunTestsOptions,
  cacheDir: string,
  release: string,
): Pick<GuestPlan, "jobs" | "queue"> {
  const jobs = o.guestJobs ?? 1;
  if (jobs <= 1) return {};
  const filter = o.filter !== undefined ? new RegExp(o.filter) : undefined;
  const items = objects.flatMap((x, file) =>
    x.titles
      .filter((t) => !filter || filter.test(t.title))
      .map((t) => ({ file, title: t.title, source: x.source, ...(t.printk ? { exclusive: true } : {}) })),
  );
  return { jobs, queue: schedule(items, readDurations(cacheDir, release)) };
}

/** Sorts `tests[from…]` into file order, then each file's run order (an object error first). */
function sortByRunOrder(
  tests: TestOutcome[],
  from: number,
  objects: { file: string; titles: ExpectedTest[] }[],
): void {
  const fileIndex = new Map(objects.map((x, i) => [x.file, i]));
  const runIndex = new Map(objects.map((x) => [x.file, new Map(x.titles.map((t, i) => [t.title, i]))]));
  const rank = (t: TestOutcome): [number, number] => [
    fileIndex.get(t.file) ?? objects.length,
    runIndex.get(t.file)?.get(t.title) ?? -1,
  ];
  const sorted = tests
    .slice(from)
    .map((t, i) => ({ t, i, r: rank(t) }))
    .sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.i - b.i)
    .map((x) => x.t);
  tests.splice(from, sorted.length, ...sorted);
}

function summarize(kernels: KernelColumn[]): TestRunSummary {
  const all = kernels.flatMap((k) => k.tests);
  const n = (s: TestOutcome["status"]) => all.filter((t) => t.status === s).length;
  return {
    passed: n("pass"),
    failed: n("fail"),
    skipped: n("skip"),
    errors: n("error") + kernels.filter((k) => k.error).length,
    notRun: n("not-run"),
    total: all.length,
  };
}

async function defaultKernels(): Promise<string[]> {
  const { hostCanLoadModules } = await import("../module/target.ts");
  if (hostCanLoadModules().ok) return ["host"];
  const { DEFAULT_KERNEL } = await import("../kernels/index.ts");
  return [DEFAULT_KERNEL];
}

export async function runTests(o: RunTestsOptions = {}): Promise<TestRunResults> {
  const t0 = performance.now();
  const sources = findTestFiles(o.paths ?? []);
  const files: FileEntry[] = sources.map((s) => ({ source: s, file: relative(process.cwd(), s) || s }));
  const moduleDirs = (o.modules?.length ? o.modules.map((m) => resolve(m)) : findModules(sources)).filter(
    (d, i, a) => a.indexOf(d) === i,
  );
  for (const m of moduleDirs) if (!existsSync(m)) throw new UsageError(`--module '${m}': no such directory`);
  if (o.filter !== undefined) {
    try {
      new RegExp(o.filter);
    } catch (e) {
      throw new UsageError(`--filter '${o.filter}': ${(e as Error).message}`);
    }
  }
  for (const c of o.dropCaps ?? [])
    if (CAPS[c] === undefined)
      throw new UsageError(`--drop-cap '${c}': not a capability kfunc test knows`, {
        hint: `one of ${Object.keys(CAPS).join(", ")}`,
      });
  if (o.guestJobs !== undefined && !(Number.isInteger(o.guestJobs) && o.guestJobs >= 1))
    throw new UsageError(`guestJobs ${o.guestJobs}: expected a positive integer`);
  if (o.vmCpus !== undefined && !(Number.isInteger(o.vmCpus) && o.vmCpus >= 1))
    throw new UsageError(`vmCpus ${o.vmCpus}: expected a positive integer`);
  const kernels = o.host ? ["host"] : o.kernels?.length ? o.kernels : await defaultKernels();
  const shard = o.shard ? parseShard(o.shard) : undefined;
  const work = shardPairs(kernels, files, shard);
  const script = o.guestScript ?? (await guestScript());
  // the VM runs the runner through the code-cache loader (src/testing/code-cache.ts) unless a script is given
  const cjsScript =
    o.guestScript || o.host || process.env["KFUNC_KIT_GUEST_CODE_CACHE"] === "0"
      ? undefined
      : guestCjsBundle();
  const columns: KernelColumn[] = [];
  const jobs = Math.max(1, o.jobs ?? defaultJobs(o.guestJobs));
  const queue = [...work];
  const concurrent = Math.min(jobs, work.length);
  const vmCpus = o.vmCpus ?? vcpusPerVm(concurrent, o.guestJobs);
  const runNext = async (): Promise<void> => {
    for (let w = queue.shift(); w; w = queue.shift()) {
      if (o.signal?.aborted) break;
      const col = await runKernel(w.kernel, w.files, moduleDirs, script, cjsScript, { ...o, vmCpus });
      columns.push(col);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, work.length) }, runNext));
  // matrix order = the order asked for
  columns.sort((a, b) => kernels.indexOf(a.spec) - kernels.indexOf(b.spec));
  const summary = summarize(columns);
  return {
    kernels: columns,
    summary,
    ok: summary.failed === 0 && summary.errors === 0 && summary.notRun === 0 && summary.total > 0,
    durationMs: Math.round(performance.now() - t0),
  };
}

/** Kernels at once by default: one per host core (over `guestJobs`), and no more VMs than free memory holds. */
function defaultJobs(guestJobs = 1): number {
  const byCores = Math.floor(availableParallelism() / Math.max(1, guestJobs));
  return Math.max(1, Math.min(byCores, Math.floor(freemem() / (DEFAULT_VM_MEM_GIB * 2 ** 30))));
}

/** vCPUs per VM when `concurrent` VMs run at once: the host's cores shared out, 1 to 2 each, at least `guestJobs`. */
export function vcpusPerVm(concurrent: number, guestJobs = 1, hostCpus = availableParallelism()): number {
  return Math.max(1, guestJobs, Math.min(2, Math.floor(hostCpus / Math.max(1, concurrent))));
}

async function runKernel(
  spec: string,
  files: FileEntry[],
  moduleDirs: string[],
  script: string,
  cjsScript: string | undefined,
  o: RunTestsOptions,
): Promise<KernelColumn> {
  const col: KernelColumn = { spec, release: undefined, tests: [], timings: {} };
  const progress = o.progress;
  const t0 = performance.now();
  const timed = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
    const t = performance.now();
    try {
      return await f();
    } finally {
      col.timings[name] = Math.round(performance.now() - t);
    }
  };
  const emit = (e: TestEvent) => o.onEvent?.(e);
  const push = (t: TestOutcome) => {
    col.tests.push(t);
    emit({ type: "test", kernel: col.release ?? spec, outcome: t });
  };
  const fail = (why: string) => {
    col.error = why;
    emit({ type: "kernel-error", kernel: col.release ?? spec, error: why });
    col.timings["total"] = Math.round(performance.now() - t0);
    return col;
  };
  const onHost = spec === "host";
  const cacheDir = o.cacheDir ?? (await import("../host/cache.ts")).defaultCacheDir();
  let runDir: string | undefined;
  try {
    // 1. the kernel
    let btf = "/sys/kernel/btf/vmlinux";
    let prepared: import("../kernels/types.ts").PreparedKernel | undefined;
    if (onHost) {
      col.release = osRelease();
      if (moduleDirs.length) {
        const { hostCanLoadModules } = await import("../module/target.ts");
        const m = hostCanLoadModules();
        if (!m.ok)
          return fail(
            `--host: the host kernel ${col.release} cannot load the module (${m.why}); run without --host to test in a VM`,
          );
      }
    } else {
      const { prepareKernel } = await import("../kernels/index.ts");
      prepared = await timed("prepare", () =>
        prepareKernel(spec, { cacheDir, ...(progress ? { progress } : {}) }),
      );
      col.release = prepared.release;
      btf = prepared.btf;
    }
    emit({ type: "kernel", spec, release: col.release });
    // 2. the module(s)
    const mods: ModuleBuild[] = [];
    try {
      await timed("module", async () => {
        for (const d of moduleDirs)
          mods.push(await buildModuleCached(d, onHost ? "host" : spec, col.release!, { progress, cacheDir }));
      });
    } catch (e) {
      return fail(`module build for ${col.release}: ${isKfuncKitError(e) ? formatError(e) : String(e)}`);
    }
    // 3. the test objects
    const objects: { file: string; source: string; object: string; titles: ExpectedTest[] }[] = [];
    /** `__btf_path` files the guest finds next to the staged objects: name → host path. */
    const btfFiles = new Map<string, string>();
    const compileOptions = {
      kernelBtf: btf,
      moduleDirs: mods.map((m) => m.buildDir),
      clang: o.clang,
      includeDirs: o.includeDirs,
      defines: o.defines,
      cflags: o.cflags,
      cacheDir,
    };
    await timed("compile", () => {
      for (const f of files) {
        let object: string;
        try {
          object = compileTest(f.source, compileOptions).object;
        } catch (e) {
          push({
            file: f.file,
            program: "(compile)",
            title: `${basename(f.file)} does not compile`,
            status: "error",
            reason: isKfuncKitError(e) ? formatError(e) : String(e),
            durationMs: 0,
          });
          continue;
        }
        try {
          objects.push({ file: f.file, source: f.source, object, titles: expectedTitles(object, f.file) });
          for (const name of btfPathsOf(object, f.file)) {
            if (btfFiles.has(name)) continue;
            const found = findBtfFile(name, f.source, (src) => compileTest(src, compileOptions).object);
            if (found) btfFiles.set(name, found);
          }
        } catch (e) {
          push({
            file: f.file,
            program: "(annotations)",
            title: `${basename(f.file)}: bad annotations`,
            status: "error",
            reason: isKfuncKitError(e) ? formatError(e) : String(e),
            durationMs: 0,
          });
        }
      }
    });
    if (objects.length === 0) {
      col.timings["total"] = Math.round(performance.now() - t0);
      return col;
    }
    // 4. the guest run
    runDir = mkdtempSync(join(tmpdir(), "kfunc-test-"));
    const staged = stageObjects(
      objects.map((x) => x.object),
      runDir,
    );
    const dropCaps = (o.dropCaps ?? []).map((c) => CAPS[c]!);
    const plan: GuestPlan = {
      files: objects.map((x, i) => ({ file: x.file, object: staged[i]! })),
      ...(o.filter !== undefined ? { filter: o.filter } : {}),
      ...(onHost ? {} : { kmsg: true, allowUnprivileged: true }),
      ...(dropCaps.length ? { dropCaps } : {}),
      ...parallelPlan(objects, o, cacheDir, col.release!),
    };
    for (const [name, path] of btfFiles) {
      const dest = join(runDir, name);
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(path, dest);
    }
    const planFile = join(runDir, "plan.json");
    writeFileSync(planFile, JSON.stringify(plan));
    /** The tests started and not finished: one, or with guest workers up to one per worker. */
    const running = new Map<string, { file: string; program: string; title: string }>();
    const keyOf = (t: { file: string; title: string }) => `${t.file}\0${t.title}`;
    const guestFrom = col.tests.length;
    const done = new Set<string>();
    let ready = false;
    const splitter = resultSplitter<GuestRecord>(
      (r) => {
        if (r.type === "ready") {
          ready = true;
          col.timings["guest start"] = r.startMs;
          if (r.mainMs !== undefined) col.timings["guest start: node + runner loaded"] = r.mainMs;
          if (r.mainMs !== undefined && r.warmMs !== undefined)
            col.timings["guest start: BTF + feature probes"] = r.warmMs - r.mainMs;
        } else if (r.type === "start") running.set(keyOf(r), r);
        else if (r.type === "test") {
          const { type: _t, ...outcome } = r;
          running.delete(keyOf(outcome));
          done.add(keyOf(outcome));
          push(outcome);
        } else if (r.type === "file-error") {
          push({
            file: r.file,
            program: "(object)",
            title: `${basename(r.file)}`,
            status: "error",
            reason: r.message,
            durationMs: 0,
          });
          for (const x of objects)
            if (x.file === r.file) for (const t of x.titles) done.add(`${x.file}\0${t.title}`);
        }
      },
      (text) => emit({ type: "output", kernel: col.release ?? spec, text }),
    );
    const notRun = (reason: string) => {
      for (const x of objects)
        for (const t of x.titles) {
          const k = `${x.file}\0${t.title}`;
          if (done.has(k)) continue;
          if (o.filter !== undefined && !new RegExp(o.filter).test(t.title)) continue;
          done.add(k);
          push({
            file: x.file,
            program: t.program,
            title: t.title,
            status: "not-run",
            reason,
            durationMs: 0,
          });
        }
    };
    /** After a crash: the verdicts and the starts the console has, which the serial pipeline may have lost. */
    const recoverFromConsole = (consoleText: string) => {
      const started = new Map<string, { file: string; program: string; title: string }>();
      for (const m of consoleText.matchAll(new RegExp(`${KMSG_TAG}(start|result) (\\{.*\\})\\s*$`, "gm"))) {
        let rec: TestOutcome;
        try {
          rec = JSON.parse(m[2]!) as TestOutcome;
        } catch {
          continue;
        }
        const key = keyOf(rec);
        if (m[1] === "start") {
          if (!done.has(key)) started.set(key, { file: rec.file, program: rec.program, title: rec.title });
        } else {
          started.delete(key);
          if (done.has(key)) continue;
          done.add(key);
          push({
            ...rec,
            ...(rec.status === "pass"
              ? {}
              : { reason: "the details were lost when the guest crashed (verdict from the kernel log)" }),
          });
        }
      }
      for (const [k, t] of started) running.set(k, t);
      for (const k of [...running.keys()]) if (done.has(k)) running.delete(k);
    };
    const charge = (what: string, consoleTail: string, consoleText = "") => {
      if (consoleText) recoverFromConsole(consoleText);
      // with guest workers, every test that was running is charged: which one crashed the kernel is unknown
      for (const [k, t] of running) {
        done.add(k);
        push({
          file: t.file,
          program: t.program,
          title: t.title,
          status: "fail",
          durationMs: 0,
          failure: {
            kind: "crash",
            expected: "the test finishes",
            got: `${what}${consoleTail ? `\n--- console (tail) ---\n${consoleTail}` : ""}`,
          },
        });
      }
      running.clear();
      notRun(`not run: ${what.split("\n")[0]} while an earlier test ran`);
    };
    const timeoutMs = (o.timeoutS ?? 300) * 1000;
    if (onHost) {
      await timed("tests", async () => {
        // its own process group: a timeout or Ctrl-C kills the runner's test workers too
        const child = spawn(process.execPath, [script, planFile], {
          stdio: ["ignore", "pipe", "pipe"],
          detached: true,
        });
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => splitter.push(c));
        child.stderr.on("data", (c: Buffer) => {
          stderr += c.toString();
        });
        const kill = () => {
          try {
            process.kill(-child.pid!, "SIGKILL");
          } catch {
            child.kill("SIGKILL");
          }
        };
        const timer = setTimeout(kill, timeoutMs);
        o.signal?.addEventListener("abort", kill, { once: true });
        const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
        clearTimeout(timer);
        o.signal?.removeEventListener("abort", kill);
        splitter.flush();
        if (code !== 0)
          charge(
            o.signal?.aborted
              ? "interrupted"
              : `the test process exited (${code ?? "killed"})${stderr ? `: ${stderr.trim().split("\n").slice(-5).join("\n")}` : ""}`,
            "",
          );
      });
    } else {
      const { runInVm, VmError } = await import("../qemu/index.ts");
      for (const p of [script, process.execPath])
        if (!guestCanSee(p) && !p.startsWith(`${ROOT}/`))
          throw new UsageError(
            `'${p}' is under ${GUEST_TMPFS.find((d) => p.startsWith(`${d}/`))}, which the guest does not see`,
            {
              hint: "install node and kfunc-kit outside /tmp, /run and /root",
            },
          );
      // KFUNC_KIT_TEST_CPU_PROF=<dir>: a V8 CPU profile of the guest runner, written to <dir> (shared)
      const profDir = process.env["KFUNC_KIT_TEST_CPU_PROF"];
      if (profDir) mkdirSync(profDir, { recursive: true });
      const shares = [runDir, ...(guestCanSee(ROOT) ? [] : [ROOT]), ...(profDir ? [resolve(profDir)] : [])];
      const nodeArgs = profDir ? ["--cpu-prof", `--cpu-prof-dir=${resolve(profDir)}`] : [];
      const cached = cjsScript ? guestLoader(cjsScript, runDir, cacheDir, nodeArgs) : undefined;
      const bootCache = guestBootCache(runDir, cacheDir);
      const bootStart = performance.now();
      try {
        const r = await runInVm({
          kernel: prepared!,
          insmod: mods.map((m) => m.ko),
          command: [process.execPath, ...nodeArgs, cached?.loader ?? script, planFile],
          cwd: runDir,
          shares,
          timeoutMs,
          ...(o.vmCpus ? { cpus: o.vmCpus } : {}),
          cacheDir,
          ...(bootCache ? { env: bootCache.env } : {}),
          ...(progress ? { progress } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
          onStdout: (c) => splitter.push(c),
        });
        splitter.flush();
        cached?.collect();
        bootCache?.collect();
        col.timings["boot"] = (r.timings.qemuToInit ?? 0) + (r.timings.initToCommand ?? 0);
        col.timings["tests"] = r.timings.command ?? 0;
        col.timings["vm total"] = Math.round(performance.now() - bootStart);
        if (r.insmodFailed) {
          const why = r.stderr.trim().split("\n").slice(0, 8).join("\n");
          return fail(`insmod ${basename(r.insmodFailed)} failed on ${col.release}: ${why}`);
        }
        if (!ready)
          return fail(
            `the test runner did not start in the guest (exit ${r.exitCode}): ${r.stderr.trim().split("\n").slice(-6).join("\n")}`,
          );
        if (r.exitCode !== 0 || running.size)
          charge(
            `the test runner exited with ${r.exitCode}: ${r.stderr.trim().split("\n").slice(-6).join("\n")}`,
            r.console.split("\n").slice(-20).join("\n"),
            r.console,
          );
      } catch (e) {
        splitter.flush();
        if (!(e instanceof VmError)) throw e;
        const tail = e.console.split("\n").slice(-25).join("\n");
        if (!ready) return fail(`${e.message}${tail ? `\n--- console (tail) ---\n${tail}` : ""}`);
        charge(
          e.reason === "aborted" ? "interrupted (Ctrl-C); QEMU was killed" : e.message,
          e.reason === "aborted" ? "" : tail,
          // the console's notes of the tests that started: the guest's stdout relay may not have sent the
          // last start before the panic (on one vCPU it often has not run since)
          e.console,
        );
      }
    }
    notRun("not run: the test runner ended before it");
    // the report in file order and each file's run order, whatever order the guest workers finished in
    sortByRunOrder(col.tests, guestFrom, objects);
    recordDurations(
      cacheDir,
      col.release!,
      (file) => objects.find((x) => x.file === file)?.source,
      col.tests.slice(guestFrom),
    );
  } catch (e) {
    if (isKfuncKitError(e) && e.code === "USAGE") throw e;
    return fail(isKfuncKitError(e) ? formatError(e) : String(e));
  } finally {
    if (runDir) rmSync(runDir, { recursive: true, force: true });
  }
  col.timings["total"] = Math.round(performance.now() - t0);
  return col;
}
