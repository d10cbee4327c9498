import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cFuncPrototype } from "../../src/btf/c-printer.ts";
import { parseElf, STB_WEAK } from "../../src/elf/index.ts";
import { isKfuncKitError } from "../../src/errors.ts";
import {
  cloneObjectSpec,
  dataSectionOf,
  INSN_SIZE,
  type ObjectSpec,
  type ProgramSpec,
  parseObject,
} from "../../src/object/index.ts";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";

function load(name: string): { spec: ObjectSpec; bytes: Uint8Array; path: string } {
  const path = compileFixture(name);
  const bytes = new Uint8Array(readFileSync(path));
  return { spec: parseObject(bytes, path), bytes, path };
}

function prog(spec: ObjectSpec, name: string): ProgramSpec {
  const p = spec.programs.find((x) => x.name === name);
  assert.ok(p, `program ${name} in ${spec.programs.map((x) => x.name).join(", ")}`);
  return p;
}

const insnAt = (p: ProgramSpec, i: number) => ({
  code: p.instructions[i * 8]!,
  src: p.instructions[i * 8 + 1]! >> 4,
  imm: new DataView(p.instructions.buffer, p.instructions.byteOffset).getInt32(i * 8 + 4, true),
});

test("seed kfunc.bpf.c: kprobe on do_unlinkat calling the strong kfunc bpf_kfunc_call_test", () => {
  const { spec } = load(join(REPO_ROOT, "examples/seed/kfunc.bpf.c"));
  assert.equal(spec.license, "GPL");
  assert.equal(spec.programs.length, 1);
  const p = prog(spec, "handle_kprobe");
  assert.equal(p.section, "kprobe/do_unlinkat");
  assert.deepEqual(p.type, { id: 2, name: "BPF_PROG_TYPE_KPROBE" });
  assert.equal(p.expectedAttachType, undefined);
  assert.equal(p.attachTarget, "do_unlinkat");
  assert.equal(p.sleepable, false);
  assert.equal(spec.externs.length, 1);
  const ext = spec.externs[0]!;
  assert.equal(ext.kind, "kfunc");
  assert.equal(ext.name, "bpf_kfunc_call_test");
  assert.equal(ext.weak, false);
  // clang writes no parameter names for extern declarations into the object's BTF: types only.
  assert.equal(cFuncPrototype(spec.btf!, ext.btfId), "u64 bpf_kfunc_call_test(u32, u64, u32, u64)");
  const proto = spec.btf!.typeById(ext.typeId);
  assert.equal(proto.kind, "FUNC_PROTO");
  const calls = p.relocations.filter((r) => r.kind === "kfuncCall");
  assert.equal(calls.length, 1);
  const call = insnAt(p, calls[0]!.insnIndex);
  assert.equal(call.code, 0x85, "a kfunc relocation sits on a call instruction");
  assert.equal(call.src, 2, "BPF_PSEUDO_KFUNC_CALL");
  assert.equal(p.funcInfo[0]?.insnIndex, 0);
  assert.equal(spec.btf!.typeById(p.btfFuncId).name, "handle_kprobe");
  assert.ok(p.lineInfo.length > 0);
});

