/**
 * The module config, `kfunc.json` in the module directory: the module's name and license, the C files
 * with the kfunc bodies, the kfuncs with their KF_* flags and the program types to register them for.
 * Validation errors name the file, the key and the fix.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ModuleError } from "../errors.ts";
import { KF_FLAGS, type KfFlag, PROG_TYPES, type ProgType } from "./kernel-features.ts";

export const CONFIG_FILE = "kfunc.json";

export interface KfuncDecl {
  /** The C function name (also the name eBPF programs call). */
  name: string;
  flags: KfFlag[];
}

export interface ModuleConfig {
  /** Absolute path of the config file (for messages). */
  file: string;
  /** The module directory. */
  dir: string;
  /** Module name: `<name>.ko`, /sys/kernel/btf/<name>. */
  name: string;
  description: string;
  /** MODULE_LICENSE; must be GPL-compatible (register_btf_kfunc_id_set is EXPORT_SYMBOL_GPL). */
  license: string;
  author: string | undefined;
  /** C files (relative to dir) with the kfunc bodies. */
  sources: string[];
  kfuncs: KfuncDecl[];
  programTypes: ProgType[];
  /**
   * Program types registered only on kernels that have their kfunc hook (KPROBE from 6.10…) and left out,
   * without an error, on older ones: one kfunc.json for a kernel matrix. Default none.
   */
  optionalProgramTypes?: ProgType[];
  /** Optional `int fn(void)` called before registration (non-zero aborts the load). */
  init: string | undefined;
  /** Optional `void fn(void)` called on unload. */
  exit: string | undefined;
}

/** MODULE_LICENSE strings the kernel treats as GPL-compatible (include/linux/license.h). */
export const GPL_LICENSES = [
  "GPL",
  "GPL v2",
  "GPL and additional rights",
  "Dual BSD/GPL",
  "Dual MIT/GPL",
  "Dual MPL/GPL",
];

const KNOWN_KEYS = new Set([
  "$schema",
  "//",
  "name",
  "description",
  "license",
  "author",
  "sources",
  "kfuncs",
  "programTypes",
  "optionalProgramTypes",
  "init",
  "exit",
]);
const C_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** MODULE_NAME_LEN is 56 including the NUL. */
const MAX_MODULE_NAME = 55;

function fail(file: string, key: string, what: string, hint: string): never {
  throw new ModuleError(`${file}: '${key}': ${what}`, { hint });
}

export function configPath(dir: string): string {
  return join(dir, CONFIG_FILE);
}

export function hasConfig(dir: string): boolean {
  return existsSync(configPath(dir));
}

/** Reads and validates `<dir>/kfunc.json`. */
export function loadModuleConfig(dir: string): ModuleConfig {
  const file = configPath(dir);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ModuleError(`${file}: cannot read the module config`, {
      cause: e,
      hint: `create ${CONFIG_FILE} in ${dir} (see docs/modules.md), or add a Kbuild/Makefile for a hand-written module`,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModuleError(`${file}: not valid JSON: ${(e as Error).message}`, {
      hint: 'fix the JSON syntax (no comments or trailing commas; use a "//" key for notes)',
    });
  }
  const config = validateModuleConfig(json, file, dir);
  for (const src of config.sources) {
    if (!existsSync(join(dir, src)))
      fail(file, "sources", `'${src}' does not exist in ${dir}`, `create ${src} or fix the file name`);
  }
  return config;
}

function stringList(file: string, key: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0)
    fail(file, key, "must be a non-empty array of strings", `e.g. "${key}": [ … ]`);
  return v.map((item, i) => {
    if (typeof item !== "string" || item === "")
      fail(file, `${key}[${i}]`, "must be a non-empty string", "quote the value");
    return item;
  });
}

function optionalString(file: string, obj: Record<string, unknown>, key: string): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v === "") fail(file, key, "must be a non-empty string", `"${key}": "…"`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  const ctl = /[\u0000-\u001f\u007f]/.exec(v);
  if (ctl)
    fail(
      file,
      key,
      `contains the control character U+${ctl[0].charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()}`,
      "use plain one-line text (it becomes a C string in the module's .modinfo)",
    );
  return v;
}

