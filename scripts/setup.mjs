#!/usr/bin/env node
// One set-up step for `npm test` and `npm run demo`: npm dependencies, the Debian packages kfunc-kit
// drives (when root on Debian/Ubuntu), and the compiled CLI in dist/. Quiet when nothing is missing.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Debian packages and the command each provides (checked by dpkg status). */
export const DEBIAN_PACKAGES = [
  "clang", // eBPF C compiler (-target bpf)
  "llvm", // llvm-objcopy, llvm-strip
  "libbpf-dev", // bpf_helpers.h, bpf_tracing.h, and libbpf for the benchmarks' C peer
  "bpftool", // peer tool in benchmarks and leftover checks in tests
  "dwarves", // pahole: module BTF
  "gcc", // kernel modules (same gcc-12 as Debian's kernels)
  "make",
  "libc6-dev",
  "libelf-dev",
  "qemu-system-x86", // the VM runner
  "busybox-static", // the VM's initramfs and in-guest insmod/rmmod
  "cpio",
  "zstd", // 6.12 kernel images
  "xz-utils", // 6.1 kernel images and .ko.xz modules
  "bc",
  "systemtap-sdt-dev", // <sys/sdt.h>: the USDT probes of the usdt tests' C program
  "clang-19", // the kptr global-data fixture (clang 14's BTF drops __kptr type tags)
];

function log(msg) {
  process.stderr.write(`setup: ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n").slice(-20).join("\n");
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status}):\n${out}`);
  }
  return r.stdout;
}

function npmDeps() {
  const marker = join(root, "node_modules", ".package-lock.json");
  const lock = join(root, "package-lock.json");
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log("installing npm dependencies");
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: root });
}

function missingDebianPackages() {
  const missing = [];
  for (const pkg of DEBIAN_PACKAGES) {
    const r = spawnSync("dpkg-query", ["-W", "-f=$" + "{Status}", pkg], { encoding: "utf8" });
    if (r.status !== 0 || !r.stdout.includes("install ok installed")) missing.push(pkg);
  }
  return missing;
}

function debianDeps() {
  if (!existsSync("/etc/debian_version")) {
    log(
      "not a Debian/Ubuntu system: install clang, llvm, libbpf headers, bpftool, pahole, qemu-system-x86 and busybox yourself",
    );
    return;
  }
  const missing = missingDebianPackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    log(`missing Debian packages: ${missing.join(" ")}\n  fix: sudo apt-get install ${missing.join(" ")}`);
    return;
  }
  log(`installing Debian packages: ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  run("apt-get", ["update", "-qq"], { env });
  run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { env });
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    const t = entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

/** Compiles src/ into dist/ when it is out of date (`force`: always; `clean`: from an empty dist/). */
function buildDist({ force = false, clean = false } = {}) {
  if (clean) rmSync(join(root, "dist"), { recursive: true, force: true });
  const info = join(root, "dist", ".tsbuildinfo");
  const built = existsSync(info) ? statSync(info).mtimeMs : 0;
  if (
    !force &&
    built >= newestMtime(join(root, "src")) &&
    built >= statSync(join(root, "tsconfig.json")).mtimeMs
  )
    return;
  log("compiling TypeScript (dist/)");
  try {
    execFileSync(
      process.execPath,
      [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
  } catch (e) {
    throw new Error(`TypeScript build failed:\n${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}`);
  }
  // tsc leaves .tsbuildinfo untouched when no file's content changed (a checkout that only moved mtimes, as
  // switching branches and back does); the rule above, and test/hardening/cli.ts's, read its mtime
  if (existsSync(info)) {
    const now = new Date();
    utimesSync(info, now, now);
  }
  checkDist();
  bundleGuest();
  bundleCli();
}

/** Every relative import in dist/ must name a .js file (tsc leaves `.ts` in some downlevelled code). */
export function checkDist(dir = join(root, "dist")) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) checkDist(p);
    else if (entry.name.endsWith(".js")) {
      const m = /(?:import\(|from )"(\.{1,2}\/[^"]*\.ts)"/.exec(readFileSync(p, "utf8"));
      if (m) throw new Error(`TypeScript build: ${p} imports '${m[1]}' (a .ts path in compiled output)`);
    }
  }
}

/**
 * The in-VM scripts (the demo's, `kfunc test`'s) as one file each: the guest reads the host's files over 9p under TCG, where every
 * file opened costs milliseconds; one bundle instead of ~80 modules saves seconds per run.
 */
export function bundleGuest() {
  for (const dir of ["demo", "testing"]) bundleOne(dir);
  // `kfunc test`'s runner also as CommonJS: the VM starts it through a V8 code cache (src/testing/code-cache.ts)
  run(join(root, "node_modules", ".bin", "esbuild"), [
    join(root, "dist", "testing", "guest.js"),
    "--bundle",
    "--platform=node",
    "--format=cjs",
    "--target=node20",
    "--external:koffi",
    "--define:import.meta.url=__kfuncUrl",
    '--banner:js=const __kfuncUrl = require("node:url").pathToFileURL(__filename).href;',
    // no comments: one non-ASCII character in one makes the whole source a two-byte string (as bundle-cli.mjs)
    "--minify-whitespace",
    `--outfile=${join(root, "dist", "testing", "guest.bundle.cjs")}`,
    "--log-level=warning",
  ]);
}

function bundleOne(dir) {
  run(join(root, "node_modules", ".bin", "esbuild"), [
    join(root, "dist", dir, "guest.js"),
    "--bundle",
    "--platform=node",
    "--format=esm",
    "--target=node20",
    "--external:koffi",
    '--banner:js=import { createRequire as __kfuncRequire } from "node:module"; const require = __kfuncRequire(import.meta.url);',
    "--minify-whitespace",
    `--outfile=${join(root, "dist", dir, "guest.bundle.js")}`,
    "--log-level=warning",
  ]);
}

/** The CLI as one CommonJS bundle with its code-cache loader, dist/cli/bundle/ (scripts/bundle-cli.mjs). */
export function bundleCli() {
  run(process.execPath, [join(root, "scripts", "bundle-cli.mjs")]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // `--build` (npm run build, prepack): only compile; `--clean`: from an empty dist/, so nothing stale ships
  const args = process.argv.slice(2);
  try {
    if (args.includes("--build")) {
      buildDist({ force: true, clean: args.includes("--clean") });
      process.exit(0);
    }
    npmDeps();
    debianDeps();
    buildDist();
  } catch (e) {
    log(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}
