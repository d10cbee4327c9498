/**
 * The reliability probe's held `kfunc module build` cases (P2-01…13, 15, 17, 18, 19, 22) and the held
 * module-BTF cases of section 6 (P6-01, 02, 05, 06), replayed through the CLI with the probe's module
 * (`mk_kfuncs.c` with mk_add and mk_two) and its kfunc.json variants: the exit code and the message's key
 * phrase, and for the shell-metacharacter names a canary that proves nothing ran. Section 6 damages the
 * headers dir of a private copy of the cached kernel (held-env.ts privateCache), never the shared cache.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { type PreparedKernel, prepareKernel } from "../../src/qemu/index.ts";
import { REPO_ROOT } from "../helpers/index.ts";
import { all, type CliResult, kfunc } from "./cli.ts";
import { headersDir, privateCache } from "./held-env.ts";

let T: string;
let kernel: PreparedKernel;

const BODY = `#include "kfunc_module.h"
__bpf_kfunc_start_defs();
__bpf_kfunc u64 mk_add(u32 a, u64 b) { return a + b; }
__bpf_kfunc u64 mk_two(u32 a) { return a * 2; }
__bpf_kfunc_end_defs();
`;
const BASE = {
  name: "mk_ok",
  sources: ["mk_kfuncs.c"],
  kfuncs: ["mk_add", "mk_two"],
  programTypes: ["TRACING", "SYSCALL"],
};

before(async () => {
  kernel = await prepareKernel();
  // one level down in a fresh dir, so that P2-09's "../../x" lands in a dir of this test's own (a /tmp/x
  // that something else made must not fail it)
  T = join(mkdtempSync(join(tmpdir(), "kfunc-harden-held-mods-")), "t");
  mkdirSync(T);
});
after(() => rmSync(dirname(T), { recursive: true, force: true }));

/** A module dir `$T/mods/<name>` with the probe's body (or `body`) and a config (object or raw text). */
function mod(name: string, config: object | string, body = BODY): string {
  const dir = join(T, "mods", name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "kfunc.json"), typeof config === "string" ? config : JSON.stringify(config));
  writeFileSync(join(dir, "mk_kfuncs.c"), body);
  return dir;
}

function clear(r: CliResult, status: number, pattern: RegExp): string | undefined {
  const what = `kfunc ${r.args.join(" ")}`;
  if (/internal error|please report|\n\s+at .*:\d+:\d+\)?\n/.test(r.stderr)) return `${what}:\n${r.stderr}`;
  if (r.status !== status) return `${what}: exit ${r.status}, expected ${status}:\n${r.stderr}`;
  if (!pattern.test(r.stderr)) return `${what}: the message does not match ${pattern}:\n${r.stderr}`;
  return undefined;
}

/** Config cases refused before kbuild: [id, dir, pattern]; all exit 1 unless given. */
async function refused(cases: [string, string, RegExp, number?][]): Promise<void> {
  const rs = await all(
    cases.map(
      ([, dir]) =>
        () =>
          kfunc(["module", "build", dir, "--json"]),
    ),
  );
  assert.deepEqual(
    rs
      .map((r, i) => {
        const why = clear(r, cases[i]![3] ?? 1, cases[i]![2]);
        return why && `${cases[i]![0]}: ${why}`;
      })
      .filter(Boolean),
    [],
  );
}

test("P2-01…P2-04, P2-06, P2-07 bad kfunc.json: refused by key with the fix, before kbuild", async () => {
  const trailing = `${JSON.stringify(BASE).slice(0, -1)},}`;
  await refused([
    [
      "P2-01",
      mod("json-syntax", trailing),
      /kfunc\.json: not valid JSON[\s\S]*no comments or trailing commas/,
    ],
    [
      "P2-02",
      mod("unknown-key", { ...BASE, programTypez: ["XDP"] }),
      /'programTypez': unknown key[\s\S]*known keys: name, description/,
    ],
    [
      "P2-03",
      mod("unknown-kfunc-key", { ...BASE, kfuncs: [{ name: "mk_add", flag: ["ACQUIRE"] }, "mk_two"] }),
      /'kfuncs\[0\]\.flag': unknown key/,
    ],
    [
      "P2-04",
      mod("no-body", { ...BASE, kfuncs: ["mk_add", "mk_three"] }),
      /kfunc 'mk_three' not defined in mk_kfuncs\.c/,
    ],
    [
      "P2-06",
      mod("bad-flag", { ...BASE, kfuncs: [{ name: "mk_add", flags: ["KF_ACQUIRED"] }, "mk_two"] }),
      /'kfuncs\[0\]\.flags\[0\]': unknown kfunc flag "KF_ACQUIRED"[\s\S]*use one of ACQUIRE, RELEASE/,
    ],
    [
      "P2-07",
      mod("bad-progtype", { ...BASE, programTypes: ["KPROBES"] }),
      /'programTypes\[0\]': unknown program type "KPROBES"[\s\S]*use one of UNSPEC, KPROBE/,
    ],
  ]);
});

