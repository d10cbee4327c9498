/**
 * Test fixtures compiled by clang at test time, cached in a temp dir keyed by a hash of everything that
 * goes into the object (source, kfunc_kit.h, defines, include dirs and their headers, clang args and
 * `clang --version`).
 *
 *   const obj = compileFixture("obj-maps");              // test/fixtures/obj-maps.bpf.c
 *   const obj = compileFixture("/abs/path/kfunc.bpf.c"); // any path
 *   const bytes = readFileSync(obj);
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { clangArgs, compileBpf, KFUNC_KIT_INCLUDE } from "../../src/compile/clang.ts";

/** The repository root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** test/fixtures */
export const FIXTURES_DIR = join(REPO_ROOT, "test", "fixtures");
/** Where compiled fixtures are cached (override with KFUNC_KIT_FIXTURE_CACHE). */
export const FIXTURE_CACHE = process.env["KFUNC_KIT_FIXTURE_CACHE"] ?? join(tmpdir(), "kfunc-kit-fixtures");

let clangVersionText: string | undefined;

/** `clang --version` (once per process): a different compiler makes a different object. */
export function clangVersion(clang = "clang"): string {
  if (clangVersionText === undefined) {
    const r = spawnSync(clang, ["--version"], { encoding: "utf8" });
    clangVersionText = r.status === 0 ? r.stdout : `unavailable: ${r.error?.message ?? r.stderr}`;
  }
  return clangVersionText;
}

export interface CompileFixtureOptions {
  /** Extra -D defines ("NAME" or "NAME=VALUE"). */
  defines?: string[];
  /** Extra -I directories (e.g. a dir with a generated vmlinux.h). Their *.h files are part of the key. */
  includeDirs?: string[];
  /** Extra clang arguments. */
  extraArgs?: string[];
  /** The compiler (default `clang`; e.g. `/usr/bin/clang-19` where clang 14's BTF falls short). */
  clang?: string;
}

/** Resolves a fixture name ("obj-maps", "obj-maps.bpf.c") or a path to an absolute source path. */
export function fixturePath(nameOrPath: string): string {
  if (isAbsolute(nameOrPath) || nameOrPath.includes("/")) return resolve(REPO_ROOT, nameOrPath);
  const file = nameOrPath.endsWith(".c") ? nameOrPath : `${nameOrPath}.bpf.c`;
  return join(FIXTURES_DIR, file);
}

function headersOf(dir: string): Array<[string, Buffer]> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".h"))
    .sort()
    .map((f) => [f, readFileSync(join(dir, f))]);
}

/**
 * Compiles an eBPF C fixture with src/compile/clang.ts and returns the path of the cached `.o`.
 * Throws the compiler's diagnostics on failure (a broken fixture must fail the test, not skip it).
 */
export function compileFixture(nameOrPath: string, options: CompileFixtureOptions = {}): string {
  const source = fixturePath(nameOrPath);
  if (!existsSync(source)) throw new Error(`fixture ${source} does not exist`);
  const h = createHash("sha256");
  h.update(readFileSync(source));
  for (const dir of [dirname(source), KFUNC_KIT_INCLUDE, ...(options.includeDirs ?? [])])
    for (const [name, bytes] of headersOf(dir)) h.update(`\0${name}\0`).update(bytes);
  const opts = {
    output: "OUT",
    defines: options.defines ?? [],
    includeDirs: options.includeDirs ?? [],
    extraArgs: options.extraArgs ?? [],
  };
  h.update(JSON.stringify(clangArgs("SRC", opts)));
  if (options.clang) h.update(`\0clang=${options.clang}`);
  h.update(clangVersion());
  const key = h.digest("hex").slice(0, 16);
  mkdirSync(FIXTURE_CACHE, { recursive: true });
  const out = join(FIXTURE_CACHE, `${basename(source).replace(/\.c$/, "")}-${key}.o`);
  if (existsSync(out)) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  compileBpf(source, { ...opts, output: tmp, ...(options.clang ? { clang: options.clang } : {}) });
  renameSync(tmp, out); // atomic: concurrent test processes never see a half-written object
  return out;
}

/** compileFixture + read: the object's bytes. */
export function fixtureBytes(nameOrPath: string, options: CompileFixtureOptions = {}): Uint8Array {
  return new Uint8Array(readFileSync(compileFixture(nameOrPath, options)));
}
