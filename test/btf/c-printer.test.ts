import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { cFuncPrototype, dumpC } from "../../src/btf/c-printer.ts";
import { parseBtfExt } from "../../src/btf/ext.ts";
import { BTF_INT_SIGNED, type Btf, BtfBuilder, parseBtf } from "../../src/btf/index.ts";
import type { BtfType } from "../../src/btf/types.ts";
import { compileBpf } from "../../src/compile/clang.ts";
import { parseElf } from "../../src/elf/index.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const dir = mkdtempSync(join(tmpdir(), "kfunc-c-printer-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let vmlinux: { btf: Btf; header: string } | undefined;
function vmlinuxDump(): { btf: Btf; header: string } {
  if (!vmlinux) {
    const btf = parseBtf(new Uint8Array(readFileSync(VMLINUX)), { source: VMLINUX });
    vmlinux = { btf, header: dumpC(btf) };
  }
  return vmlinux;
}

function objectBtf(path: string): { btf: Btf; elf: ReturnType<typeof parseElf> } {
  const elf = parseElf(new Uint8Array(readFileSync(path)), path);
  const sec = elf.section(".BTF");
  assert.ok(sec, `${path} has a .BTF section`);
  return { btf: parseBtf(sec.data, { source: `${path}:.BTF` }), elf };
}

/** _Static_asserts of sizeof/offsetof for every struct/union whose name is unique, from the BTF itself. */
function layoutAsserts(btf: Btf, limit = Number.POSITIVE_INFINITY): { text: string; count: number } {
  const tagNames = new Map<string, number>();
  const all: BtfType[] = [];
  for (let id = 1; id < btf.nextId; id++) {
    const t = btf.typeById(id);
    all.push(t);
    const named = t.name !== "";
    const counted =
      t.kind === "STRUCT" ||
      t.kind === "UNION" ||
      t.kind === "INT" ||
      t.kind === "ENUM64" ||
      (t.kind === "ENUM" && t.values.length > 0);
    if (named && counted) tagNames.set(t.name, (tagNames.get(t.name) ?? 0) + 1);
  }
  // __builtin_va_list is 24 bytes on x86-64 but 8 for -target bpf: such structs cannot match
  const vaMemo = new Map<number, boolean>();
  const hasVaList = (id: number, depth = 0): boolean => {
    const known = vaMemo.get(id);
    if (known !== undefined) return known;
    if (depth > 40) return false;
    const t = btf.typeById(id);
    let r = false;
    if (t.kind === "TYPEDEF") r = t.name === "__builtin_va_list" || hasVaList(t.type, depth + 1);
    else if (t.kind === "ARRAY" || t.kind === "CONST" || t.kind === "VOLATILE")
      r = hasVaList(t.type, depth + 1);
    else if (t.kind === "STRUCT" || t.kind === "UNION")
      r = t.members.some((m) => hasVaList(m.type, depth + 1));
    vaMemo.set(id, r);
    return r;
  };
  const lines: string[] = [];
  let count = 0;
  for (const t of all) {
    if (count >= limit) break;
    if ((t.kind !== "STRUCT" && t.kind !== "UNION") || t.name === "" || tagNames.get(t.name) !== 1) continue;
    if (hasVaList(t.id)) continue;
    const tag = `${t.kind === "STRUCT" ? "struct" : "union"} ${t.name}`;
    lines.push(`_Static_assert(sizeof(${tag}) == ${t.size}, "sizeof ${tag}");`);
    count++;
    const seen = new Set<string>();
    for (const m of t.members) {
      if (m.name === "" || m.bitfieldSize !== 0 || seen.has(m.name)) continue;
      seen.add(m.name);
      if (m.bitOffset % 8 !== 0) continue;
      lines.push(
        `_Static_assert(__builtin_offsetof(${tag}, ${m.name}) == ${m.bitOffset / 8}, "${tag}.${m.name}");`,
      );
      count++;
    }
  }
  return { text: lines.join("\n"), count };
}

function clangSyntaxCheck(file: string): { ok: boolean; stderr: string } {
  const r = spawnSync(
    "clang",
    [
      "-target",
      "bpf",
      "-fsyntax-only",
      "-ferror-limit=50",
      "-idirafter",
      "/usr/include/x86_64-linux-gnu",
      "-I",
      dir,
      file,
    ],
    { encoding: "utf8", maxBuffer: 64 << 20 },
  );
  return { ok: r.status === 0, stderr: r.stderr };
}