function normalizeFlag(file: string, key: string, raw: string): KfFlag {
  const name = raw.toUpperCase().replace(/^KF_/, "");
  if (!(name in KF_FLAGS))
    fail(file, key, `unknown kfunc flag "${raw}"`, `use one of ${Object.keys(KF_FLAGS).join(", ")}`);
  return name as KfFlag;
}

function normalizeProgType(file: string, key: string, raw: string): ProgType {
  const name = raw.toUpperCase().replace(/^BPF_PROG_TYPE_/, "");
  if (!(name in PROG_TYPES))
    fail(
      file,
      key,
      `unknown program type "${raw}"`,
      `use one of ${Object.keys(PROG_TYPES).join(", ")} (UNSPEC registers for every program type)`,
    );
  return name as ProgType;
}

function validateKfunc(file: string, key: string, v: unknown): KfuncDecl {
  if (typeof v === "string") v = { name: v };
  if (typeof v !== "object" || v === null || Array.isArray(v))
    fail(
      file,
      key,
      "must be a kfunc name or an object { name, flags }",
      `{ "name": "my_kfunc", "flags": ["ACQUIRE"] }`,
    );
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== "name" && k !== "flags")
      fail(file, `${key}.${k}`, "unknown key", "a kfunc has only 'name' and 'flags'");
  }
  if (typeof o["name"] !== "string" || !C_IDENT.test(o["name"]))
    fail(file, `${key}.name`, "must be a C function name", `"name": "my_kfunc"`);
  const flags: KfFlag[] = [];
  if (o["flags"] !== undefined) {
    if (!Array.isArray(o["flags"]))
      fail(file, `${key}.flags`, "must be an array of flag names", `"flags": ["ACQUIRE", "RET_NULL"]`);
    o["flags"].forEach((f: unknown, i: number) => {
      if (typeof f !== "string") fail(file, `${key}.flags[${i}]`, "must be a string", `"ACQUIRE"`);
      const flag = normalizeFlag(file, `${key}.flags[${i}]`, f);
      if (flags.includes(flag))
        fail(file, `${key}.flags[${i}]`, `"${f}" given twice`, "remove the duplicate");
      flags.push(flag);
    });
  }
  if (flags.includes("ACQUIRE") && flags.includes("RELEASE"))
    fail(
      file,
      `${key}.flags`,
      "a kfunc cannot both ACQUIRE and RELEASE",
      "split it into an acquire kfunc and a release kfunc",
    );
  const iters = flags.filter((f) => f.startsWith("ITER_"));
  if (iters.length > 1)
    fail(
      file,
      `${key}.flags`,
      `more than one iterator flag (${iters.join(", ")})`,
      "use exactly one ITER_* flag per kfunc",
    );
  return { name: o["name"], flags };
}

