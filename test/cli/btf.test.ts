import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { BTF_INT_SIGNED, BtfBuilder, parseBtf } from "../../src/btf/index.ts";
import { compileBpf } from "../../src/compile/clang.ts";
import { REPO_ROOT } from "../helpers/index.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const dir = mkdtempSync(join(tmpdir(), "kfunc-cli-btf-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function kfunc(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "src/cli/main.ts"), ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    maxBuffer: 256 << 20,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A base BTF and a module's split BTF on it (with a kfunc), as files. */
function splitPair(): { base: string; mod: string } {
  const b = new BtfBuilder({ source: "base" });
  const int = b.add({ kind: "INT", name: "int", size: 4, encoding: BTF_INT_SIGNED, bitOffset: 0, bits: 32 });
  b.add({
    kind: "STRUCT",
    name: "task_struct",
    size: 4,
    kindFlag: false,
    members: [{ name: "pid", type: int, bitOffset: 0, bitfieldSize: 0 }],
  });
  const baseBytes = b.encode();
  const base = parseBtf(baseBytes, { source: "base" });
  const m = new BtfBuilder({ base, source: "mod" });
  const ptr = m.add({ kind: "PTR", name: "", type: 2 });
  const proto = m.add({ kind: "FUNC_PROTO", name: "", returnType: int, params: [{ name: "t", type: ptr }] });
  const fn = m.add({ kind: "FUNC", name: "hello_kfunc", type: proto, linkage: 1 });
  m.add({ kind: "DECL_TAG", name: "bpf_kfunc", type: fn, componentIdx: -1 });
  writeFileSync(join(dir, "base.btf"), baseBytes);
  writeFileSync(join(dir, "mod.btf"), m.encode());
  return { base: join(dir, "base.btf"), mod: join(dir, "mod.btf") };
}

test("kfunc btf dump <vmlinux>: a C header with kfunc prototypes; --no-kfuncs leaves them out", (t) => {
  if (!existsSync(VMLINUX)) return t.skip(`${VMLINUX} does not exist`);
  const r = kfunc("btf", "dump", VMLINUX);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith("#ifndef __VMLINUX_H__\n"));
  assert.match(r.stdout, /\nstruct task_struct \{\n/);
  if (r.stdout.includes("/* BPF kfuncs */"))
    assert.match(r.stdout, /\nextern struct task_struct \*bpf_task_from_pid\(s32 pid\) __weak __ksym;\n/);
  const n = kfunc("btf", "dump", VMLINUX, "--no-kfuncs");
  assert.equal(n.code, 0, n.stderr);
  assert.ok(!n.stdout.includes("BPF kfuncs"));
  assert.ok(!n.stdout.includes("__ksym;"));
});

test("kfunc btf dump of an eBPF object: c, raw and json formats", () => {
  const src = join(dir, "obj.bpf.c");
  writeFileSync(
    src,
    "struct pair { int a; long b; };\nstruct pair g;\nint get(struct pair *p) { return p->a; }\n",
  );
  const obj = compileBpf(src, { output: join(dir, "obj.bpf.o") });
  const c = kfunc("btf", "dump", obj, "--format", "c");
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /struct pair \{\n\tint a;\n\tlong b;\n\};/);
  const raw = kfunc("btf", "dump", obj, "--format", "raw");
  assert.equal(raw.code, 0, raw.stderr);
  assert.match(
    raw.stdout,
    /^\[\d+\] STRUCT 'pair' size=16 vlen=2\n\t'a' type_id=\d+ bits_offset=0\n\t'b' type_id=\d+ bits_offset=64$/m,
  );
  const json = kfunc("btf", "dump", obj, "--format", "json");
  assert.equal(json.code, 0, json.stderr);
  const doc = JSON.parse(json.stdout) as { firstId: number; types: { kind: string; name: string }[] };
  assert.equal(doc.firstId, 1);
  assert.ok(doc.types.some((t) => t.kind === "STRUCT" && t.name === "pair"));
  assert.ok(doc.types.some((t) => t.kind === "FUNC" && t.name === "get"));
});

