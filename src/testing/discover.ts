/**
 * Finds what `kfunc test` runs: test files (`*.test.bpf.c`, precompiled `*.bpf.o`, a `tests/` dir, or the
 * paths given) and the module(s) they test (a `kfunc.json` or hand-written Kbuild module next to them, or
 * in the parent of a `tests/` dir), and splits the work with `--shard I/N`.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { UsageError } from "../errors.ts";

export const isTestSource = (f: string) => f.endsWith(".test.bpf.c");
export const isObject = (f: string) => f.endsWith(".bpf.o");

function testsIn(dir: string): string[] {
  const out: string[] = [];
  for (const d of [dir, join(dir, "tests")]) {
    if (!existsSync(d) || !statSync(d).isDirectory()) continue;
    const inTests = basename(d) === "tests";
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (!statSync(p).isFile()) continue;
      if (isTestSource(f) || (inTests && f.endsWith(".bpf.c")) || (inTests && isObject(f))) out.push(p);
    }
  }
  return out;
}

/** The test files named by `paths` (default: the current directory). */
export function findTestFiles(paths: string[]): string[] {
  const files: string[] = [];
  for (const arg of paths.length ? paths : ["."]) {
    const p = resolve(arg);
    if (!existsSync(p)) throw new UsageError(`test path '${arg}': no such file or directory`);
    if (statSync(p).isDirectory()) {
      const found = testsIn(p);
      if (found.length === 0)
        throw new UsageError(
          `test path '${arg}': no test files (*.test.bpf.c, or *.bpf.c / *.bpf.o in tests/)`,
          {
            hint: "annotate eBPF programs with include/kfunc_test.h (__success, __failure, __msg, __retval) in a file named *.test.bpf.c; `kfunc new <dir>` makes one",
          },
        );
      files.push(...found);
    } else if (isTestSource(p) || p.endsWith(".c") || p.endsWith(".o")) files.push(p);
    else throw new UsageError(`test path '${arg}': not an eBPF C file (*.test.bpf.c) or object (*.bpf.o)`);
  }
  return [...new Set(files)];
}

export function isModuleDir(d: string): boolean {
  return existsSync(join(d, "kfunc.json")) || existsSync(join(d, "Kbuild"));
}

/** The module dirs next to the test files (their dir, or the parent of a `tests/` dir). */
export function findModules(files: string[]): string[] {
  const dirs = new Set<string>();
  for (const f of files) {
    const d = dirname(f);
    for (const c of [d, dirname(d)]) {
      if (isModuleDir(c)) {
        dirs.add(c);
        break;
      }
    }
  }
  return [...dirs];
}

/** `--shard I/N` (1-based): which of N machines this is. */
export function parseShard(s: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  const index = m ? Number(m[1]) : 0;
  const count = m ? Number(m[2]) : 0;
  if (!m || count < 1 || index < 1 || index > count)
    throw new UsageError(`--shard '${s}': expected I/N with 1 <= I <= N (e.g. --shard 2/4)`);
  return { index, count };
}

/**
 * The (kernel, file) pairs of shard I/N: the kernel × file grid dealt round-robin, so a CI matrix of N
 * machines runs every pair exactly once.
 */
export function shardPairs<K, F>(
  kernels: K[],
  files: F[],
  shard: { index: number; count: number } | undefined,
): { kernel: K; files: F[] }[] {
  const out: { kernel: K; files: F[] }[] = [];
  let n = 0;
  for (const kernel of kernels) {
    const mine = files.filter(() => (shard ? n++ % shard.count === shard.index - 1 : true));
    if (mine.length) out.push({ kernel, files: mine });
  }
  return out;
}
