/**
 * Class 1 of the reliability probe on the host (P2-20, P2-21, P3-14…16 without a boot), and the BTF
 * guarantee's checks of the kbuild dir's vmlinux (P6-03, P6-04). User text is data: make reaches a
 * hostile module dir through a symlink kfunc-kit names, and every user value in the guest's run script
 * sits inside single quotes made by one quoting function, whose round trip through /bin/sh (the shell the
 * guest runs: the host's) is checked here with every hostile class. A canary file proves nothing ran.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isKfuncKitError } from "../../src/errors.ts";
import { buildModule, ensureModuleBtf } from "../../src/module/index.ts";
import { makeSafeDir } from "../../src/module/kbuild.ts";
import { type ModuleTarget, resolveTarget } from "../../src/module/target.ts";
import { runScript, shq } from "../../src/qemu/guest-init.ts";
import { DEFAULT_KERNEL, prepareKernel } from "../../src/qemu/index.ts";
import { REPO_ROOT } from "../helpers/index.ts";
import { kfunc } from "./cli.ts";

let T: string;
let CANARY: string;
let target: ModuleTarget;

before(async () => {
  T = mkdtempSync(join(tmpdir(), "kfunc-harden-paths-"));
  CANARY = join(T, "PWNED");
  target = await resolveTarget(DEFAULT_KERNEL);
});
after(() => {
  // the symlinks make reached our hostile dirs through
  for (const e of readdirSync(tmpdir()))
    if (e.startsWith("kfunc-kbuild-")) {
      const link = join(tmpdir(), e);
      try {
        if (readlinkSync(link).startsWith(T)) rmSync(link);
      } catch {}
    }
  rmSync(T, { recursive: true, force: true });
});

/** One of each hostile class; each would create the canary if it ran as code. */
const hostile = (canary: string): string[] => [
  `$(touch ${canary})`,
  `\`touch ${canary}\``,
  `x;touch ${canary}`,
  `x && touch ${canary} #`,
  `it's "quoted" '' ""`,
  "two  spaces",
  "new\nline",
  "tab\there",
  "*",
  "-n",
  "-e x",
  "back\\slash \\n",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax, taken literally
  "$HOME ${IFS} $1 $@",
  "!bang ~tilde %pct",
  "ünï ✓ \ufffd",
  "",
];

test("shq: every hostile string comes back byte-exact through /bin/sh, and nothing runs", () => {
  for (const s of hostile(CANARY)) {
    const r = spawnSync("/bin/sh", ["-c", `printf '%s' ${shq(s)}`], { cwd: T });
    assert.equal(r.status, 0, JSON.stringify(s));
    assert.equal(r.stdout.toString("utf8"), s);
    // as one argument, not split or globbed
    const n = spawnSync("/bin/sh", ["-c", `set -- ${shq(s)}; echo $#`], { cwd: T, encoding: "utf8" });
    assert.equal(n.stdout.trim(), "1", JSON.stringify(s));
  }
  assert.throws(() => shq("nul\0byte"), /NUL/);
  assert.ok(!existsSync(CANARY), "the canary was created");
});

/** Positions outside single quotes (a small POSIX sh scanner: '…', "…" with \\ escapes, \\x). */
function unquotedMarkers(script: string, marker: string): number[] {
  const bad: number[] = [];
  let i = 0;
  let inDouble = false;
  while (i < script.length) {
    if (script.startsWith(marker, i)) bad.push(i);
    const c = script[i]!;
    if (!inDouble && c === "'") {
      const end = script.indexOf("'", i + 1);
      assert.ok(end > 0, "unterminated single quote");
      i = end + 1;
      continue;
    }
    if (c === "\\") {
      i += 2;
      continue;
    }
    if (c === '"') inDouble = !inDouble;
    i++;
  }
  return bad;
}

test("the guest run script: every value the user names (insmod path, cwd, env, argv) is single-quoted data", () => {
  const M = "@@USER@@";
  const values = hostile(CANARY).map((h) => `${M}${h}`);
  const script = runScript({
    command: values,
    cwd: `/tmp/${M}cwd$(id)\`id\`;'"*`,
    env: Object.fromEntries(values.map((v, i) => [`HOSTILE_${i}`, v])),
    insmod: values.map((v, i) => ({ file: `${i}.ko`, hostPath: `/x/${v}.ko` })),
  });
  assert.deepEqual(unquotedMarkers(script, M), []);
  // guest file names are kfunc-kit's own, never the user's
  assert.match(script, /insmod \/run\/kfunc\/mods\/0\.ko /);
  assert.throws(() =>
    runScript({ command: ["true"], cwd: "/", env: {}, insmod: [{ file: "a b.ko", hostPath: "/x" }] }),
  );
  const n = spawnSync("/bin/sh", ["-n"], { input: script, encoding: "utf8" });
  assert.equal(n.status, 0, n.stderr);
});