test("obj-maps: BTF maps decode type, key/value types, flags, pinning, inner map and initial values", () => {
  const { spec } = load("obj-maps");
  const m = (name: string) => {
    const x = spec.maps.find((y) => y.name === name);
    assert.ok(x, name);
    return x;
  };
  const btf = spec.btf!;
  const hash = m("events_hash");
  assert.equal(hash.type.name, "BPF_MAP_TYPE_HASH");
  assert.equal(hash.keySize, 4);
  assert.equal(hash.valueSize, 16);
  assert.equal(hash.maxEntries, 1024);
  assert.equal(hash.flags, 1); // BPF_F_NO_PREALLOC
  assert.equal(btf.typeById(hash.keyTypeId).name, "u32");
  assert.equal(btf.resolve(hash.valueTypeId).name, "event");
  assert.equal(m("counters").pinning, 1);
  assert.equal(m("counters").valueSize, 8);
  const rb = m("rb");
  assert.equal(rb.type.name, "BPF_MAP_TYPE_RINGBUF");
  assert.equal(rb.maxEntries, 256 * 1024);
  assert.equal(rb.keySize + rb.valueSize, 0);
  const outer = m("outer");
  assert.equal(outer.type.name, "BPF_MAP_TYPE_ARRAY_OF_MAPS");
  assert.equal(outer.valueSize, 4);
  assert.equal(outer.innerMap?.type.name, "BPF_MAP_TYPE_ARRAY");
  assert.equal(outer.innerMap?.maxEntries, 4);
  assert.deepEqual(outer.initialValues, [
    { index: 0, kind: "map", name: "inner_a" },
    { index: 2, kind: "map", name: "inner_b" },
  ]);
  const jmp = m("jmp_table");
  assert.equal(jmp.type.name, "BPF_MAP_TYPE_PROG_ARRAY");
  assert.deepEqual(jmp.initialValues, [{ index: 1, kind: "program", name: "tail_a" }]);
  for (const x of spec.maps.filter((y) => y.origin === ".maps")) assert.equal(x.dataSection, undefined);
});

test("obj-maps: global data sections carry their bytes, variables and a read-only flag", () => {
  const { spec } = load("obj-maps");
  const d = (name: string) => {
    const x = spec.dataSections.find((y) => y.name === name);
    assert.ok(x, `${name} in ${spec.dataSections.map((y) => y.name).join(", ")}`);
    return x;
  };
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const data = d(".data");
  assert.equal(data.kind, "data");
  assert.equal(dv(data.bytes).getInt32(data.variables.find((v) => v.name === "data_var")!.offset, true), 7);
  const ro = d(".rodata");
  assert.equal(ro.readonly, true);
  const rv = ro.variables.find((v) => v.name === "rodata_var")!;
  assert.equal(dv(ro.bytes).getUint32(rv.offset, true), 42);
  const banner = ro.variables.find((v) => v.name === "banner")!;
  assert.equal(new TextDecoder().decode(ro.bytes.subarray(banner.offset, banner.offset + 9)), "kfunc-kit");
  assert.equal(d(".bss").kind, "bss");
  assert.ok(d(".bss").bytes.every((b) => b === 0));
  assert.equal(d(".data.custom").variables[0]?.name, "custom_var");
  const map = spec.maps.find((x) => x.dataSection === ".rodata")!;
  assert.equal(map.flags & 0x80, 0x80, "BPF_F_RDONLY_PROG");
  assert.equal(map.valueSize, ro.size);
  assert.equal(map.valueTypeId, ro.btfId);
  assert.equal(spec.btf!.typeById(ro.btfId).kind, "DATASEC");
});

test("obj-maps: subprograms are appended once per program and call immediates point at them", () => {
  const { spec, bytes } = load("obj-maps");
  const elf = parseElf(bytes, "obj-maps");
  const text = elf.section(".text")!;
  for (const name of ["first", "second"]) {
    const p = prog(spec, name);
    assert.deepEqual(p.subprograms.map((s) => s.name).sort(), ["add_static", "global_helper"]);
    for (const s of p.subprograms) {
      const sym = elf.symbols.find((y) => y.name === s.name && y.shndx === text.index)!;
      assert.equal(s.insnCount * INSN_SIZE, sym.size);
      // func_info has an entry at every appended subprogram
      assert.ok(
        p.funcInfo.some((f) => f.insnIndex === s.insnIndex && spec.btf!.typeById(f.typeId).name === s.name),
      );
    }
    const calls = p.relocations.filter((r) => r.kind === "subprog");
    assert.ok(calls.length >= 2);
    for (const r of calls) {
      assert.equal(r.kind, "subprog");
      if (r.kind !== "subprog") continue;
      const target = p.subprograms.find((s) => s.name === r.target)!;
      const insn = insnAt(p, r.insnIndex);
      assert.equal(insn.code, 0x85);
      assert.equal(insn.src, 1);
      assert.equal(
        r.insnIndex + insn.imm + 1,
        target.insnIndex,
        `${name}: call at ${r.insnIndex} → ${r.target}`,
      );
    }
    assert.equal(
      p.instructions.length / 8,
      p.subprograms.reduce((n, s) => n + s.insnCount, 0) + (p.subprograms[0]?.insnIndex ?? 0),
    );
  }
  const first = prog(spec, "first");
  const kinds = new Set(first.relocations.map((r) => r.kind));
  for (const k of ["map", "data", "subprog"]) assert.ok(kinds.has(k as never), k);
  assert.ok(first.relocations.some((r) => r.kind === "data" && r.section === ".data.custom"));
  assert.ok(
    first.relocations.some((r) => r.kind === "map" && r.map === "counters"),
    "relocation inside a subprogram",
  );
  for (const r of first.relocations)
    if (r.kind === "map" || r.kind === "data") assert.equal(insnAt(first, r.insnIndex).code, 0x18);
  // tp_btf: TRACING with BPF_TRACE_RAW_TP
  assert.equal(first.type.name, "BPF_PROG_TYPE_TRACING");
  assert.equal(first.expectedAttachType?.name, "BPF_TRACE_RAW_TP");
});

