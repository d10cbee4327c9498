/**
 * Compiling generated skeletons with the real TypeScript compiler (`tsc --strict`) in a temp project whose
 * tsconfig maps `kfunc-kit` and `kfunc-kit/*` to this checkout's src/, so no build (dist/) is needed and a
 * stale one cannot be tested by mistake.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, tempDir } from "../helpers/index.ts";

export const TSC = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");

export interface TscResult {
  status: number | null;
  /** tsc's diagnostics, one per line (`file.ts(3,5): error TS2345: …`). */
  output: string;
  /** The diagnostics of one file. */
  errorsIn(file: string): string[];
}

/** A temp dir holding a `"type": "module"` package.json and a strict tsconfig for `files`. */
export function tscProject(files: Record<string, string>): string {
  const dir = tempDir("kfunc-kit-skel-");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
  const compilerOptions = {
    target: "ES2022",
    lib: ["ES2023", "ESNext.Disposable"],
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    verbatimModuleSyntax: true,
    allowImportingTsExtensions: true,
    noEmit: true,
    skipLibCheck: true,
    types: ["node"],
    typeRoots: [join(REPO_ROOT, "node_modules", "@types")],
    paths: {
      "kfunc-kit": [join(REPO_ROOT, "src", "index.ts")],
      "kfunc-kit/*": [join(REPO_ROOT, "src", "*", "index.ts")],
    },
  };
  const names = Object.keys(files).filter((f) => f.endsWith(".ts"));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: names }, null, 2));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Runs tsc on a project made by tscProject. */
export function runTsc(dir: string): TscResult {
  const r = spawnSync(process.execPath, [TSC, "-p", dir, "--pretty", "false"], {
    encoding: "utf8",
    cwd: dir,
  });
  const output = `${r.stdout}${r.stderr}`;
  const lines = output.split("\n").filter((l) => l.trim());
  return {
    status: r.status,
    output,
    errorsIn: (file) => lines.filter((l) => l.startsWith(`${file}(`)),
  };
}
