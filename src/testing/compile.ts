/**
 * Builds what a kernel column needs, cached: the module (rebuilt only when its files or the kernel change)
 * and each test file compiled against that kernel's vmlinux.h and the module headers (cached by content).
 */
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { compileBpf, KFUNC_KIT_INCLUDE } from "../compile/clang.ts";
import { vmlinuxHeader } from "../compile/vmlinux-h.ts";
import { buildModule } from "../module/build.ts";
import type { Progress } from "../progress.ts";

export interface ModuleBuild {
  dir: string;
  name: string;
  ko: string;
  header: string;
  buildDir: string;
  cached: boolean;
}

function hashDir(h: ReturnType<typeof createHash>, dir: string, skip: (name: string) => boolean): void {
  for (const f of readdirSync(dir).sort()) {
    if (skip(f)) continue;
    const p = join(dir, f);
    const st = statSync(p);
    if (st.isDirectory()) {
      h.update(`d\0${f}\0`);
      hashDir(h, p, () => false);
    } else if (st.isFile()) h.update(`f\0${f}\0`).update(readFileSync(p));
  }
}

/** buildModule, skipped when nothing that goes into the .ko changed since the last build for this kernel. */
export async function buildModuleCached(
  dir: string,
  kernel: string,
  release: string,
  o: { progress?: Progress | undefined; cacheDir?: string | undefined },
): Promise<ModuleBuild> {
  const h = createHash("sha256").update(`module-v1\0${release}\0`);
  hashDir(
    h,
    dir,
    (f) =>
      f === "build" ||
      f === "tests" ||
      f.startsWith(".") ||
      /\.(o|ko|mod|cmd|order|symvers)$/.test(f) ||
      f.endsWith(".bpf.c"),
  );
  const key = h.digest("hex");
  const stamp = join(dir, "build", release, ".kfunc-test.json");
  try {
    const s = JSON.parse(readFileSync(stamp, "utf8")) as ModuleBuild & { key: string };
    if (s.key === key && existsSync(s.ko) && existsSync(s.header)) {
      o.progress?.note(`  module ${s.name}.ko for ${release}: cached`);
      return { dir, name: s.name, ko: s.ko, header: s.header, buildDir: s.buildDir, cached: true };
    }
  } catch {
    // no stamp yet
  }
  const built = await buildModule(dir, { kernel, progress: o.progress, cacheDir: o.cacheDir });
  const r = {
    dir,
    name: built.name,
    ko: built.ko,
    header: built.header,
    buildDir: built.buildDir,
    cached: false,
  };
  writeFileSync(stamp, `${JSON.stringify({ ...r, key }, null, 2)}\n`);
  return r;
}

export interface CompileTestOptions {
  /** The target kernel's BTF (vmlinux.h is printed from it). */
  kernelBtf: string;
  /** Module build dirs holding `<name>.kfuncs.h`. */
  moduleDirs: string[];
  clang?: string | undefined;
  /** `-I`: searched after the test file's own dir, before vmlinux.h's and the module headers' dirs. */
  includeDirs?: string[] | undefined;
  /** `-D NAME[=VALUE]`. */
  defines?: string[] | undefined;
  /** More clang arguments (`--cflags "-mcpu=v3 …"`). */
  cflags?: string[] | undefined;
  cacheDir: string;
}

/** Compiles one test file (or passes a precompiled object through); returns the object's path. */
export function compileTest(source: string, o: CompileTestOptions): { object: string; cached: boolean } {
  if (source.endsWith(".o")) return { object: resolve(source), cached: true };
  const vm = vmlinuxHeader(o.kernelBtf, o.cacheDir);
  // include/testing last: a selftests program's `#include "bpf_misc.h"` gets our copy unless it brings its own
  const includeDirs = [
    dirname(resolve(source)),
    ...(o.includeDirs ?? []).map((d) => resolve(d)),
    vm.dir,
    ...o.moduleDirs,
    join(KFUNC_KIT_INCLUDE, "testing"),
  ];
  const defines = o.defines ?? [];
  const cflags = o.cflags ?? [];
  const h = createHash("sha256")
    .update(`test-obj-v2\0${o.clang ?? "clang"}\0${defines.join("\0")}\0\0${cflags.join("\0")}\0\0`)
    .update(readFileSync(source));
  for (const d of [...includeDirs, KFUNC_KIT_INCLUDE]) {
    h.update(`\0${d}\0`);
    if (!existsSync(d)) continue;
    // a dangling symlink (the selftests' disasm.h points into kernel/bpf) is not a header clang can read
    for (const f of readdirSync(d).sort())
      if (f.endsWith(".h") && existsSync(join(d, f)))
        h.update(`${f}\0`).update(
          f === "vmlinux.h" ? String(statSync(join(d, f)).size) : readFileSync(join(d, f)),
        );
  }
  const key = h.digest("hex").slice(0, 24);
  const dir = join(o.cacheDir, "test-objects");
  mkdirSync(dir, { recursive: true });
  const object = join(dir, `${basename(source).replace(/\.c$/, "")}-${key}.o`);
  if (existsSync(object)) return { object, cached: true };
  const tmp = `${object}.${process.pid}.tmp`;
  compileBpf(source, {
    output: tmp,
    includeDirs,
    defines,
    extraArgs: cflags,
    ...(o.clang ? { clang: o.clang } : {}),
  });
  renameSync(tmp, object);
  return { object, cached: false };
}

/** Copies objects into a run dir the guest can see; returns their new paths. */
export function stageObjects(objects: string[], runDir: string): string[] {
  return objects.map((obj, i) => {
    const dest = join(runDir, `${i}-${basename(obj)}`);
    copyFileSync(obj, dest);
    return dest;
  });
}
