/**
 * The published package, as a user gets it: `npm pack` (which runs `prepack`, a clean build of dist/),
 * `npm install <tarball>` into an empty project, then the CLI, an ESM script and a strict TypeScript project
 * there. Everything else tests the repository checkout, which hides a package that ships without dist/.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { compileFixture, REPO_ROOT } from "./helpers/index.ts";

const work = mkdtempSync(join(tmpdir(), "kfunc-pack-"));
const project = join(work, "project");
let files: string[] = [];

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")} (in ${cwd}): exit ${r.status}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

const OFFLINE = ["--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"];

before(() => {
  const packed = JSON.parse(
    run("npm", ["pack", "--json", "--pack-destination", work, ...OFFLINE], REPO_ROOT),
  ) as [{ filename: string; files: Array<{ path: string }> }];
  const info = packed[0];
  files = info.files.map((f) => f.path);
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "empty", private: true, type: "module" }),
  );
  run("npm", ["install", join(work, info.filename), ...OFFLINE], project);
});

after(() => rmSync(work, { recursive: true, force: true }));

test("the tarball holds dist/ (with the guest bundle and declarations) and no tests", () => {
  assert.ok(files.includes("dist/cli/main.js"), "the CLI is compiled");
  assert.ok(files.includes("dist/demo/guest.bundle.js"), "the demo's guest bundle is built");
  assert.ok(files.includes("include/kfunc_kit.h"), "the eBPF header compileBpf adds to -I");
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
    exports: Record<string, string>;
  };
  // TypeScript finds the declarations of an export target next to it (index.js → index.d.ts)
  for (const [sub, target] of Object.entries(pkg.exports)) {
    for (const p of [target, target.replace(/\.js$/, ".d.ts")])
      assert.ok(files.includes(p.replace(/^\.\//, "")), `exports['${sub}'] → ${p} is in the tarball`);
  }
  assert.deepEqual(
    files.filter(
      (f) =>
        f.startsWith("test/") ||
        /\.test\.|tsbuildinfo|\.(o|ko)$/.test(f) ||
        (f.startsWith("examples/") && /\/build\//.test(f)) ||
        // examples ship as sources to read (examples/seed/kfuncs.ts: the seed's kfunc for `kfunc uvm`)
        (!f.startsWith("examples/") && /\.ts$/.test(f.replace(/\.d\.ts$/, ""))),
    ),
    [],
    "no tests, sources, build outputs or build state",
  );
});

test("npx kfunc runs from the installed package: --version and inspect of a clang object", () => {
  assert.match(run("npx", ["--no-install", "kfunc", "--version"], project), /^\d+\.\d+\.\d+/);
  const obj = compileFixture("obj-maps");
  const out = JSON.parse(run("npx", ["--no-install", "kfunc", "inspect", obj, "--json"], project)) as {
    maps: Array<{ name: string }>;
  };
  assert.ok(out.maps.length > 0, "inspect lists the object's maps");
});

test("an ESM script imports kfunc-kit/object and kfunc-kit/kernel and parses an object", () => {
  const obj = compileFixture("obj-maps");
  writeFileSync(
    join(project, "parse.mjs"),
    `import { readFileSync } from "node:fs";
import { parseObject } from "kfunc-kit/object";
import { loadCollection, supports } from "kfunc-kit/kernel";
const spec = parseObject(readFileSync(${JSON.stringify(obj)}), "obj-maps.o");
if (typeof loadCollection !== "function" || typeof supports !== "function") throw new Error("kernel API missing");
console.log(JSON.stringify({ maps: spec.maps.map((m) => m.name) }));
`,
  );
  const out = JSON.parse(run(process.execPath, ["parse.mjs"], project)) as { maps: string[] };
  assert.ok(out.maps.length > 0);
});

test("importing kfunc-kit/object, kfunc-kit/btf or the root loads no koffi", () => {
  // The native addon shows up in the process's memory map once koffi is loaded. The last import is the
  // control: it proves the check sees koffi when it is there.
  writeFileSync(
    join(project, "koffi-free.mjs"),
    `import { readFileSync } from "node:fs";
const mapped = () => readFileSync("/proc/self/maps", "utf8").includes("koffi");
const out = {};
for (const m of ["kfunc-kit/object", "kfunc-kit/btf", "kfunc-kit/elf", "kfunc-kit"]) {
  await import(m);
  out[m] = mapped();
}
await import("koffi").then((k) => k.default.load("libc.so.6"));
out.control = mapped();
console.log(JSON.stringify(out));
`,
  );
  const out = JSON.parse(run(process.execPath, ["koffi-free.mjs"], project)) as Record<string, boolean>;
  assert.equal(out["control"], true, "the check sees koffi once it is loaded");
  assert.deepEqual(out, {
    "kfunc-kit/object": false,
    "kfunc-kit/btf": false,
    "kfunc-kit/elf": false,
    "kfunc-kit": false,
    control: true,
  });
});

test("a strict TypeScript project that imports kfunc-kit/kernel type-checks", () => {
  const dir = join(project, "ts");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        skipLibCheck: false,
        lib: ["ES2023", "ESNext.Disposable"],
        types: ["node"],
        typeRoots: [join(REPO_ROOT, "node_modules", "@types")],
      },
      include: ["main.ts"],
    }),
  );
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(
    join(dir, "main.ts"),
    `import { type Collection, loadCollection, supports } from "kfunc-kit/kernel";
import { parseObject } from "kfunc-kit/object";
import type { Btf } from "kfunc-kit/btf";
import { formatError, NotSupportedError } from "kfunc-kit";
export async function load(bytes: Uint8Array): Promise<Collection> {
  const spec = parseObject(bytes, "x.o");
  const n: number = spec.maps.length;
  const ok: boolean = supports("kfuncCall");
  void n;
  void ok;
  return loadCollection(spec);
}
export const f: (e: unknown) => string = formatError;
export const c = NotSupportedError;
export type B = Btf;
`,
  );
  const tsc = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
  run(process.execPath, [tsc, "-p", "tsconfig.json"], dir);
});