test("P2-08…P2-12 names and paths with code in them: refused, and a canary proves nothing ran", async () => {
  const canary = join(T, "PWNED_NAME");
  await refused([
    [
      "P2-08",
      mod("name-semicolon", { ...BASE, name: `x; touch ${canary}` }),
      /'name': invalid module name[\s\S]*lowercase letters, digits and '_'/,
    ],
    ["P2-08", mod("name-subst", { ...BASE, name: `$(touch ${canary}2)` }), /'name': invalid module name/],
    ["P2-09", mod("name-traversal", { ...BASE, name: "../../x" }), /invalid module name "\.\.\/\.\.\/x"/],
    [
      "P2-10",
      mod("source-traversal", { ...BASE, sources: ["../../../etc/x.c"] }),
      /'sources\[0\]': "\.\.\/\.\.\/\.\.\/etc\/x\.c" must be a \.c file in the module directory/,
    ],
    [
      "P2-11",
      mod("dup-kfunc", { ...BASE, kfuncs: ["mk_add", { name: "mk_add", flags: ["RET_NULL"] }] }),
      /'kfuncs\[1\]\.name': "mk_add" is declared twice/,
    ],
    [
      "P2-12",
      mod("code-name", { ...BASE, kfuncs: ["mk_add)\n#error x\n("] }),
      /'kfuncs\[0\]\.name': must be a C function name/,
    ],
  ]);
  assert.deepEqual(
    readdirSync(T).filter((n) => n.startsWith("PWNED")),
    [],
    "a name ran as a command",
  );
  assert.ok(!existsSync(join(T, "mods", "..", "..", "x")));
});

test("P2-17, P2-18 a program type or flag the target (6.1) lacks: refused before kbuild", async () => {
  const r = await all([
    () =>
      kfunc([
        "module",
        "build",
        mod("kprobe-61", { ...BASE, programTypes: ["KPROBE"] }),
        "--kernel",
        "debian:bookworm",
      ]),
    () =>
      kfunc([
        "module",
        "build",
        mod("flag-61", { ...BASE, kfuncs: [{ name: "mk_add", flags: ["RCU_PROTECTED"] }, "mk_two"] }),
        "--kernel",
        "debian:bookworm",
      ]),
  ]);
  assert.equal(
    clear(r[0]!, 1, /KPROBE is not supported by the target kernel 6\.1\.0-\S+ \(.*need Linux >= 6\.10\)/),
    undefined,
  );
  assert.equal(
    clear(r[1]!, 1, /flag RCU_PROTECTED \(KF_RCU_PROTECTED\) does not exist before Linux 6\.7/),
    undefined,
  );
  for (const d of ["kprobe-61", "flag-61"])
    assert.ok(!existsSync(join(T, "mods", d, "build")), `${d}: kbuild ran`);
});

test("P2-19 an empty kfunc.json, '[]', kfunc.json a directory, no config: each named clearly", async () => {
  const empty = mod("empty-json", "");
  const arr = mod("array-json", "[]");
  const dirCfg = join(T, "mods", "dir-json");
  mkdirSync(join(dirCfg, "kfunc.json"), { recursive: true });
  const none = join(T, "mods", "no-config");
  mkdirSync(none, { recursive: true });
  await refused([
    ["P2-19", empty, /kfunc\.json[\s\S]*(Unexpected end of JSON input|empty)/],
    ["P2-19", arr, /'\(top level\)': must be a JSON object/],
    ["P2-19", dirCfg, /kfunc\.json[\s\S]*(is a directory|EISDIR)/],
    ["P2-19", none, /neither kfunc\.json nor a Kbuild\/Makefile/],
  ]);
});

test("P2-05, P2-13, P2-15 through kbuild: the user's file:line, escaped metadata, a kfunc named like vmlinux's", async () => {
  const cErr = mod("compile-error", BASE, BODY.replace("return a * 2;", "return a * undeclared_thing;"));
  const meta = mod("meta-quote", {
    ...BASE,
    description: 'a "quoted" */ desc \\ with ??/ trigraph',
    author: 'x"); MODULE_LICENSE("Proprietary',
  });
  const clash = mod(
    "vmlinux-name",
    { ...BASE, kfuncs: ["bpf_task_from_pid", "mk_two"] },
    BODY.replace(
      "u64 mk_add(u32 a, u64 b) { return a + b; }",
      "u64 bpf_task_from_pid(u32 a, u64 b) { return a + b; }",
    ),
  );
  const [c, m, v] = await all([
    () => kfunc(["module", "build", cErr, "--json"]),
    () => kfunc(["module", "build", meta, "--json"]),
    () => kfunc(["module", "build", clash, "--json"]),
  ]);
  assert.equal(
    clear(c!, 1, new RegExp(`${cErr}/mk_kfuncs\\.c:4: error: 'undeclared_thing' undeclared`)),
    undefined,
  );
  assert.equal(m!.status, 0, m!.stderr);
  const gen = readFileSync(join(meta, "build", kernel.release, "kfunc_gen_reg.c"), "utf8");
  assert.ok(gen.includes('MODULE_AUTHOR("x\\"); MODULE_LICENSE(\\"Proprietary");'), gen);
  assert.doesNotMatch(gen, /MODULE_LICENSE\("Proprietary"\)/);
  assert.equal(
    clear(
      v!,
      1,
      /id \d+ \('bpf_task_from_pid'\) is a vmlinux type, not one of the module's own[\s\S]*rename the kfunc/,
    ),
    undefined,
  );
});

