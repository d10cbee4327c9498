/**
 * `buildModule(dir, { kernel })`: a kfunc module (kfunc.json + kfunc bodies, registration generated) or a
 * hand-written one (a Kbuild/Makefile) built with kbuild against the target kernel, with the module-BTF
 * guarantee before and the .ko check after. Builds happen in `<dir>/build/<release>/` (a copy of the
 * sources plus generated files), so one module dir can be built for several kernels.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseBtf } from "../btf/index.ts";
import { type KfuncKitError, ModuleError } from "../errors.ts";
import { parseKernelModule } from "../object/index.ts";
import type { Progress } from "../progress.ts";
import { ensureModuleBtf } from "./btf-guarantee.ts";
import { checkKernelModule, type ModuleKfunc } from "./check.ts";
import { generateModule } from "./codegen.ts";
import { hasConfig, loadModuleConfig, type ModuleConfig } from "./config.ts";
import { generateKfuncHeader } from "./header.ts";
import { formatDiagnostic, otherErrors, parseDiagnostics, runKbuild, shellQuote } from "./kbuild.ts";
import { type ModuleTarget, resolveTarget } from "./target.ts";

export interface BuildModuleOptions {
  /** `host`, `debian:<suite|release>`, or a kernel build dir; default: host if it loads modules, else the QEMU default. */
  kernel?: string | undefined;
  progress?: Progress | undefined;
  /** Build directory (default `<dir>/build/<release>`). */
  outDir?: string | undefined;
  cacheDir?: string | undefined;
  /**
   * The module-BTF guarantee (vmlinux, pahole, resolve_btfids in place). Default true; false builds with
   * the kernel build dir as it is — for tests that prove the post-build check catches a BTF-less module.
   */
  btfGuarantee?: boolean;
}

export interface BuiltModule {
  ko: string;
  name: string;
  /** The target kernel's release. */
  kernel: string;
  kfuncs: Pick<ModuleKfunc, "name" | "prototype" | "flags">[];
  sets: { name: string; count: number }[];
  warnings: string[];
  buildLog: string;
  /** `<name>.kfuncs.h` next to the .ko: extern prototypes for eBPF programs. */
  header: string;
  buildDir: string;
  target: Pick<ModuleTarget, "spec" | "kind" | "release" | "headersDir" | "btf" | "reason">;
  /** What the BTF guarantee did (copied vmlinux, borrowed resolve_btfids…). */
  actions: string[];
  /** true when the module came from kfunc.json (registration generated). */
  generated: boolean;
}

/** Files kbuild leaves in a module dir: never copied into the build dir. */
const BUILD_OUTPUT = /\.(o|ko|mod|mod\.c|cmd|order|symvers|a)$|^\.|^Module\.symvers$|^modules\.order$/;

/** Writes only when the content differs, so kbuild's timestamps make a rebuild incremental (~1 s, not ~5 s). */
function writeIfChanged(path: string, data: string | Buffer): void {
  if (existsSync(path) && readFileSync(path).equals(typeof data === "string" ? Buffer.from(data) : data))
    return;
  rmSync(path, { force: true }); // a copied read-only source (0444) cannot be overwritten in place
  writeFileSync(path, data);
}

function copySources(dir: string, buildDir: string, config: ModuleConfig | undefined): void {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (f === "build" || BUILD_OUTPUT.test(f) || !statSync(p).isFile()) continue;
    if (config && !(config.sources.includes(f) || f.endsWith(".h"))) continue;
    writeIfChanged(join(buildDir, f), readFileSync(p));
  }
}