test("makeSafeDir: a make-safe path as it is; anything else through a stable kfunc-kit-named symlink", () => {
  assert.equal(makeSafeDir("/a/b-c_d/6.12.95+deb12-amd64"), "/a/b-c_d/6.12.95+deb12-amd64");
  const dir = join(T, "mk $(HOME) x");
  mkdirSync(dir);
  const link = makeSafeDir(dir);
  assert.match(link, /^[A-Za-z0-9_./+-]+$/);
  assert.equal(readlinkSync(link), dir);
  assert.equal(makeSafeDir(dir), link);
  rmSync(link);
});

test("P2-20/P2-21 a module dir with make syntax, spaces, quotes, globs and a leading '-' builds literally", async () => {
  const canary = join(T, "PWNED_MAKE");
  const name = `-mkinj$(shell\ttouch\t${canary}) $(HOME) sp'q"\`touch ${canary}\`;*`;
  const dir = join(T, "mods", name);
  mkdirSync(dir, { recursive: true });
  for (const f of ["hello.c", "Kbuild"]) copyFileSync(join(REPO_ROOT, "examples/seed", f), join(dir, f));
  const r = await buildModule(dir, { kernel: DEFAULT_KERNEL });
  assert.equal(r.ko, join(dir, "build", target.release, "hello.ko"));
  assert.ok(existsSync(r.ko));
  assert.deepEqual(r.sets, [{ name: "bpf_kfunc_example_ids_set", count: 1 }]);
  assert.ok(!existsSync(canary), "make ran the user's text");
  assert.ok(!existsSync(join(T, "mods", "-mkinj")), "make expanded the path");
  // P1-23: the header from the default base is the module's own kernel's, not the host's
  const h = await kfunc(["module", "header", r.ko]);
  assert.equal(h.status, 0, h.stderr);
  assert.match(h.stdout, /^extern u64 bpf_kfunc_call_test\(u32 a, u64 b, u32 c, u64 d\) __ksym;$/m);
  // a compile error in such a dir names the user's file, and the hint's make command can be pasted
  writeFileSync(
    join(dir, "hello.c"),
    `${readFileSync(join(dir, "hello.c"), "utf8")}\nint broken = undeclared_thing;\n`,
  );
  await assert.rejects(buildModule(dir, { kernel: DEFAULT_KERNEL }), (e: unknown) => {
    assert.ok(isKfuncKitError(e));
    assert.ok(e.message.includes(`${join(dir, "hello.c")}:`), e.message);
    return true;
  });
  assert.ok(!existsSync(canary));
});

/** The target's kbuild dir with every entry a symlink, and `vmlinux` a file of ours. */
function shadowHeaders(name: string, vmlinux: Uint8Array | undefined): string {
  const shadow = join(T, name);
  mkdirSync(shadow);
  for (const e of readdirSync(target.headersDir))
    if (e !== "vmlinux") symlinkSync(join(target.headersDir, e), join(shadow, e));
  if (vmlinux) writeFileSync(join(shadow, "vmlinux"), vmlinux);
  return shadow;
}

test("P6-03/P6-04 the guarantee replaces a kbuild dir's vmlinux that is not the target's BTF (stale or truncated)", async () => {
  assert.ok(target.btf);
  const mine = readFileSync(target.btf);
  const other = await prepareKernel("debian:bookworm");
  for (const [name, bytes, why] of [
    ["stale", readFileSync(other.btf), /differs from the target's/],
    ["truncated", mine.subarray(0, 100_000), /truncated/],
  ] as const) {
    const shadow = shadowHeaders(`hdr-${name}`, bytes);
    const g = await ensureModuleBtf({ ...target, headersDir: shadow });
    assert.ok(
      g.actions.some((a) => a.startsWith(`replaced ${join(shadow, "vmlinux")}`) && why.test(a)),
      g.actions.join("\n"),
    );
    assert.ok(readFileSync(join(shadow, "vmlinux")).equals(mine));
  }
  // the right BTF is left alone
  const same = shadowHeaders("hdr-same", mine);
  assert.deepEqual((await ensureModuleBtf({ ...target, headersDir: same })).actions, []);
});

test("P6-04 with the guarantee off, a corrupt vmlinux fails with pahole's own message, not only make's", async () => {
  assert.ok(target.btf);
  const shadow = shadowHeaders("hdr-corrupt", readFileSync(target.btf).subarray(0, 100_000));
  const dir = join(T, "seed");
  cpSync(join(REPO_ROOT, "examples/seed"), dir, { recursive: true, filter: (s) => !s.includes("/build") });
  await assert.rejects(buildModule(dir, { kernel: shadow, btfGuarantee: false }), (e: unknown) => {
    assert.ok(isKfuncKitError(e));
    assert.match(e.message, /failed to parse base BTF|Failed to parse base BTF|pahole|btf_encoder|libbpf/i);
    return true;
  });
});
