import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  BTF_INT_SIGNED,
  type Btf,
  BtfBuilder,
  type BtfType,
  encodeBtf,
  parseBtf,
} from "../../src/btf/index.ts";
import { parseElf } from "../../src/elf/index.ts";
import { isKfuncKitError } from "../../src/errors.ts";
import { compileFixture, REPO_ROOT, requireRoot } from "../helpers/index.ts";
import { findPreparedKernel } from "../object/prepared-kernel.ts";
import {
  bpftoolMissing,
  bpftoolTypes,
  haveTool,
  normaliseBpftool,
  toBpftool,
  VMLINUX_BTF,
  vmlinuxMissing,
} from "./parse-oracle.ts";

const RICH = "test/fixtures/btf/rich.bpf.c";
const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "kfunc-kit-writer-"));
  temps.push(d);
  return d;
};

function objBtf(extraArgs: string[] = []): { path: string; bytes: Uint8Array } {
  const path = compileFixture(RICH, { extraArgs });
  return { path, bytes: parseElf(new Uint8Array(readFileSync(path)), path).section(".BTF")!.data };
}

function assertSameTypes(a: Btf, b: Btf): void {
  assert.equal(b.firstId, a.firstId);
  assert.equal(b.nextId, a.nextId);
  for (let id = a.firstId; id < a.nextId; id++) {
    const x = a.typeById(id);
    const y = b.typeById(id);
    if (JSON.stringify(x, big) !== JSON.stringify(y, big)) assert.deepEqual(y, x, `type [${id}]`);
  }
}
const big = (_k: string, v: unknown) => (typeof v === "bigint" ? `${v}n` : v);

test("encodeBtf round trip: vmlinux", (t) => {
  const why = vmlinuxMissing();
  if (why) return t.skip(why);
  const orig = parseBtf(new Uint8Array(readFileSync(VMLINUX_BTF)), { source: VMLINUX_BTF });
  const bytes = encodeBtf([...orig.ownTypes()]);
  const again = parseBtf(bytes, { source: "encoded vmlinux" });
  assertSameTypes(orig, again);
  // strings are deduplicated: the re-encoded BTF is no larger than the kernel's
  assert.ok(bytes.length <= orig.bytes.length, `${bytes.length} <= ${orig.bytes.length}`);
  // and encoding is a fixed point
  assert.deepEqual(encodeBtf([...again.ownTypes()]), bytes);
});

test("encodeBtf round trip: clang objects (both byte orders), checked by bpftool", (t) => {
  const why = bpftoolMissing();
  const dir = tmp();
  for (const extraArgs of [[], ["-target", "bpfeb"]]) {
    const { path, bytes } = objBtf(extraArgs);
    const orig = parseBtf(bytes, { source: path });
    const enc = encodeBtf([...orig.ownTypes()], { littleEndian: orig.littleEndian });
    const again = parseBtf(enc);
    assert.equal(again.littleEndian, orig.littleEndian);
    assertSameTypes(orig, again);
    if (why) {
      t.diagnostic(`bpftool comparison skipped: ${why}`);
      continue;
    }
    // libbpf reads our output and sees exactly what it sees in clang's
    const out = join(dir, `enc-${orig.littleEndian ? "el" : "eb"}.btf`);
    writeFileSync(out, enc);
    assert.deepEqual(bpftoolTypes(out), bpftoolTypes(path));
  }
});

test("encodeBtf round trip: split BTF from pahole keeps ids and strings after the base", (t) => {
  const why =
    vmlinuxMissing() ??
    bpftoolMissing() ??
    (haveTool("pahole") && haveTool("gcc")
      ? undefined
      : "needs gcc and pahole (apt-get install gcc dwarves)");
  if (why) return t.skip(why);
  const dir = tmp();
  const src = join(dir, "mod.c");
  writeFileSync(
    src,
    "struct list_head { struct list_head *next, *prev; };\n" +
      "struct wmod { int n; struct list_head *l; const char *name; enum { WA, WB = -3 } e; };\n" +
      "int wmod_fn(struct wmod *w) { return w->n; }\nstruct wmod wmod_g;\n",
  );
  const obj = join(dir, "mod.o");
  assert.equal(spawnSync("gcc", ["-g", "-c", src, "-o", obj]).status, 0);
  assert.equal(spawnSync("pahole", ["-J", "--btf_base", VMLINUX_BTF, obj]).status, 0);
  const base = parseBtf(new Uint8Array(readFileSync(VMLINUX_BTF)), { source: VMLINUX_BTF });
  const splitBytes = parseElf(new Uint8Array(readFileSync(obj)), obj).section(".BTF")!.data;
  const split = parseBtf(splitBytes, { base, source: obj });
  const enc = encodeBtf([...split.ownTypes()], { base });
  const again = parseBtf(enc, { base });
  assertSameTypes(split, again);
  assert.ok(split.nextId > split.firstId);
  const out = join(dir, "enc.btf");
  writeFileSync(out, enc);
  const raw = join(dir, "orig.btf");
  writeFileSync(raw, splitBytes);
  assert.deepEqual(bpftoolTypes(out, VMLINUX_BTF), bpftoolTypes(raw, VMLINUX_BTF));
});

