import { pathToFileURL } from "node:url";
import { UsageError } from "../errors.ts";

/**
 * Imports a user's kfunc/helper module. `.js`/`.mjs` load directly; `.ts` needs tsx, which is loaded on
 * demand (`tsx/esm/api`) when it is installed — otherwise the error says to compile the file or install tsx.
 */
export async function loadModule(file: string): Promise<Record<string, unknown>> {
  const { existsSync } = await import("node:fs");
  const { resolve } = await import("node:path");
  const abs = resolve(file);
  if (!existsSync(abs)) throw new UsageError(`module '${file}' does not exist`);
  const url = pathToFileURL(abs).href;
  if (/\.[cm]?ts$/.test(abs)) {
    let tsImport: ((specifier: string, parent: string) => Promise<unknown>) | undefined;
    try {
      const api = (await import("tsx/esm/api")) as { tsImport: typeof tsImport };
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
    return (await import(url)) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`module '${file}' failed to load: ${(e as Error).message}`, { cause: e });
  }
}

/** The host's kernel BTF for CO-RE (`/sys/kernel/btf/vmlinux`), or why it cannot be had. */
export async function hostVmlinuxBtf(): Promise<{ btf: import("../btf/index.ts").Btf } | { reason: string }> {
  const { existsSync, readFileSync } = await import("node:fs");
  const path = "/sys/kernel/btf/vmlinux";
  if (!existsSync(path)) return { reason: `${path} does not exist (a kernel without CONFIG_DEBUG_INFO_BTF, or not Linux)` };
  try {
    const { parseBtf } = await import("../btf/index.ts");
    return { btf: parseBtf(new Uint8Array(readFileSync(path)), { source: path }) };
  } catch (e) {
    return { reason: `${path}: ${(e as Error).message}` };
  }
}