/** Every configured kfunc must be defined in the sources: catch a typo before kbuild does. */
function checkDefinitions(config: ModuleConfig): void {
  const text = config.sources.map((s) => readFileSync(join(config.dir, s), "utf8")).join("\n");
  const inlined = config.kfuncs
    .filter((k) => new RegExp(`\\bstatic\\b[^;{}()]*\\b${k.name}\\s*\\(`).test(text))
    .map((k) => k.name);
  if (inlined.length)
    throw new ModuleError(
      `${config.file}: kfunc${inlined.length > 1 ? "s" : ""} ${inlined.map((m) => `'${m}'`).join(", ")} defined static (inline) in ${config.sources.join(", ")}: a static function is inlined or kept local, so it has no BTF id and cannot be a kfunc`,
      { hint: "define each kfunc as a global `__bpf_kfunc <type> name(…)` (no static, no inline)" },
    );
  const missing = config.kfuncs
    .filter((k) => !new RegExp(`\\b${k.name}\\s*\\(`).test(text))
    .map((k) => k.name);
  if (missing.length)
    throw new ModuleError(
      `${config.file}: kfunc${missing.length > 1 ? "s" : ""} ${missing.map((m) => `'${m}'`).join(", ")} not defined in ${config.sources.join(", ")}`,
      {
        hint: "define each kfunc as `__bpf_kfunc <type> name(…) { … }` between __bpf_kfunc_start_defs() and __bpf_kfunc_end_defs(), or fix the name in kfunc.json",
      },
    );
}

/** kfunc idioms newer than some kernels: the first kernel that has each (docs/kfuncs-guide.md). */
const KFUNC_IDIOMS: { pattern: RegExp; name: string; since: [number, number] }[] = [
  { pattern: /\bBTF_KFUNCS_(START|END)\b/, name: "BTF_KFUNCS_START/END", since: [6, 9] },
  {
    pattern: /\b__bpf_kfunc_(start|end)_defs\b/,
    name: "__bpf_kfunc_start_defs()/__bpf_kfunc_end_defs()",
    since: [6, 8],
  },
  { pattern: /\b__bpf_kfunc\b/, name: "__bpf_kfunc", since: [6, 2] },
];

/** A hint when the errors come from kfunc idioms the target kernel predates (a hand-written module). */
function idiomHint(messages: string[], target: ModuleTarget): string | undefined {
  const v = target.version;
  const missing = KFUNC_IDIOMS.filter(
    (i) =>
      (v.major < i.since[0] || (v.major === i.since[0] && v.minor < i.since[1])) &&
      messages.some((m) => i.pattern.test(m)),
  );
  if (missing.length === 0) return undefined;
  return (
    `Linux ${v.major}.${v.minor} predates ${missing.map((i) => `${i.name} (${i.since.join(".")})`).join(", ")}: ` +
    "declare the kfuncs in kfunc.json and let kfunc-kit generate the registration with this kernel's idioms, " +
    "or add compat macros (docs/kfuncs-guide.md)"
  );
}

function buildFailure(
  dir: string,
  buildDir: string,
  target: ModuleTarget,
  buildLog: string,
  makeDir: string,
): KfuncKitError {
  const diags = parseDiagnostics(buildLog, { [buildDir]: dir, [makeDir]: dir });
  const errors = diags.filter((d) => d.severity === "error");
  const shown = errors.slice(0, 12);
  const lines = errors.length ? shown.map((d) => formatDiagnostic(d)) : otherErrors(buildLog);
  if (errors.length > shown.length) lines.push(`… ${errors.length - shown.length} more errors`);
  return new ModuleError(
    `module '${dir}': build for ${target.release} failed${lines.length ? `:\n  ${lines.join("\n  ")}` : ""}`,
    {
      hint:
        idiomHint(
          errors.map((d) => formatDiagnostic(d)),
          target,
        ) ??
        (errors.length
          ? `fix the errors above (a kernel header mismatch? the target is Linux ${target.release})`
          : `see the build log: make -C ${shellQuote(target.headersDir)} M=${shellQuote(makeDir)} modules`),
    },
  );
}