test("encodeBtf round trip: a kernel module's split BTF (.ko built by kbuild + pahole)", (t) => {
  const kernel = findPreparedKernel();
  const why =
    (kernel
      ? undefined
      : "no prepared kernel with a kbuild dir in the kfunc-kit cache (run `kfunc vm prepare`)") ??
    bpftoolMissing();
  if (why || !kernel) return t.skip(why);
  const dir = tmp();
  cpSync(join(REPO_ROOT, "examples/seed"), dir, { recursive: true });
  const make = spawnSync("make", [`KDIR=${kernel.headersDir}`], { cwd: dir, encoding: "utf8" });
  assert.equal(make.status, 0, make.stderr);
  const ko = join(dir, "hello.ko");
  const moduleBtf = parseElf(new Uint8Array(readFileSync(ko)), ko).section(".BTF")!.data;
  const base = parseBtf(new Uint8Array(readFileSync(kernel.btf)), { source: kernel.btf });
  const split = parseBtf(moduleBtf, { base, source: ko });
  assert.ok(split.firstId === base.nextId && split.nextId > split.firstId);
  // the parser agrees with libbpf on the module's own types
  const raw = join(dir, "hello.btf");
  writeFileSync(raw, moduleBtf);
  const libbpf = bpftoolTypes(raw, kernel.btf);
  assert.deepEqual([...split.ownTypes()].map(toBpftool), libbpf.map(normaliseBpftool));
  const again = parseBtf(encodeBtf([...split.ownTypes()], { base }), { base });
  assertSameTypes(split, again);
  const out = join(dir, "enc.btf");
  writeFileSync(out, encodeBtf([...split.ownTypes()], { base }));
  assert.deepEqual(bpftoolTypes(out, kernel.btf), libbpf);
  assert.ok(split.findByName("bpf_kfunc_call_test", "FUNC"), "the seed's kfunc is in the module BTF");
});

test("BtfBuilder: add returns ids, set replaces in place, encode parses back", () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: "INT", name: "int", size: 4, encoding: BTF_INT_SIGNED, bitOffset: 0, bits: 32 });
  const ptr = b.add({ kind: "PTR", name: "", type: int });
  const st = b.add({
    kind: "STRUCT",
    name: "pair",
    size: 16,
    kindFlag: true,
    members: [
      { name: "a", type: int, bitOffset: 0, bitfieldSize: 3 },
      { name: "p", type: ptr, bitOffset: 64, bitfieldSize: 0 },
    ],
  });
  const proto = b.add({ kind: "FUNC_PROTO", name: "", returnType: int, params: [{ name: "x", type: ptr }] });
  const fn = b.add({ kind: "FUNC", name: "f", type: proto, linkage: 1 });
  const tag = b.add({ kind: "DECL_TAG", name: "bpf_kfunc", type: fn, componentIdx: -1 });
  const e64 = b.add({
    kind: "ENUM64",
    name: "e64",
    size: 8,
    signed: false,
    values: [
      { name: "SMALL", value: 1 },
      { name: "HUGE", value: 0xfedcba9876543210n },
    ],
  });
  assert.deepEqual([int, ptr, st, proto, fn, tag, e64], [1, 2, 3, 4, 5, 6, 7]);
  // sanitize like a loader for an old kernel: DECL_TAG → INT with the same id
  b.set(tag, { kind: "INT", name: "", size: 1, encoding: 0, bitOffset: 0, bits: 8 });
  assert.equal(b.get(tag).kind, "INT");
  const btf = b.build();
  assert.equal(btf.nextId, 8);
  assert.equal(btf.findByName("pair")?.id, st);
  assert.equal(btf.sizeof(st), 16);
  assert.deepEqual(btf.typeById(e64), {
    id: 7,
    kind: "ENUM64",
    name: "e64",
    size: 8,
    signed: false,
    values: [
      { name: "SMALL", value: 1 },
      { name: "HUGE", value: 0xfedcba9876543210n },
    ],
  });
  assert.deepEqual(btf.declTagsOf(fn), []);
  // from(): a copy that encodes to the same types
  const copy = BtfBuilder.from(btf);
  copy.add({ kind: "CONST", name: "", type: int });
  assert.equal(copy.build().nextId, 9);
  assert.equal(btf.nextId, 8, "the source is not modified");
});