test("dumpC of vmlinux: guards, pragma, ksym defines and one prototype per bpf_kfunc FUNC", (t) => {
  if (!existsSync(VMLINUX)) return t.skip(`${VMLINUX} does not exist (kernel without CONFIG_DEBUG_INFO_BTF)`);
  const { btf, header } = vmlinuxDump();
  assert.ok(
    header.startsWith(
      "#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n",
    ),
  );
  assert.ok(header.endsWith("#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n"));
  assert.match(
    header,
    /\n#ifndef __ksym\n#define __ksym __attribute__\(\(section\("\.ksyms"\)\)\)\n#endif\n/,
  );
  const section = header.slice(header.indexOf("\n/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n"));
  const externs = section
    .slice(0, section.indexOf("#endif\n"))
    .split("\n")
    .filter((l) => l.startsWith("extern "));
  const tagged: number[] = [];
  for (let id = 1; id < btf.nextId; id++) {
    const d = btf.typeById(id);
    if (d.kind === "DECL_TAG" && d.name === "bpf_kfunc" && d.componentIdx === -1) tagged.push(d.type);
  }
  if (tagged.length === 0)
    return t.skip("this kernel's BTF has no bpf_kfunc decl tags (kernel < 6.11 or pahole < 1.27)");
  assert.equal(externs.length, new Set(tagged).size);
  // the whole-BTF entry point and the single-declaration one (cFuncPrototype) print the same prototypes
  // (single declarations keep the BTF's own names, where the header renames duplicates `name___N`)
  const ownNames = new Set(externs.map((e) => e.replace(/___\d+\b/g, "")));
  for (const id of tagged) {
    const proto = cFuncPrototype(btf, id);
    assert.ok(
      ownNames.has(`extern ${proto} __weak __ksym;`) ||
        ownNames.has(`extern __bpf_fastcall ${proto} __weak __ksym;`),
      `missing prototype: ${proto}`,
    );
  }
  assert.ok(externs.includes("extern struct task_struct *bpf_task_from_pid(s32 pid) __weak __ksym;"));
});

test("vmlinux.h from dumpC compiles into a CO-RE program calling kfuncs through its own prototypes", (t) => {
  if (!existsSync(VMLINUX)) return t.skip(`${VMLINUX} does not exist`);
  const { btf, header } = vmlinuxDump();
  if (!btf.findByName("bpf_task_from_pid", "FUNC")) return t.skip("kernel has no bpf_task_from_pid kfunc");
  if (!header.includes("bpf_task_from_pid(s32 pid) __weak __ksym;"))
    return t.skip("kernel BTF has no bpf_kfunc decl tags");
  writeFileSync(join(dir, "vmlinux.h"), header);
  const src = join(dir, "core.bpf.c");
  writeFileSync(
    src,
    `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";
int out_pid, out_tgid, out_ppid;
char out_comm[16];

SEC("syscall")
int probe(void *ctx)
{
	struct task_struct *t = bpf_task_from_pid(bpf_get_current_pid_tgid() >> 32);

	if (!t)
		return 1;
	out_pid = BPF_CORE_READ(t, pid);
	out_tgid = BPF_CORE_READ(t, tgid);
	out_ppid = BPF_CORE_READ(t, real_parent, pid);
	BPF_CORE_READ_STR_INTO(&out_comm, t, comm);
	bpf_task_release(t);
	bpf_rcu_read_lock();
	bpf_rcu_read_unlock();
	return 0;
}
`,
  );
  const obj = compileBpf(src, { output: join(dir, "core.bpf.o"), includeDirs: [dir] });
  const { btf: objBtf, elf } = objectBtf(obj);
  // the kfuncs are extern FUNCs in .ksyms whose prototypes match the kernel's
  const ksyms = objBtf.findByName(".ksyms", "DATASEC");
  assert.ok(ksyms && ksyms.kind === "DATASEC");
  const externs = ksyms.vars.map((v) => objBtf.typeById(v.type).name).sort();
  assert.deepEqual(externs, [
    "bpf_rcu_read_lock",
    "bpf_rcu_read_unlock",
    "bpf_task_from_pid",
    "bpf_task_release",
  ]);
  for (const name of externs) {
    const local = objBtf.findByName(name, "FUNC");
    const kernel = btf.findByName(name, "FUNC");
    assert.ok(local?.kind === "FUNC" && kernel?.kind === "FUNC");
    const lp = objBtf.typeById(local.type);
    const kp = btf.typeById(kernel.type);
    assert.ok(lp.kind === "FUNC_PROTO" && kp.kind === "FUNC_PROTO");
    const kinds = (b: Btf, ids: number[]) => ids.map((id) => (id === 0 ? "VOID" : b.resolve(id).kind));
    assert.deepEqual(
      kinds(objBtf, [lp.returnType, ...lp.params.map((p) => p.type)]),
      kinds(btf, [kp.returnType, ...kp.params.map((p) => p.type)]),
      `${name}: return and parameter kinds match the kernel's prototype`,
    );
    assert.deepEqual(
      lp.params.map((p) => objBtf.sizeof(p.type)),
      kp.params.map((p) => btf.sizeof(p.type)),
      `${name}: parameter sizes match`,
    );
  }
  // the field reads are CO-RE relocations against task_struct (preserve_access_index from the pragma)
  const extSec = elf.section(".BTF.ext");
  assert.ok(extSec, "object has .BTF.ext");
  const ext = parseBtfExt(extSec.data, objBtf, obj);
  const relos = [...ext.coreRelos.values()].flat();
  assert.ok(relos.length >= 4, `expected CO-RE relocations, got ${relos.length}`);
  const task = objBtf.findByName("task_struct", "STRUCT");
  assert.ok(task && relos.some((r) => r.typeId === task.id));
});