test("kfunc btf dump: clear errors for a missing file, no .BTF section, bad format, split BTF without base", () => {
  const missing = kfunc("btf", "dump", join(dir, "nope.o"));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /file '.*nope\.o' does not exist/);
  assert.doesNotMatch(missing.stderr, /\n\s+at /, "no stack trace");

  const src = join(dir, "nog.bpf.c");
  writeFileSync(src, "int f(int x) { return x + 1; }\n");
  const noG = join(dir, "nog.bpf.o");
  const cc = spawnSync("clang", ["-target", "bpf", "-O2", "-c", src, "-o", noG], { encoding: "utf8" });
  assert.equal(cc.status, 0, cc.stderr);
  const noBtf = kfunc("btf", "dump", noG);
  assert.equal(noBtf.code, 1);
  assert.match(noBtf.stderr, /nog\.bpf\.o: no \.BTF section\n\s+hint: compile the eBPF object with -g/);

  const badFormat = kfunc("btf", "dump", noG, "--format", "yaml");
  assert.equal(badFormat.code, 2);
  assert.match(badFormat.stderr, /unknown format 'yaml'/);

  const { base, mod } = splitPair();
  const noBase = kfunc("btf", "dump", mod);
  assert.equal(noBase.code, 1);
  assert.match(
    noBase.stderr,
    /this is split BTF \(a module's\) and needs its base\n[\s\S]*hint: pass --base/,
  );
  const withBase = kfunc("btf", "dump", mod, "--base", base);
  assert.equal(withBase.code, 0, withBase.stderr);
  assert.match(withBase.stdout, /extern int hello_kfunc\(struct task_struct \*t\) __weak __ksym;/);
  assert.doesNotMatch(
    withBase.stdout,
    /struct task_struct \{/,
    "scope own: base struct only forward-declared",
  );
  const all = kfunc("btf", "dump", mod, "--base", base, "--scope", "all");
  assert.match(all.stdout, /struct task_struct \{\n\tint pid;\n\};/);
  const raw = kfunc("btf", "dump", mod, "--base", base, "--format", "raw");
  assert.equal(raw.stdout.split("\n")[0], "[3] PTR '(anon)' type_id=2", "raw: only the module's own types");
});

test("kfunc btf dump of a module (.ko): .BTF.base when present, else --base / vmlinux", () => {
  const { base, mod } = splitPair();
  const src = join(dir, "fake.c");
  writeFileSync(src, "int init_module(void) { return 0; }\n");
  const o = join(dir, "fake.o");
  const cc = spawnSync("clang", ["-c", "-O2", src, "-o", o], { encoding: "utf8" });
  assert.equal(cc.status, 0, cc.stderr);
  writeFileSync(join(dir, "modinfo"), "license=GPL\0name=fake\0");
  const ko = join(dir, "fake.ko");
  const oc = spawnSync(
    "llvm-objcopy",
    [
      `--add-section=.modinfo=${join(dir, "modinfo")}`,
      `--add-section=.BTF=${mod}`,
      `--add-section=.BTF.base=${base}`,
      o,
      ko,
    ],
    { encoding: "utf8" },
  );
  assert.equal(oc.status, 0, oc.stderr);
  const r = kfunc("btf", "dump", ko);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /extern int hello_kfunc\(struct task_struct \*t\) __weak __ksym;/);

  const koNoBase = join(dir, "fake-nobase.ko");
  const oc2 = spawnSync(
    "llvm-objcopy",
    [`--add-section=.modinfo=${join(dir, "modinfo")}`, `--add-section=.BTF=${mod}`, o, koNoBase],
    {
      encoding: "utf8",
    },
  );
  assert.equal(oc2.status, 0, oc2.stderr);
  const explicit = kfunc("btf", "dump", koNoBase, "--base", base);
  assert.equal(explicit.code, 0, explicit.stderr);
  assert.match(explicit.stdout, /hello_kfunc/);
  if (existsSync(VMLINUX)) {
    // the running kernel's vmlinux is not this module's base: say so instead of printing garbage
    const wrong = kfunc("btf", "dump", koNoBase);
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.stderr,
      /the module's BTF does not fit base '\/sys\/kernel\/btf\/vmlinux'\n[\s\S]*hint: pass --base/,
    );
  }
});
