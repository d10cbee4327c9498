import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { UsageError } from "../errors.ts";
import type { ObjectSpec } from "../object/index.ts";
import { paramNamesFromC } from "../object/param-names.ts";

type Importer = (specifier: string) => Promise<unknown>;

let importer: Importer = (specifier) => import(specifier);

/**
 * Who runs {@link loadModule}'s `import()`s. The CLI's CommonJS bundle runs in a `vm.Script`, which on
 * Node 20 cannot import (without an experimental flag); its loader, a plain CommonJS file, hands its own in.
 */
export function setModuleImporter(f: Importer): void {
  importer = f;
}

/**
 * Imports a user's kfunc/helper module. `.js`/`.mjs` load directly; `.ts` needs tsx, which is loaded on
 * demand (`tsx/esm/api`) when it is installed — otherwise the error says to compile the file or install tsx.
 */
export async function loadModule(file: string): Promise<Record<string, unknown>> {
  const abs = resolve(file);
  if (!existsSync(abs)) throw new UsageError(`module '${file}' does not exist`);
  const url = pathToFileURL(abs).href;
  if (/\.[cm]?ts$/.test(abs)) {
    let tsImport: ((specifier: string, parent: string) => Promise<unknown>) | undefined;
    try {
      const api = (await importer("tsx/esm/api")) as { tsImport: typeof tsImport };
      tsImport = api.tsImport;
    } catch {
      // tsx absent: fall through to the error below
    }
    if (!tsImport)
      throw new UsageError(`module '${file}' is TypeScript and tsx is not installed`, {
        hint: "npm install tsx, or compile it to .js/.mjs and pass that",
      });
    try {
      return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`module '${file}' failed to load: ${(e as Error).message}`, { cause: e });
    }
  }
  try {
    return (await importer(url)) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`module '${file}' failed to load: ${(e as Error).message}`, { cause: e });
  }
}

/** The host's kernel BTF for CO-RE (`/sys/kernel/btf/vmlinux`), or why it cannot be had. */
export async function hostVmlinuxBtf(): Promise<{ btf: import("../btf/index.ts").Btf } | { reason: string }> {
  const path = "/sys/kernel/btf/vmlinux";
  if (!existsSync(path))
    return { reason: `${path} does not exist (a kernel without CONFIG_DEBUG_INFO_BTF, or not Linux)` };
  try {
    const { parseBtf } = await import("../btf/index.ts");
    return { btf: parseBtf(new Uint8Array(readFileSync(path)), { source: path }) };
  } catch (e) {
    return { reason: `${path}: ${(e as Error).message}` };
  }
}

/**
 * Kfunc parameter names from the C source the object names in its line info (clang writes none into BTF for
 * externs): what makes the `__sz` convention visible. Undefined when the source is not there.
 */
export function sourceParamNames(
  spec: ObjectSpec,
): ((kfunc: string, count: number) => string[] | undefined) | undefined {
  const files = new Set<string>();
  for (const infos of spec.btfExt?.lineInfo.values() ?? []) for (const l of infos) files.add(l.fileName);
  const texts = [...files].filter((f) => f && existsSync(f)).map((f) => readFileSync(f, "utf8"));
  if (texts.length === 0) return undefined;
  return (name, count) => {
    for (const t of texts) {
      const names = paramNamesFromC(t, name, count);
      if (names) return names;
    }
    return undefined;
  };
}