/** Builds and checks a module; throws KfuncKitError naming the cause and fix. */
export async function buildModule(dirArg: string, o: BuildModuleOptions = {}): Promise<BuiltModule> {
  const dir = resolve(dirArg);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new ModuleError(`module dir '${dirArg}': no such directory`, {
      hint: "pass the directory holding kfunc.json (or a Kbuild/Makefile)",
    });
  const config = hasConfig(dir) ? loadModuleConfig(dir) : undefined;
  if (!config && !existsSync(join(dir, "Kbuild")) && !existsSync(join(dir, "Makefile")))
    throw new ModuleError(`module dir '${dir}': neither kfunc.json nor a Kbuild/Makefile`, {
      hint: "declare the kfuncs in kfunc.json (docs/modules.md), or add a Kbuild file with obj-m += <name>.o",
    });
  if (config) checkDefinitions(config);

  const progress = o.progress;
  progress?.step(`resolving the target kernel${o.kernel ? ` ${o.kernel}` : ""}`);
  let target: ModuleTarget;
  try {
    target = await resolveTarget(o.kernel, { progress, cacheDir: o.cacheDir });
  } catch (e) {
    progress?.fail();
    throw e;
  }
  progress?.succeed(`target kernel ${target.release} (${target.reason})`);
  const generated = config ? generateModule(config, target) : undefined;

  const actions: string[] = [];
  const warnings: string[] = [];
  if (o.btfGuarantee !== false) {
    const g = await ensureModuleBtf(target, { progress, cacheDir: o.cacheDir });
    actions.push(...g.actions);
    warnings.push(...g.warnings);
    for (const a of g.actions) progress?.note(`  ${a}`);
  }

  const buildDir = resolve(o.outDir ?? join(dir, "build", target.release));
  mkdirSync(buildDir, { recursive: true });
  // the .ko is always relinked: its BTF step depends on the kernel build dir's vmlinux, which kbuild does
  // not track for external modules (a .ko built before the guarantee would otherwise stay BTF-less)
  for (const f of readdirSync(buildDir)) if (f.endsWith(".ko")) rmSync(join(buildDir, f));
  copySources(dir, buildDir, config);
  for (const [f, text] of Object.entries(generated?.files ?? {})) writeIfChanged(join(buildDir, f), text);

  progress?.step(`building ${config?.name ?? dir} for ${target.release}`);
  const kb = await runKbuild(target.headersDir, buildDir, { progress });
  if (kb.exitCode !== 0) {
    progress?.fail();
    throw buildFailure(dir, buildDir, target, kb.log, kb.makeDir);
  }
  for (const d of parseDiagnostics(kb.log, { [buildDir]: dir, [kb.makeDir]: dir }))
    if (d.severity === "warning") warnings.push(formatDiagnostic(d));

  const kos = readdirSync(buildDir).filter((f) => f.endsWith(".ko"));
  const koName = config ? `${config.name}.ko` : kos[0];
  if (!koName || !kos.includes(koName)) {
    progress?.fail();
    throw new ModuleError(
      `module '${dir}': kbuild succeeded but produced no ${koName ?? ".ko"} in ${buildDir}`,
      {
        hint: "does the Kbuild/Makefile say obj-m += <name>.o?",
      },
    );
  }
  if (kos.length > 1) warnings.push(`${kos.length} modules built (${kos.join(", ")}); checked ${koName}`);
  const ko = join(buildDir, koName);

  progress?.step(`checking ${koName}: module BTF and kfunc sets`);
  const base = target.btf ? parseBtf(readFileSync(target.btf), { source: target.btf }) : undefined;
  let checked: ReturnType<typeof checkKernelModule>;
  try {
    checked = checkKernelModule(parseKernelModule(readFileSync(ko), ko), {
      base,
      buildLog: kb.log,
      headersDir: target.headersDir,
      ...(config ? { expectedKfuncs: config.kfuncs.map((k) => k.name) } : {}),
    });
  } catch (e) {
    progress?.fail();
    throw e;
  }
  warnings.push(...checked.warnings);
  const header = join(buildDir, `${checked.name}.kfuncs.h`);
  writeFileSync(
    header,
    generateKfuncHeader(readFileSync(ko), checked.btf.base ?? checked.btf, { name: checked.name }),
  );
  progress?.succeed(
    `${koName}: module BTF ok, ${checked.kfuncs.length} kfunc${checked.kfuncs.length === 1 ? "" : "s"} in ${checked.sets.length} resolved set${checked.sets.length === 1 ? "" : "s"}`,
  );
  return {
    ko,
    name: checked.name,
    kernel: target.release,
    kfuncs: checked.kfuncs.map((k) => ({ name: k.name, prototype: k.prototype, flags: k.flags })),
    sets: checked.sets,
    warnings,
    buildLog: kb.log,
    header,
    buildDir,
    target: {
      spec: target.spec,
      kind: target.kind,
      release: target.release,
      headersDir: target.headersDir,
      btf: target.btf,
      reason: target.reason,
    },
    actions,
    generated: config !== undefined,
  };
}
