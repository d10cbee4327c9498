#!/usr/bin/env node
// `npm run build`'s last step (scripts/setup.mjs runs it after tsc): the CLI as one CommonJS file,
// dist/cli/bundle/kfunc.cjs, and the loader that runs it through a V8 code cache, dist/cli/bundle/start.cjs
// (src/cli/bundle-loader.ts says why). koffi stays external (it loads a native addon relative to its own
// package), and so do the tools the verbs load from the user's node_modules at run time (esbuild, tsx).
import { createHash } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, transformSync } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const out = join(dist, "cli", "bundle");
const bundle = join(out, "kfunc.cjs");

/**
 * A module that finds files next to itself (include/, the demo's seed dir, the guest bundles) must see its
 * own dist/ path, not the bundle's: each `import.meta.url` becomes its file's URL, relative to the bundle.
 */
const ownUrl = {
  name: "own-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (args) => {
      const src = readFileSync(args.path, "utf8");
      if (!args.path.startsWith(dist) || !src.includes("import.meta.url")) return undefined;
      const rel = JSON.stringify(relative(out, args.path));
      const { code } = transformSync(src, {
        define: { "import.meta.url": "__ownUrl" },
        format: "esm",
        loader: "js",
      });
      return {
        contents: `const __ownUrl = new URL(${rel}, require("node:url").pathToFileURL(__filename)).href;\n${code}`,
        loader: "js",
      };
    });
  },
};

rmSync(out, { recursive: true, force: true });
const { metafile } = await build({
  entryPoints: [join(dist, "cli", "bundle-entry.js")],
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  outfile: bundle,
  external: ["koffi", "esbuild", "tsx", "tsx/*"],
  plugins: [ownUrl],
  logLevel: "warning",
  metafile: true,
  // no comments (names stay): a single non-ASCII character in one makes the whole source a two-byte string,
  // slower to read and to scan; and less to read at every start
  minifyWhitespace: true,
});
// code in a vm.Script cannot import() on Node 20 (src/host/code-cache.ts): every dynamic import must be
// one esbuild resolved into the bundle
for (const [file, input] of Object.entries(metafile.inputs))
  for (const i of input.imports)
    if (i.kind === "dynamic-import" && i.external)
      throw new Error(
        `CLI bundle: ${file} has import(${JSON.stringify(i.path)}), which the bundle cannot run; import it statically (or through uvm/host.ts's setModuleImporter)`,
      );
// …and none esbuild could not follow (a computed specifier stays `import(x)` in the output), but for
// uvm/host.ts's default importer, which the loader replaces
const text = readFileSync(bundle, "utf8").replace(/\bimporter\s*=\s*\(?specifier\)?\s*=>\s*import\(/, "");
const left = /(?<![\w$.])import\(/.exec(text);
if (left)
  throw new Error(
    `CLI bundle: a dynamic import() is left in ${bundle} (…${text.slice(left.index - 80, left.index + 40)}…); route it through uvm/host.ts's setModuleImporter`,
  );
if (/[\u0080-\uffff]/.test(text))
  throw new Error(
    `CLI bundle: ${bundle} is not ASCII (esbuild escapes strings, not regular expressions: write \\u…)`,
  );
const hash = createHash("sha256").update(readFileSync(bundle)).digest("hex").slice(0, 16);
const { cliLoaderSource } = await import(pathToFileURL(join(dist, "cli", "bundle-loader.js")).href);
writeFileSync(join(out, "start.cjs"), cliLoaderSource(hash));