test("obj-maps: CO-RE relocations are decoded and indexed into the program", () => {
  const { spec } = load("obj-maps");
  const first = prog(spec, "first");
  assert.ok(first.coreRelos.length >= 2);
  for (const c of first.coreRelos) {
    assert.equal(c.kindName, "FIELD_BYTE_OFFSET");
    assert.match(c.accessStr, /^0:\d+$/);
    assert.equal(spec.btf!.resolve(c.typeId).name, "task_struct");
    assert.ok(c.insnIndex < first.instructions.length / 8);
  }
  assert.deepEqual(first.coreRelos.map((c) => c.accessStr).sort(), ["0:1", "0:2"]);
});

test("obj-weak: weak and strong kfuncs, ___flavor names, ksyms, kconfig offsets", () => {
  const { spec } = load("obj-weak");
  const e = (name: string) => {
    const x = spec.externs.find((y) => y.name === name);
    assert.ok(x, name);
    return x;
  };
  assert.equal(e("bpf_task_from_pid").weak, false);
  assert.equal(e("bpf_task_from_pid").kind, "kfunc");
  assert.equal(e("bpf_kfunc_call_test").weak, true);
  assert.equal(e("bpf_kfunc_call_test___v2").essentialName, "bpf_kfunc_call_test");
  assert.equal(
    cFuncPrototype(spec.btf!, e("bpf_task_from_pid").btfId),
    "struct task_struct *bpf_task_from_pid(int)",
  );
  assert.equal(e("bpf_prog_active").kind, "ksym");
  assert.equal(e("bpf_prog_active").size, 4);
  assert.equal(e("bpf_link_fops").typeId, 0, "untyped ksym");
  assert.equal(e("bpf_link_fops").weak, true);
  assert.equal(e("CONFIG_HZ").kind, "kconfig");
  assert.deepEqual(
    spec.externs.filter((x) => x.kind === "kconfig").map((x) => [x.name, x.offset, x.size]),
    [
      ["CONFIG_HZ", 0, 4],
      ["LINUX_KERNEL_VERSION", 4, 4],
    ],
  );
  const kconfig = spec.dataSections.find((d) => d.name === ".kconfig")!;
  assert.equal(kconfig.size, 8);
  const p = prog(spec, "probe");
  const addr = p.relocations
    .filter((r) => r.kind === "ksymAddr")
    .map((r) => (r.kind === "ksymAddr" ? r.extern : ""));
  assert.deepEqual(addr.sort(), [
    "bpf_kfunc_call_test",
    "bpf_kfunc_call_test___v2",
    "bpf_link_fops",
    "bpf_prog_active",
  ]);
  const kc = p.relocations.filter((r) => r.kind === "kconfig");
  assert.deepEqual(
    kc.map((r) => (r.kind === "kconfig" ? [r.extern, r.offset] : [])),
    [
      ["CONFIG_HZ", 0],
      ["LINUX_KERNEL_VERSION", 4],
    ],
  );
  for (const r of p.relocations.filter((x) => x.kind === "kfuncCall"))
    assert.equal(insnAt(p, r.insnIndex).src, 2);
  // the weak flag comes from the ELF symbol binding
  const elf = parseElf(readFileSync(compileFixture("obj-weak")), "obj-weak");
  assert.equal(elf.symbols.find((s) => s.name === "bpf_kfunc_call_test")?.bind, STB_WEAK);
});