/** Validates a parsed config object. `file` and `dir` are used for messages and the result. */
export function validateModuleConfig(json: unknown, file: string, dir: string): ModuleConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json))
    fail(
      file,
      "(top level)",
      "must be a JSON object",
      `{ "name": "my_kfuncs", "sources": ["kfuncs.c"], "kfuncs": […], "programTypes": ["TRACING"] }`,
    );
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KNOWN_KEYS.has(k))
      fail(
        file,
        k,
        "unknown key",
        `known keys: ${[...KNOWN_KEYS].filter((x) => x !== "$schema" && x !== "//").join(", ")}`,
      );
  }
  const name = o["name"];
  if (typeof name !== "string" || !/^[a-z0-9_]+$/.test(name) || name.length > MAX_MODULE_NAME)
    fail(
      file,
      "name",
      name === undefined ? "missing" : `invalid module name ${JSON.stringify(name)}`,
      `use lowercase letters, digits and '_', at most ${MAX_MODULE_NAME} characters: "name": "my_kfuncs"`,
    );
  const description = optionalString(file, o, "description") ?? `kfuncs of ${name}`;
  const license = optionalString(file, o, "license") ?? "GPL";
  if (!GPL_LICENSES.includes(license))
    fail(
      file,
      "license",
      `"${license}" is not GPL-compatible: register_btf_kfunc_id_set() is EXPORT_SYMBOL_GPL, so the module would not load`,
      `use one of ${GPL_LICENSES.map((l) => `"${l}"`).join(", ")}`,
    );
  const author = optionalString(file, o, "author");

  if (o["sources"] === undefined) fail(file, "sources", "missing", `"sources": ["${name}_kfuncs.c"]`);
  const sources = stringList(file, "sources", o["sources"]);
  sources.forEach((s, i) => {
    if (!s.endsWith(".c") || s.includes("/") || s.startsWith("."))
      fail(
        file,
        `sources[${i}]`,
        `"${s}" must be a .c file in the module directory`,
        "list C files by their name",
      );
    if (s === `${name}.c`)
      fail(
        file,
        `sources[${i}]`,
        `"${s}" has the module's name: kbuild cannot link ${name}.ko from an object of the same name`,
        `rename the file (e.g. ${name}_kfuncs.c) or change "name"`,
      );
    if (s.startsWith("kfunc_gen_"))
      fail(file, `sources[${i}]`, `"${s}" uses the prefix reserved for generated files`, "rename it");
  });
  if (new Set(sources).size !== sources.length)
    fail(file, "sources", "a file is listed twice", "remove the duplicate");

  if (o["kfuncs"] === undefined)
    fail(file, "kfuncs", "missing", `"kfuncs": [{ "name": "my_kfunc", "flags": [] }]`);
  if (!Array.isArray(o["kfuncs"]) || o["kfuncs"].length === 0)
    fail(file, "kfuncs", "must be a non-empty array", `"kfuncs": [{ "name": "my_kfunc", "flags": [] }]`);
  const kfuncs = o["kfuncs"].map((k: unknown, i: number) => validateKfunc(file, `kfuncs[${i}]`, k));
  const seen = new Set<string>();
  kfuncs.forEach((k, i) => {
    if (seen.has(k.name))
      fail(file, `kfuncs[${i}].name`, `"${k.name}" is declared twice`, "remove the duplicate");
    seen.add(k.name);
  });

  if (o["programTypes"] === undefined)
    fail(
      file,
      "programTypes",
      "missing",
      `"programTypes": ["TRACING", "SYSCALL"] (or ["UNSPEC"] for every program type)`,
    );
  const programTypes = stringList(file, "programTypes", o["programTypes"]).map((p, i) =>
    normalizeProgType(file, `programTypes[${i}]`, p),
  );
  if (new Set(programTypes).size !== programTypes.length)
    fail(file, "programTypes", "a program type is listed twice", "remove the duplicate");
  if (programTypes.includes("UNSPEC") && programTypes.length > 1)
    fail(
      file,
      "programTypes",
      "UNSPEC already covers every program type",
      `use ["UNSPEC"] alone, or list the types without it`,
    );

  const optionalProgramTypes =
    o["optionalProgramTypes"] === undefined
      ? []
      : stringList(file, "optionalProgramTypes", o["optionalProgramTypes"]).map((p, i) =>
          normalizeProgType(file, `optionalProgramTypes[${i}]`, p),
        );
  for (const [i, t] of optionalProgramTypes.entries()) {
    if (programTypes.includes(t) || optionalProgramTypes.indexOf(t) !== i)
      fail(
        file,
        `optionalProgramTypes[${i}]`,
        `${t} is listed twice (here or in 'programTypes')`,
        "list each program type once",
      );
    if (t === "UNSPEC" || programTypes.includes("UNSPEC"))
      fail(
        file,
        `optionalProgramTypes[${i}]`,
        "UNSPEC already covers every program type",
        `use ["UNSPEC"] alone in 'programTypes'`,
      );
  }

  const init = optionalString(file, o, "init");
  const exit = optionalString(file, o, "exit");
  for (const [k, v] of [
    ["init", init],
    ["exit", exit],
  ] as const) {
    if (v !== undefined && !C_IDENT.test(v)) fail(file, k, "must be a C function name", `"${k}": "my_${k}"`);
  }
  return {
    file,
    dir,
    name,
    description,
    license,
    author,
    sources,
    kfuncs,
    programTypes,
    optionalProgramTypes,
    init,
    exit,
  };
}
