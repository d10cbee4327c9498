// Pure parts of kfunc resolution: split-BTF lookup, prototype checks, fd_array, instruction patching.
// No kernel needed: "vmlinux" and the module's split BTF are built with the BTF writer.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Btf, BtfBuilder } from "../../src/btf/index.ts";
import { type KernelBtfs, resolveKfunc } from "../../src/link/kfunc-resolve.ts";
import {
  applyRelocations,
  type ExternResolution,
  FdArray,
  KFUNC_POISON_BASE,
} from "../../src/link/relocate.ts";
import type { ExternSpec, ProgramSpec } from "../../src/object/types.ts";

function vmlinux(): Btf {
  const b = new BtfBuilder({ source: "vmlinux" });
  const u32 = b.add({ kind: "INT", name: "unsigned int", size: 4, encoding: 0, bitOffset: 0, bits: 32 });
  const u64 = b.add({
    kind: "INT",
    name: "long long unsigned int",
    size: 8,
    encoding: 0,
    bitOffset: 0,
    bits: 64,
  });
  const proto = b.add({ kind: "FUNC_PROTO", name: "", returnType: u64, params: [{ name: "x", type: u32 }] });
  b.add({ kind: "FUNC", name: "bpf_vmlinux_kfunc", type: proto, linkage: 1 });
  return b.build();
}

/** Split BTF of a module "hello" with `u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)`. */
function moduleBtf(base: Btf): Btf {
  const b = new BtfBuilder({ base, source: "hello" });
  const proto = b.add({
    kind: "FUNC_PROTO",
    name: "",
    returnType: 2,
    params: [
      { name: "a", type: 1 },
      { name: "b", type: 2 },
      { name: "c", type: 1 },
      { name: "d", type: 2 },
    ],
  });
  b.add({ kind: "FUNC", name: "bpf_kfunc_call_test", type: proto, linkage: 1 });
  return b.build();
}

/** The object's BTF: the extern's FUNC_PROTO as the program declared it. */
function objectBtf(secondArg: "u64" | "u32"): { btf: Btf; protoId: number } {
  const b = new BtfBuilder({ source: "prog.bpf.o" });
  const u32 = b.add({ kind: "INT", name: "u32", size: 4, encoding: 0, bitOffset: 0, bits: 32 });
  const u64 = b.add({ kind: "INT", name: "u64", size: 8, encoding: 0, bitOffset: 0, bits: 64 });
  const protoId = b.add({
    kind: "FUNC_PROTO",
    name: "",
    returnType: u64,
    params: [
      { name: "", type: u32 },
      { name: "", type: secondArg === "u64" ? u64 : u32 },
      { name: "", type: u32 },
      { name: "", type: u64 },
    ],
  });
  b.add({ kind: "FUNC", name: "bpf_kfunc_call_test", type: protoId, linkage: 2 });
  return { btf: b.build(), protoId };
}

function ext(name: string, typeId: number, weak: boolean): ExternSpec {
  return {
    kind: "kfunc",
    name,
    essentialName: name.replace(/___.*$/, ""),
    weak,
    btfId: 0,
    typeId,
    offset: 0,
    size: 0,
  };
}

function kernel(base: Btf, mod: Btf): KernelBtfs & { calls: number } {
  const k = {
    vmlinux: base,
    calls: 0,
    modules() {
      k.calls++;
      return [{ name: "hello", fd: 77, btf: mod }];
    },
  };
  return k;
}

test("a module kfunc is found in split BTF after vmlinux; ids continue after the base", () => {
  const base = vmlinux();
  const mod = moduleBtf(base);
  const { btf, protoId } = objectBtf("u64");
  const k = kernel(base, mod);
  const r = resolveKfunc(ext("bpf_kfunc_call_test___v2", protoId, false), btf, k);
  assert.ok(r);
  assert.equal(r.module?.name, "hello");
  assert.ok(r.id >= base.nextId, `split id ${r.id} continues after base ${base.nextId}`);
  assert.equal(mod.typeById(r.id).name, "bpf_kfunc_call_test");
});

test("vmlinux is searched first: module BTF is not enumerated for a vmlinux kfunc", () => {
  const base = vmlinux();
  const k = kernel(base, moduleBtf(base));
  const b = new BtfBuilder();
  const u32 = b.add({ kind: "INT", name: "u32", size: 4, encoding: 0, bitOffset: 0, bits: 32 });
  const u64 = b.add({ kind: "INT", name: "u64", size: 8, encoding: 0, bitOffset: 0, bits: 64 });
  const p = b.add({ kind: "FUNC_PROTO", name: "", returnType: u64, params: [{ name: "", type: u32 }] });
  const r = resolveKfunc(ext("bpf_vmlinux_kfunc", p, false), b.build(), k);
  assert.equal(r?.module, undefined);
  assert.equal(k.calls, 0);
});

