/**
 * The bpf(2) ABI has one room: src/sys encodes every `union bpf_attr` on the generated layouts
 * (src/sys/uapi.generated.ts). Scanned over src/: no file outside src/sys issues a bpf(2) command itself
 * (imports the raw entry points or the Attr builder, or names a BPF_CMD), and inside src/sys no attr field is
 * written or read at a hand-kept numeric offset.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "../helpers/index.ts";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

const SRC = join(REPO_ROOT, "src");
const SYS = join(SRC, "sys");

/** Imports of the raw bpf(2) entry points or the attr builder. */
const RAW_IMPORT = /import\s*\{([^}]*)\}\s*from\s*"[./]*\/?sys\/(bpf|bpf-fast|attr|libc)\.ts"/g;
/** A dynamic import (or `typeof import`) of those modules: whatever it then calls is a raw bpf(2) call. */
const RAW_DYNAMIC = /import\(\s*"[./]*\/?sys\/(bpf|bpf-fast|attr)\.ts"\s*\)/g;
const RAW_NAMES = new Set(["bpf", "bpfRaw", "bpfAt", "bpfAtAsync", "syscall3", "SYS_BPF", "Attr", "attrEnd"]);

/** Offenders in one file's text outside src/sys: what it does and the line. */
function outsideOffences(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(RAW_IMPORT)) {
    const names = m[1]!.split(",").map(
      (n) =>
        n
          .trim()
          .replace(/^type\s+/, "")
          .split(/\s+as\s+/)[0]!,
    );
    for (const n of names) if (RAW_NAMES.has(n)) out.push(`imports ${n} from src/sys/${m[2]}.ts`);
  }
  for (const m of text.matchAll(RAW_DYNAMIC)) out.push(`imports src/sys/${m[1]}.ts dynamically`);
  const lines = text.split("\n");
  lines.forEach((l, i) => {
    if (/\bBPF_CMD\b/.test(l) && !/^\s*(\*|\/\/)/.test(l))
      out.push(`line ${i + 1} names BPF_CMD: ${l.trim()}`);
  });
  return out;
}

/** DataView/Attr accesses at a numeric literal offset (`setUint32(24, …)`, `.u32(0, …)`). */
const NUMERIC_OFFSET = /\.((set|get)(Big)?(Ui|I)nt(8|16|32|64)|u32|u64|s32|ptr|str)\(\s*\d/;

function insideOffences(text: string): string[] {
  return text
    .split("\n")
    .flatMap((l, i) =>
      NUMERIC_OFFSET.test(l) && !/^\s*(\*|\/\/)/.test(l) ? [`line ${i + 1}: ${l.trim()}`] : [],
    );
}

test("no file outside src/sys issues a bpf(2) command or encodes a bpf_attr itself", () => {
  const found: string[] = [];
  for (const file of sources(SRC)) {
    if (file.startsWith(SYS + "/")) continue;
    for (const o of outsideOffences(readFileSync(file, "utf8")))
      found.push(`${relative(REPO_ROOT, file)}: ${o}`);
  }
  assert.deepEqual(found, [], "call the src/sys wrappers (progLoad, mapCreate, linkCreate, …) instead");
});

test("src/sys's bpf(2) and perf_event_open wrappers write and read attr fields by their generated layouts only", () => {
  const files = readdirSync(SYS).filter((f) => /^(bpf-.*|attr|perf)\.ts$/.test(f) && f !== "bpf-fast.ts");
  assert.ok(files.includes("bpf-prog.ts") && files.includes("bpf-link.ts"), files.join(", "));
  const found: string[] = [];
  for (const f of files)
    for (const o of insideOffences(readFileSync(join(SYS, f), "utf8"))) found.push(`src/sys/${f}: ${o}`);
  assert.deepEqual(found, [], "use a field of src/sys/uapi.generated.ts (Attr.set/ptr, LayoutReader)");
});

test("the scans catch what they forbid", () => {
  assert.deepEqual(
    outsideOffences('import { BPF_CMD, bpf } from "../sys/bpf.ts";\nbpf(BPF_CMD.LINK_CREATE, a);'),
    [
      "imports bpf from src/sys/bpf.ts",
      'line 1 names BPF_CMD: import { BPF_CMD, bpf } from "../sys/bpf.ts";',
      "line 2 names BPF_CMD: bpf(BPF_CMD.LINK_CREATE, a);",
    ],
  );
  assert.deepEqual(outsideOffences('import { Attr } from "../../sys/attr.ts";'), [
    "imports Attr from src/sys/attr.ts",
  ]);
  assert.deepEqual(outsideOffences('import { mapCreate } from "../sys/bpf-map.ts";'), []);
  assert.deepEqual(outsideOffences('const sys = await import("../sys/bpf.ts");'), [
    "imports src/sys/bpf.ts dynamically",
  ]);
  assert.deepEqual(outsideOffences('const p = await import("../sys/bpf-prog.ts");'), []);
  assert.deepEqual(insideOffences("  v.setUint32(24, flags, true);\n  v.setUint32(F.flags.off, x, true);"), [
    "line 1: v.setUint32(24, flags, true);",
  ]);
  assert.deepEqual(insideOffences("  new Attr(144).u32(0, a.type).ptr(8, a.insns);"), [
    "line 1: new Attr(144).u32(0, a.type).ptr(8, a.insns);",
  ]);
});