test("every struct/union layout in the vmlinux dump matches the kernel BTF (sizeof/offsetof asserts)", (t) => {
  if (!existsSync(VMLINUX)) return t.skip(`${VMLINUX} does not exist`);
  const { btf, header } = vmlinuxDump();
  writeFileSync(join(dir, "vmlinux.h"), header);
  const { text, count } = layoutAsserts(btf);
  const file = join(dir, "layout.c");
  writeFileSync(file, `#include "vmlinux.h"\n${text}\n`);
  const r = clangSyntaxCheck(file);
  assert.ok(r.ok, `layout asserts failed:\n${r.stderr.slice(0, 4000)}`);
  t.diagnostic(`${count} sizeof/offsetof assertions hold`);
  assert.ok(count > 10000, `only ${count} assertions generated`);
});

test("vmlinux dump equals bpftool 7.1's except for the documented differences", (t) => {
  if (!existsSync(VMLINUX)) return t.skip(`${VMLINUX} does not exist`);
  const v = spawnSync("bpftool", ["version"], { encoding: "utf8" });
  if (v.status !== 0 || !/v7\.1\./.test(v.stdout))
    return t.skip(
      `needs bpftool v7.1 as the reference (found: ${v.error ? "none" : v.stdout.split("\n")[0]})`,
    );
  const ref = spawnSync("bpftool", ["btf", "dump", "file", VMLINUX, "format", "c"], {
    encoding: "utf8",
    maxBuffer: 256 << 20,
  }).stdout;
  const { header } = vmlinuxDump();
  // ours adds: the __ksym/__weak/__bpf_fastcall defines, the kfunc prototype block, and
  // `__attribute__((mode(byte)))` on 1-byte enums (libbpf 1.1 printed them as 4-byte enums)
  const ours = header
    .replace(/#ifndef __ksym\n[\s\S]*?#define __bpf_fastcall\n#endif\n#endif\n\n/, "")
    .replace(/\n\/\* BPF kfuncs \*\/\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n[\s\S]*?#endif\n\n/, "")
    .replaceAll("} __attribute__((mode(byte)));", "};");
  const a = ours.split("\n");
  const b = ref.split("\n");
  const firstDiff = a.findIndex((l, i) => l !== b[i]);
  assert.equal(
    firstDiff,
    -1,
    `first difference at line ${firstDiff + 1}: ours ${JSON.stringify(a[firstDiff])} bpftool ${JSON.stringify(b[firstDiff])}`,
  );
  assert.equal(a.length, b.length);
});

test("a clang object with bitfields, packed, aligned, anonymous members and name clashes round-trips", () => {
  const src = join(dir, "tricky.bpf.c");
  writeFileSync(
    src,
    `typedef unsigned int u32;
typedef unsigned long long u64;
enum small { S_A, S_B } __attribute__((packed));
enum big { B_A = 1, B_HUGE = 0x100000000ULL };
struct bits { u32 a: 3; u32 b: 7; u64 c: 40; unsigned char d; enum small e; u32 f: 1; };
struct __attribute__((packed)) pk { char c; u64 v; short s; };
struct aligned { int x; int y __attribute__((aligned(16))); char tail; };
struct hole { char c; struct { int i; u64 j; } in; union { int u; char uc[3]; }; };
struct cacheline { u64 a; } __attribute__((aligned(64)));
struct embeds { char c; struct cacheline cl; int after; };
struct fnptrs { int (*cb[4])(int, void *); void (*(*getter)(int))(void); const char *const *names; };
struct list { struct list *next; struct node *node; };
struct node { struct list l; int v; };
union un { u32 w; struct { unsigned short lo, hi; }; };
struct flex { int n; int items[]; };
int use1(struct bits *b, struct pk *p, struct aligned *a, struct hole *h, struct embeds *e) { return b->a + p->c + a->x + h->c + e->c; }
int use2(struct fnptrs *f, struct node *n, union un *u, struct flex *fl, enum big bg) { return (f->names != 0) + n->v + u->w + fl->n + (int)bg; }
`,
  );
  const obj = compileBpf(src, { output: join(dir, "tricky.bpf.o") });
  const { btf } = objectBtf(obj);
  const header = dumpC(btf);
  assert.match(header, /struct pk \{[\s\S]*?\} __attribute__\(\(packed\)\);/);
  assert.match(header, /u32 a: 3;\n\tu32 b: 7;/);
  assert.match(header, /int \(\*cb\[4\]\)\(int, void \*\);/);
  // libbpf's spacing for a function returning a function pointer
  assert.match(header, /void \(\* \(\*getter\)\(int\)\)\(void\);/);
  assert.match(header, /enum small \{\n\tS_A = 0,\n\tS_B = 1,\n\} __attribute__\(\(mode\(byte\)\)\);/);
  // clang 14 has no ENUM64: it emits an 8-byte ENUM (values truncated), which needs mode(word)
  assert.match(header, /enum big \{[\s\S]*?\} __attribute__\(\(mode\(word\)\)\);/);
  // struct list refers to struct node through a pointer before node is defined: a forward declaration
  assert.ok(header.indexOf("struct node;") < header.indexOf("struct list {"));
  writeFileSync(join(dir, "tricky.h"), header);
  const { text, count } = layoutAsserts(btf);
  const check = join(dir, "tricky-check.c");
  writeFileSync(
    check,
    `#include "tricky.h"\n${text}\n_Static_assert(sizeof(enum small) == 1, "");\n_Static_assert(sizeof(enum big) == 8, "");\n`,
  );
  const r = clangSyntaxCheck(check);
  assert.ok(r.ok, `layout of the dumped header differs:\n${r.stderr}`);
  assert.ok(count >= 30, `only ${count} assertions`);
});

test("duplicate names get bpftool's ___N suffixes, in the order they are first printed", () => {
  const b = new BtfBuilder({ source: "dups.btf" });
  const int = b.add({ kind: "INT", name: "int", size: 4, encoding: BTF_INT_SIGNED, bitOffset: 0, bits: 32 });
  const confA = b.add({
    kind: "STRUCT",
    name: "conf",
    size: 4,
    kindFlag: false,
    members: [{ name: "a", type: int, bitOffset: 0, bitfieldSize: 0 }],
  });
  const confB = b.add({
    kind: "STRUCT",
    name: "conf",
    size: 8,
    kindFlag: false,
    members: [
      { name: "b", type: int, bitOffset: 0, bitfieldSize: 0 },
      { name: "c", type: int, bitOffset: 32, bitfieldSize: 0 },
    ],
  });
  b.add({ kind: "TYPEDEF", name: "MODE", type: int });
  b.add({
    kind: "ENUM",
    name: "e",
    size: 4,
    signed: false,
    values: [
      { name: "MODE", value: 1 },
      { name: "OTHER", value: 2 },
    ],
  });
  b.add({
    kind: "STRUCT",
    name: "user",
    size: 12,
    kindFlag: false,
    members: [
      { name: "x", type: confA, bitOffset: 0, bitfieldSize: 0 },
      { name: "y", type: confB, bitOffset: 32, bitfieldSize: 0 },
    ],
  });
  const btf = parseBtf(b.encode(), { source: "dups.btf" });
  const header = dumpC(btf, { header: false });
  assert.match(header, /struct conf \{\n\tint a;\n\};/);
  assert.match(header, /struct conf___2 \{\n\tint b;\n\tint c;\n\};/);
  assert.match(header, /typedef int MODE;/);
  assert.match(header, /\tMODE___2 = 1,/);
  assert.match(header, /struct user \{\n\tstruct conf x;\n\tstruct conf___2 y;\n\};/);
  writeFileSync(join(dir, "dups.h"), header);
  const check = join(dir, "dups-check.c");
  writeFileSync(check, `#include "dups.h"\n_Static_assert(sizeof(struct user) == 12, "");\n`);
  const r = clangSyntaxCheck(check);
  assert.ok(r.ok, r.stderr);
});

test("split BTF: scope 'own' prints the module's types, what they need from the base, and its kfuncs", () => {
  const base = new BtfBuilder({ source: "base.btf" });
  const int = base.add({
    kind: "INT",
    name: "int",
    size: 4,
    encoding: BTF_INT_SIGNED,
    bitOffset: 0,
    bits: 32,
  });
  const task = base.add({
    kind: "STRUCT",
    name: "task_struct",
    size: 4,
    kindFlag: false,
    members: [{ name: "pid", type: int, bitOffset: 0, bitfieldSize: 0 }],
  });
  const u32 = base.add({ kind: "TYPEDEF", name: "u32", type: int });
  base.add({
    kind: "STRUCT",
    name: "unrelated",
    size: 4,
    kindFlag: false,
    members: [{ name: "z", type: int, bitOffset: 0, bitfieldSize: 0 }],
  });
  const baseBtf = parseBtf(base.encode(), { source: "base.btf" });
  const mod = new BtfBuilder({ base: baseBtf, source: "mod.btf" });
  const taskPtr = mod.add({ kind: "PTR", name: "", type: task });
  const own = mod.add({
    kind: "STRUCT",
    name: "mod_state",
    size: 4,
    kindFlag: false,
    members: [{ name: "n", type: u32, bitOffset: 0, bitfieldSize: 0 }],
  });
  const proto = mod.add({
    kind: "FUNC_PROTO",
    name: "",
    returnType: u32,
    params: [
      { name: "t", type: taskPtr },
      { name: "k", type: int },
    ],
  });
  const fn = mod.add({ kind: "FUNC", name: "mod_kfunc", type: proto, linkage: 1 });
  mod.add({ kind: "DECL_TAG", name: "bpf_kfunc", type: fn, componentIdx: -1 });
  const btf = parseBtf(mod.encode(), { base: baseBtf, source: "mod.btf" });
  assert.equal(own, baseBtf.nextId + 1);

  const header = dumpC(btf);
  assert.doesNotMatch(header, /unrelated/);
  assert.match(header, /typedef int u32;[\s\S]*struct mod_state \{\n\tu32 n;\n\};/);
  assert.match(header, /struct task_struct;\n/);
  assert.match(header, /extern u32 mod_kfunc\(struct task_struct \*t, int k\) __weak __ksym;/);
  writeFileSync(join(dir, "mod.h"), header);
  const check = join(dir, "mod-check.c");
  writeFileSync(check, `#include "mod.h"\nint f(struct mod_state *s) { return s->n + mod_kfunc(0, 1); }\n`);
  const r = clangSyntaxCheck(check);
  assert.ok(r.ok, r.stderr);

  const all = dumpC(btf, { scope: "all" });
  assert.match(all, /struct unrelated \{/);
  assert.match(all, /struct task_struct \{\n\tint pid;\n\};/);
});
