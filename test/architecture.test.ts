/**
 * The layer rule of docs/architecture.md, enforced: every static, dynamic (`await import(…)`) and type
 * (`import("…").T`) import in src/ goes to the same directory or to a lower layer of the table in that
 * document. The table is parsed from the document, so the document stays true.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { test } from "node:test";
import ts from "typescript";
import { REPO_ROOT } from "./helpers/index.ts";

interface Layer {
  rank: number;
  /** "src/kernel" (a directory) or "src/errors.ts" (a file). */
  path: string;
  /** The row's "may touch the OS?" column is exactly "no". */
  pure: boolean;
}

/** The rows of the layer table: `| <rank> | `src/a`, `src/b.ts` | job | may touch the OS? |`. */
export function parseLayerTable(markdown: string): Layer[] {
  const layers: Layer[] = [];
  for (const line of markdown.split("\n")) {
    const m = /^\|\s*(\d+)\s*\|([^|]+)\|/.exec(line);
    if (!m) continue;
    const cells = line.split("|").map((c) => c.trim());
    const pure = cells.length >= 6 && cells[4] === "no";
    for (const p of m[2]!.matchAll(/`(src\/[^`]+)`/g)) layers.push({ rank: Number(m[1]), path: p[1]!, pure });
  }
  return layers;
}

/** The layer a source file belongs to: its file row, else its top directory's row. */
function layerOf(layers: Layer[], file: string): Layer | undefined {
  return (
    layers.find((l) => l.path === file) ??
    layers.find((l) => file.startsWith(`${l.path}/`) && !l.path.endsWith(".ts"))
  );
}

/** The unit a file is in: "src/kernel" for src/kernel/attach/x.ts, the file itself at the top of src/. */
function unitOf(file: string): string {
  const parts = file.split("/");
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : file;
}

/** Every import of a TypeScript source: static, re-export, dynamic and `import("…")` types. */
function allImportsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** Every relative import of a TypeScript source. */
export function importsOf(text: string): string[] {
  return allImportsOf(text).filter((f) => f.startsWith("."));
}

/**
 * What the pure rows (OS column "no") import that is not pure: a package or `node:*` module, or a file of a
 * row that may touch the OS (src/sys, src/kernel, …), whatever its rank.
 */
export function impureImports(layers: Layer[], files: Map<string, string>): string[] {
  const problems: string[] = [];
  for (const [file, text] of files) {
    if (!layerOf(layers, file)?.pure) continue;
    for (const spec of allImportsOf(text)) {
      if (!spec.startsWith(".")) {
        problems.push(`${file} → ${spec}: a pure layer imports a package`);
        continue;
      }
      const target = normalize(join(dirname(file), spec));
      const to = layerOf(layers, target);
      if (to && !to.pure) problems.push(`${file} → ${target}: a pure layer imports ${to.path}`);
    }
  }
  return problems;
}

/** The upward imports of `files` ({path: text}) against `layers`, as "from → to (rank a → rank b)". */
export function upwardImports(layers: Layer[], files: Map<string, string>): string[] {
  const problems: string[] = [];
  for (const [file, text] of files) {
    const from = layerOf(layers, file);
    if (!from) {
      problems.push(`${file}: not in the layer table`);
      continue;
    }
    for (const spec of importsOf(text)) {
      const target = normalize(join(dirname(file), spec));
      if (unitOf(target) === unitOf(file)) continue;
      const to = layerOf(layers, target);
      if (!to) problems.push(`${file} → ${target}: not in the layer table`);
      else if (to.rank >= from.rank)
        problems.push(
          `${file} → ${target}: layer ${from.rank} (${from.path}) imports layer ${to.rank} (${to.path})`,
        );
    }
  }
  return problems;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

const doc = readFileSync(join(REPO_ROOT, "docs", "architecture.md"), "utf8");

test("docs/architecture.md has a layer table that names every directory of src/", () => {
  const layers = parseLayerTable(doc);
  assert.ok(layers.length >= 10, `found ${layers.length} rows`);
  const units = new Set(sources(join(REPO_ROOT, "src")).map((f) => unitOf(relative(REPO_ROOT, f))));
  const missing = [...units].filter((u) => !layerOf(layers, u.endsWith(".ts") ? u : `${u}/index.ts`));
  assert.deepEqual(missing, [], "add a row to the table for each of these");
});

test("every import in src/ points to the same directory or a lower layer", () => {
  const files = new Map(
    sources(join(REPO_ROOT, "src")).map((f) => [relative(REPO_ROOT, f), readFileSync(f, "utf8")] as const),
  );
  assert.deepEqual(upwardImports(parseLayerTable(doc), files), []);
});

test("the pure rows (elf, btf, object, link, …) import nothing that touches the OS", () => {
  const layers = parseLayerTable(doc);
  for (const dir of ["src/elf", "src/btf", "src/object", "src/link"])
    assert.ok(layers.find((l) => l.path === dir)?.pure, `${dir} is a pure row`);
  const files = new Map(
    sources(join(REPO_ROOT, "src")).map((f) => [relative(REPO_ROOT, f), readFileSync(f, "utf8")] as const),
  );
  assert.deepEqual(impureImports(layers, files), []);
});

test("the purity check sees a pure row importing src/sys, a lower impure row, or a package", () => {
  const layers = parseLayerTable(
    "| 1 | `src/h` | job | runs programs |\n| 2 | `src/p` | job | no |\n| 2 | `src/s` | job | yes |\n| 3 | `src/q` | job | no |\n",
  );
  const files = new Map([
    [
      "src/p/a.ts",
      'import { x } from "../h/x.ts";\nimport { readFileSync } from "node:fs";\nimport "./b.ts";',
    ],
    ["src/q/c.ts", 'import type { S } from "../s/s.ts";\nimport { a } from "../p/a.ts";'],
    ["src/s/s.ts", 'import { readFileSync } from "node:fs";'],
  ]);
  assert.deepEqual(impureImports(layers, files), [
    "src/p/a.ts → src/h/x.ts: a pure layer imports src/h",
    "src/p/a.ts → node:fs: a pure layer imports a package",
    "src/q/c.ts → src/s/s.ts: a pure layer imports src/s",
  ]);
});

test("the check sees static, dynamic and type imports upward, and lets same-directory ones pass", () => {
  const layers = parseLayerTable("| 1 | `src/a` |\n| 2 | `src/b`, `src/c.ts` |\n");
  const files = new Map([
    ["src/a/x.ts", 'import { y } from "./y.ts";\nimport type { B } from "../b/index.ts";'],
    ["src/a/sub/z.ts", 'const c = await import("../../c.ts");\nlet t: import("../../b/t.ts").T;'],
    ["src/b/ok.ts", 'export * from "../a/x.ts";\nimport "./side.ts";'],
    ["src/c.ts", 'import { q } from "../src/b/q.ts";'],
  ]);
  assert.deepEqual(upwardImports(layers, files), [
    "src/a/x.ts → src/b/index.ts: layer 1 (src/a) imports layer 2 (src/b)",
    "src/a/sub/z.ts → src/c.ts: layer 1 (src/a) imports layer 2 (src/c.ts)",
    "src/a/sub/z.ts → src/b/t.ts: layer 1 (src/a) imports layer 2 (src/b)",
    "src/c.ts → src/b/q.ts: layer 2 (src/c.ts) imports layer 2 (src/b)",
  ]);
});
