/**
 * Every repository path that the docs (docs/*.md, README.md) and the comments in src/ cite exists, so a
 * rename cannot leave the documentation pointing at nothing. A citation is a token starting with one of the
 * repository's top directories; it is checked when its parent directory exists here (kernel and libbpf paths
 * such as include/uapi/linux/bpf.h are not ours). Placeholders and globs (`<release>`, `*`), build output
 * (what .gitignore ignores) and test-file filters (`npm run test:only -- test/module/zoo-vm`) pass. Absolute
 * paths of the development machine must not be cited at all.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "./helpers/index.ts";

const TOP = ["src", "test", "docs", "scripts", "bench", "examples", "include", "bin"];
const CITED = new RegExp(`(?<![\\w./-])((?:${TOP.join("|")})/[A-Za-z0-9_.+/-]*[A-Za-z0-9_])(\\S*)`, "g");

/** Paths of other projects that share a top directory name with ours. */
const FOREIGN = new Map([
  ["src/libbpf.c", "libbpf's"],
  ["src/relo_core.c", "libbpf's"],
  ["scripts/Makefile.modfinal", "the kernel's"],
]);

function files(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name), ext) : e.name.endsWith(ext) ? [join(dir, e.name)] : [],
  );
}

function ignored(path: string): boolean {
  return spawnSync("git", ["check-ignore", "-q", path], { cwd: REPO_ROOT }).status === 0;
}

/** Whether `path` names something in the repository (or a file-name prefix of one, as test filters do). */
function exists(path: string): boolean {
  const abs = join(REPO_ROOT, path);
  if (existsSync(abs)) return true;
  const dir = dirname(abs);
  return existsSync(dir) && readdirSync(dir).some((f) => f.startsWith(basename(abs)));
}

/** The cited paths of one text that do not exist: "file:line: path". */
function missingCitations(file: string, text: string, commentsOnly: boolean): string[] {
  const out: string[] = [];
  text.split("\n").forEach((line, i) => {
    if (commentsOnly && !/^\s*(\*|\/\/|\/\*)|\/\/ /.test(line)) return;
    for (const m of line.matchAll(CITED)) {
      const [, path, rest] = m as unknown as [string, string, string];
      if (/[*<{]/.test(rest) || FOREIGN.has(path)) continue;
      if (!existsSync(join(REPO_ROOT, dirname(path)))) continue; // not a path of this repository
      if (exists(path) || ignored(path) || ignored(`${path}/`)) continue;
      out.push(`${file}:${i + 1}: ${path}`);
    }
  });
  return out;
}

function citations(): Array<{ file: string; text: string; commentsOnly: boolean }> {
  const docs = [...files(join(REPO_ROOT, "docs"), ".md"), join(REPO_ROOT, "README.md")];
  return [
    ...docs.map((f) => ({
      file: relative(REPO_ROOT, f),
      text: readFileSync(f, "utf8"),
      commentsOnly: false,
    })),
    ...files(join(REPO_ROOT, "src"), ".ts").map((f) => ({
      file: relative(REPO_ROOT, f),
      text: readFileSync(f, "utf8"),
      commentsOnly: true,
    })),
  ];
}

test("every repository path cited in docs/, README.md and src/ comments exists", () => {
  const missing = citations().flatMap((c) => missingCitations(c.file, c.text, c.commentsOnly));
  assert.deepEqual(missing, []);
});

test("no doc or comment cites an absolute path of the development machine", () => {
  const found = citations().flatMap((c) =>
    c.text
      .split("\n")
      .flatMap((l, i) =>
        /(?<![\w.])\/(work|root|home)\/\w/.test(l) ? [`${c.file}:${i + 1}: ${l.trim()}`] : [],
      ),
  );
  assert.deepEqual(found, []);
});

test("the check flags a missing repository path and passes kernel paths, globs and placeholders", () => {
  const text = [
    "see src/no-such-file.ts and test/object/uapi.test.ts",
    "kernel: include/uapi/linux/bpf.h, libbpf src/libbpf.c",
    "fixtures test/fixtures/obj-*.bpf.c, output examples/seed/build/<release>/hello.ko",
    "filter: npm run test:only -- test/module/zoo-vm",
  ].join("\n");
  assert.deepEqual(missingCitations("x.md", text, false), [
    "x.md:1: src/no-such-file.ts",
    "x.md:1: test/object/uapi.test.ts",
  ]);
});
