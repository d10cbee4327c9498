import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { parseElf } from "../elf/index.ts";
import { KfuncKitError } from "../errors.ts";
import { readInputFile } from "../files.ts";
import { runTool } from "../host/exec.ts";

/** Module name as the kernel sees it: `9pnet-virtio` and `9pnet_virtio` are the same module. */
export const moduleName = (file: string): string =>
  file
    .replace(/^.*\//, "")
    .replace(/\.ko(\.(xz|zst|gz))?$/, "")
    .replace(/-/g, "_");

/** All `*.ko[.xz|.zst|.gz]` files under `<modulesDir>/kernel`, by module name. */
export function indexModules(modulesDir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ko(\.(xz|zst|gz))?$/.test(e.name)) out.set(moduleName(e.name), p);
    }
  };
  const root = join(modulesDir, "kernel");
  if (existsSync(root)) walk(root);
  return out;
}

/** Names listed in `modules.builtin` (built into the kernel image: nothing to load). */
export function builtinModules(modulesDir: string): Set<string> {
  const f = join(modulesDir, "modules.builtin");
  if (!existsSync(f)) return new Set();
  return new Set(readFileSync(f, "utf8").split("\n").filter(Boolean).map(moduleName));
}

/** A module file's plain ELF bytes (Debian ships `.ko.xz`; 6.12+ may use `.ko.zst`). */
export async function readModule(path: string, what = "module"): Promise<Uint8Array> {
  const raw = Buffer.from(readInputFile(path, what));
  if (path.endsWith(".gz")) return gunzipSync(raw);
  if (path.endsWith(".xz")) return (await runTool("xz", ["-dc"], { input: raw })).stdout;
  if (path.endsWith(".zst")) return (await runTool("zstd", ["-dcq"], { input: raw })).stdout;
  return raw;
}

/** The `key=value` strings of a module's `.modinfo` section. */
export function modinfo(ko: Uint8Array, source: string): Map<string, string[]> {
  const sec = parseElf(ko, source).section(".modinfo");
  const out = new Map<string, string[]>();
  if (!sec) return out;
  for (const kv of new TextDecoder().decode(sec.data).split("\0")) {
    const eq = kv.indexOf("=");
    if (eq <= 0) continue;
    const k = kv.slice(0, eq);
    out.set(k, [...(out.get(k) ?? []), kv.slice(eq + 1)]);
  }
  return out;
}

export interface ResolvedModule {
  name: string;
  bytes: Uint8Array;
}

/**
 * Resolves `wanted` modules and their `depends=` closure from the kernel's own modules dir (no modules.dep
 * or kmod needed), dependencies first. Built-in modules are skipped.
 */
export async function resolveModules(modulesDir: string, wanted: string[]): Promise<ResolvedModule[]> {
  const index = indexModules(modulesDir);
  const builtin = builtinModules(modulesDir);
  const done = new Set<string>();
  const out: ResolvedModule[] = [];
  const add = async (raw: string, from: string | undefined): Promise<void> => {
    const name = moduleName(raw);
    if (done.has(name)) return;
    done.add(name);
    const path = index.get(name);
    if (!path) {
      if (builtin.has(name) || index.size === 0) return; // built in (or a kernel without modules)
      throw new KfuncKitError(
        "VM",
        `module '${name}'${from ? ` (needed by '${from}')` : ""}: not found in ${modulesDir}`,
        {
          hint: "the kernel must have 9p and virtio (CONFIG_NET_9P_VIRTIO, CONFIG_9P_FS) as modules or built in",
        },
      );
    }
    const bytes = await readModule(path);
    const deps = (modinfo(bytes, path).get("depends") ?? []).join(",").split(",").filter(Boolean);
    for (const d of deps) await add(d, name);
    out.push({ name, bytes });
  };
  for (const w of wanted) await add(w, undefined);
  return out;
}