test("BtfBuilder on a base: split BTF ids start at base.nextId", () => {
  const base = new BtfBuilder();
  const int = base.add({
    kind: "INT",
    name: "int",
    size: 4,
    encoding: BTF_INT_SIGNED,
    bitOffset: 0,
    bits: 32,
  });
  const baseBtf = base.build();
  const split = new BtfBuilder({ base: baseBtf });
  const ptr = split.add({ kind: "PTR", name: "", type: int });
  const td = split.add({ kind: "TYPEDEF", name: "intp", type: ptr });
  assert.deepEqual([ptr, td], [2, 3]);
  const btf = split.build();
  assert.equal(btf.firstId, 2);
  assert.equal(btf.resolve(td).kind, "PTR");
  assert.equal(btf.findByName("int")?.id, 1, "found in the base");
  assert.equal(btf.typeById(td).name, "intp");
});

function expectEncodeError(types: BtfType[], pattern: RegExp): void {
  assert.throws(
    () => encodeBtf(types),
    (e) => isKfuncKitError(e) && e.code === "BTF" && pattern.test(e.message),
  );
}

test("encodeBtf rejects out-of-range fields with a BtfError naming the type", () => {
  const int: BtfType = { id: 1, kind: "INT", name: "int", size: 4, encoding: 1, bitOffset: 0, bits: 32 };
  expectEncodeError([{ ...int, id: 2 }], /its id is 2, but position 0 gives id 1/);
  expectEncodeError(
    [int, { id: 2, kind: "PTR", name: "", type: 9 }],
    /type \[2\].*target \[9\] is not a type id below 3/,
  );
  expectEncodeError(
    [int, { id: 2, kind: "ENUM", name: "e", size: 4, signed: false, values: [{ name: "x", value: -1 }] }],
    /value -1 does not fit a unsigned 32-bit ENUM/,
  );
  expectEncodeError(
    [
      int,
      {
        id: 2,
        kind: "STRUCT",
        name: "s",
        size: 4,
        kindFlag: false,
        members: [{ name: "b", type: 1, bitOffset: 0, bitfieldSize: 2 }],
      },
    ],
    /member 0 is a bitfield but kindFlag is false/,
  );
  expectEncodeError([{ ...int, size: -1 }], /size -1 is not a u32/);
  expectEncodeError([{ ...int, name: "a\0b" }], /NUL byte/);
});

test("encoded BTF loads into the running kernel (BPF_BTF_LOAD)", async (t) => {
  if (!requireRoot(t, "for BPF_BTF_LOAD")) return;
  const { btfLoad } = await import("../../src/sys/bpf-obj.ts");
  const b = new BtfBuilder();
  const int = b.add({ kind: "INT", name: "int", size: 4, encoding: BTF_INT_SIGNED, bitOffset: 0, bits: 32 });
  const st = b.add({
    kind: "STRUCT",
    name: "kk_val",
    size: 8,
    kindFlag: false,
    members: [
      { name: "a", type: int, bitOffset: 0, bitfieldSize: 0 },
      { name: "b", type: int, bitOffset: 32, bitfieldSize: 0 },
    ],
  });
  const proto = b.add({ kind: "FUNC_PROTO", name: "", returnType: int, params: [{ name: "v", type: st }] });
  b.add({ kind: "FUNC", name: "kk_fn", type: proto, linkage: 0 });
  const fd = btfLoad(b.encode(), "builder btf");
  fd.close();
  // every kind the host kernel uses (ENUM64, DECL_TAG, TYPE_TAG, FLOAT, DATASEC…): re-encoded vmlinux loads
  if (!vmlinuxMissing()) {
    const vm = parseBtf(new Uint8Array(readFileSync(VMLINUX_BTF)), { source: VMLINUX_BTF });
    btfLoad(encodeBtf([...vm.ownTypes()]), "re-encoded vmlinux").close();
  } else t.diagnostic(`re-encoded vmlinux not loaded: ${vmlinuxMissing()}`);
  // the kernel refuses a dangling member type: proof that this check can fail
  b.set(st, {
    kind: "STRUCT",
    name: "kk_val",
    size: 8,
    kindFlag: false,
    members: [{ name: "a", type: int, bitOffset: 0, bitfieldSize: 0 }],
  });
  const bad = b.encode();
  new DataView(bad.buffer).setUint32(24 + 16 + 12 + 4, 77, true); // member 0 type of [2] → 77
  assert.throws(
    () => btfLoad(bad, "bad btf"),
    (e) => /BPF_BTF_LOAD/.test(String(e)) && /Invalid member/.test((e as { btfLog: string }).btfLog),
  );
});