test("legacy maps section and version section", () => {
  const { spec } = load("obj-legacy");
  assert.equal(spec.kernelVersion, 0x060c00);
  assert.equal(spec.license, "Dual BSD/GPL");
  assert.deepEqual(
    spec.maps.map((m) => [m.name, m.type.name, m.keySize, m.valueSize, m.maxEntries, m.flags, m.origin]),
    [
      ["legacy_hash", "BPF_MAP_TYPE_HASH", 4, 8, 64, 1, "maps"],
      ["legacy_array", "BPF_MAP_TYPE_ARRAY", 4, 4, 2, 0, "maps"],
    ],
  );
  const p = prog(spec, "sock");
  assert.deepEqual(
    p.relocations.map((r) => (r.kind === "map" ? r.map : r.kind)),
    ["legacy_hash", "legacy_array"],
  );
});

test("parsing is deterministic and clone() is deep", () => {
  const { spec, bytes, path } = load("obj-maps");
  const again = parseObject(bytes, path);
  const strip = (s: ObjectSpec) =>
    JSON.stringify({ ...s, btf: undefined, btfExt: undefined }, (_k, v: unknown) =>
      typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Array.from(v) : v,
    );
  assert.equal(strip(again), strip(spec));
  const c = cloneObjectSpec(spec);
  assert.equal(strip(c), strip(spec));
  c.programs[0]!.instructions[4] = 0xff;
  c.programs[0]!.relocations.pop();
  c.maps[0]!.maxEntries = 99;
  c.maps.find((m) => m.name === "outer")!.innerMap!.maxEntries = 77;
  const ro = c.dataSections.find((d) => d.name === ".rodata")!;
  ro.bytes[0] = 0xee;
  assert.equal(
    dataSectionOf(c, c.maps.find((m) => m.dataSection === ".rodata")!)!.bytes[0],
    0xee,
    "a data map's contents are its section's bytes (one owner)",
  );
  assert.ok(!("data" in c.maps.find((m) => m.dataSection === ".rodata")!), "MapSpec keeps no copy");
  assert.equal(strip(spec), strip(again), "the original is untouched");
  assert.equal(c.btf, spec.btf, "BTF is immutable and shared");
});

test("errors name the file, the section and the fix", () => {
  const { bytes } = load("obj-sections");
  // rename "socket" to "sockex" in the section-name string table: an unknown program type
  const elf = parseElf(bytes, "x");
  const sec = elf.sections.find((s) => s.name === "socket")!;
  const shstr = elf.sections[new DataView(bytes.buffer, bytes.byteOffset).getUint16(62, true)]!;
  const copy = bytes.slice();
  const nameOff =
    shstr.offset +
    new DataView(bytes.buffer, bytes.byteOffset).getUint32(
      Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(40, true)) + sec.index * 64,
      true,
    );
  copy.set(new TextEncoder().encode("sockex"), nameOff);
  assert.throws(
    () => parseObject(copy, "renamed.o"),
    (e: unknown) =>
      isKfuncKitError(e) &&
      e.code === "OBJECT" &&
      e.message.includes("file 'renamed.o': section 'sockex': unknown program type") &&
      (e.hint ?? "").includes("known prefixes: socket, sk_reuseport/migrate"),
  );
  assert.throws(
    () => parseObject(new Uint8Array(readFileSync("/bin/true")), "/bin/true"),
    (e: unknown) => isKfuncKitError(e) && e.code === "OBJECT" && /ELF machine 62 is not BPF/.test(e.message),
  );
  assert.throws(
    () =>
      parseObject(
        new TextEncoder().encode("not an elf at all, but long enough to have a header......."),
        "t",
      ),
    (e: unknown) => isKfuncKitError(e) && e.code === "ELF",
  );
});