test("P2-22 no host shell strings: no shell: true, exec or execSync in src/, scripts/, bin/", () => {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mjs|js)$/.test(e.name)) {
        const text = readFileSync(p, "utf8");
        // a shell option, or the shell-string APIs (exec, execSync) imported from child_process
        for (const m of text.matchAll(/shell:\s*true|\bexecSync\b/g)) hits.push(`${p}: ${m[0]}`);
        for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*["'](node:)?child_process["']/g))
          if (/\bexec\b/.test(m[1]!)) hits.push(`${p}: imports exec`);
      }
    }
  };
  for (const d of ["src", "scripts", "bin"]) walk(join(REPO_ROOT, d));
  assert.deepEqual(hits, []);
  // the check can fail: it finds a planted line
  const planted = join(T, "planted");
  mkdirSync(planted);
  writeFileSync(join(planted, "x.ts"), 'spawn("sh", ["-c", cmd], { shell: true });\n');
  writeFileSync(join(planted, "y.ts"), 'import {\n  exec,\n  spawn,\n} from "node:child_process";\n');
  walk(planted);
  assert.equal(hits.length, 2, hits.join("\n"));
});

test("P6-01, P6-02, P6-05, P6-06 the headers' vmlinux: restored, refused without the guarantee, garbage named, no pahole named", async () => {
  const cache = privateCache(join(T, "p6"), kernel.release);
  const H = headersDir(cache, kernel.release);
  const env = { KFUNC_KIT_CACHE: cache };
  const seed = join(REPO_ROOT, "examples", "seed");
  const btf = join(cache, "kernels", kernel.release, "vmlinux.btf");
  const build = (out: string, extra: string[] = [], o: { env?: Record<string, string> } = {}) =>
    kfunc(
      ["module", "build", seed, "--kernel", "debian:bookworm-backports", "--out", join(T, out), ...extra],
      {
        env: { ...env, ...o.env },
      },
    );

  // P6-01: the guarantee puts the target's BTF back
  rmSync(join(H, "vmlinux"), { force: true });
  const r1 = await build("p601");
  assert.equal(r1.status, 0, r1.stderr);
  assert.ok(existsSync(join(H, "vmlinux")), "the guarantee did not restore vmlinux");
  assert.equal(statSync(join(H, "vmlinux")).size, statSync(btf).size);

  // P6-02: with the guarantee off, the post-build check refuses the BTF-less module and names the fix
  rmSync(join(H, "vmlinux"));
  const r2 = await build("p602", ["--no-btf-guarantee"]);
  assert.equal(
    clear(
      r2,
      1,
      /hello\.ko: no \.BTF section \(module BTF\)[\s\S]*missing module BTF, cannot register kfuncs/,
    ),
    undefined,
  );
  assert.ok(r2.stderr.includes(join(H, "vmlinux")), `the hint does not name ${H}/vmlinux:\n${r2.stderr}`);

  // P6-05: garbage as vmlinux
  writeFileSync(
    join(H, "vmlinux"),
    Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 2654435761) >>> 24)),
  );
  const r5 = await build("p605");
  assert.equal(clear(r5, 1, /vmlinux: neither raw BTF nor an ELF vmlinux[\s\S]*replace it with/), undefined);
  rmSync(join(H, "vmlinux"));

  // P6-06: no pahole on PATH
  const bin = join(T, "nopahole");
  mkdirSync(bin);
  for (const tool of ["make", "gcc", "node", "ld", "as", "objcopy", "readelf", "cc", "sh", "bash"]) {
    const w = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
    if (w) symlinkSync(w, join(bin, tool));
  }
  const r6 = await build("p606", [], { env: { PATH: `${bin}:/usr/local/bin` } });
  assert.equal(
    clear(r6, 1, /pahole: not found: kbuild needs it to generate module BTF[\s\S]*apt-get install dwarves/),
    undefined,
  );
});