test("incompatible prototype: strong extern → libbpf's message with both ids; weak → unresolved", () => {
  const base = vmlinux();
  const k = kernel(base, moduleBtf(base));
  const { btf, protoId } = objectBtf("u32");
  assert.throws(() => resolveKfunc(ext("bpf_kfunc_call_test", protoId, false), btf, k), {
    code: "KFUNC",
    message:
      /extern \(func ksym\) 'bpf_kfunc_call_test': func_proto \[\d+\] incompatible with module 'hello' \[\d+\]/,
  });
  assert.equal(resolveKfunc(ext("bpf_kfunc_call_test", protoId, true), btf, k), undefined);
  assert.throws(
    () => resolveKfunc(ext("nope", protoId, false), btf, k),
    /not found in kernel or module BTFs/,
  );
  assert.equal(resolveKfunc(ext("nope", protoId, true), btf, k), undefined);
});

test("fd_array: slot 0 unused, one slot per module BTF fd", () => {
  const a = new FdArray();
  assert.equal(a.toInt32Array(), undefined, "no module kfunc → no fd_array");
  assert.equal(a.slotFor(77), 1);
  assert.equal(a.slotFor(78), 2);
  assert.equal(a.slotFor(77), 1);
  assert.deepEqual([...a.toInt32Array()!], [0, 77, 78]);
});

function insnBytes(list: [code: number, regs: number, off: number, imm: number][]): Uint8Array {
  const b = new Uint8Array(list.length * 8);
  const v = new DataView(b.buffer);
  list.forEach(([code, regs, off, imm], i) => {
    b[i * 8] = code;
    b[i * 8 + 1] = regs;
    v.setInt16(i * 8 + 2, off, true);
    v.setInt32(i * 8 + 4, imm, true);
  });
  return b;
}

test("patching: module kfunc call, ksym ld_imm64 with the BTF fd, poisoned weak call, zeroed weak ksym", () => {
  const prog = {
    name: "p",
    section: "tp_btf/sys_enter",
    relocations: [
      { kind: "kfuncCall", extern: "mod_kfunc", insnIndex: 0, symbol: "mod_kfunc" },
      { kind: "ksymAddr", extern: "mod_kfunc", insnIndex: 1, symbol: "mod_kfunc" },
      { kind: "kfuncCall", extern: "weak_missing", insnIndex: 3, symbol: "weak_missing" },
      { kind: "ksymAddr", extern: "weak_missing", insnIndex: 4, symbol: "weak_missing" },
      { kind: "map", map: "m", insnIndex: 6, symbol: "m" },
      { kind: "data", section: ".bss", offset: 16, insnIndex: 8, symbol: "x" },
    ],
  } as unknown as ProgramSpec;
  const bytes = insnBytes([
    [0x85, 0x10, 0, -1],
    [0x18, 0x01, 0, 0],
    [0x00, 0, 0, 0],
    [0x85, 0x10, 0, -1],
    [0x18, 0x01, 0, 0],
    [0x00, 0, 0, 0],
    [0x18, 0x01, 0, 0],
    [0x00, 0, 0, 0],
    [0x18, 0x01, 0, 0],
    [0x00, 0, 0, 0],
  ]);
  const res: Record<string, { resolution: ExternResolution; index: number }> = {
    mod_kfunc: { resolution: { kind: "kfunc", btfId: 130001, btfFd: 77, fdArraySlot: 1 }, index: 0 },
    weak_missing: { resolution: { kind: "unresolved" }, index: 3 },
  };
  applyRelocations(prog, bytes, {
    mapFd: (n) => (n === "m" ? 9 : undefined),
    dataMapFd: (s) => (s === ".bss" ? 10 : undefined),
    extern: (n) => res[n],
  });
  const v = new DataView(bytes.buffer);
  const at = (i: number) => ({
    code: bytes[i * 8],
    src: bytes[i * 8 + 1]! >> 4,
    off: v.getInt16(i * 8 + 2, true),
    imm: v.getInt32(i * 8 + 4, true),
  });
  assert.deepEqual(
    at(0),
    { code: 0x85, src: 2, off: 1, imm: 130001 },
    "kfunc call: src 2, imm BTF id, off = slot",
  );
  assert.deepEqual(at(1), { code: 0x18, src: 3, off: 0, imm: 130001 }, "ld_imm64: BPF_PSEUDO_BTF_ID");
  assert.equal(at(2).imm, 77, "second imm is the module BTF fd, not the fd_array slot");
  assert.deepEqual(at(3), { code: 0x85, src: 0, off: 0, imm: KFUNC_POISON_BASE + 3 }, "weak call poisoned");
  assert.deepEqual([at(4).src, at(4).imm, at(5).imm], [0, 0, 0], "weak ksym → 0 (bpf_ksym_exists false)");
  assert.deepEqual([at(6).src, at(6).imm], [1, 9], "map: BPF_PSEUDO_MAP_FD");
  assert.deepEqual(
    [at(8).src, at(8).imm, at(9).imm],
    [2, 10, 16],
    "global data: BPF_PSEUDO_MAP_VALUE + offset",
  );
});
