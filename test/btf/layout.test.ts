/**
 * src/btf/layout.ts is the one home of libbpf's size/alignment rules. These tests pin the cases where the two
 * former implementations (layout.ts and the C printer's c-layout.ts) disagreed to what libbpf's btf.c does,
 * and check the vmlinux printer's raw-record fast path (c-flat-layout.ts) against layout.ts on every type.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { flatOf } from "../../src/btf/c-flat.ts";
import { FlatLayout } from "../../src/btf/c-flat-layout.ts";
import { cDeclaration } from "../../src/btf/c-printer.ts";
import { type Btf, BtfBuilder, parseBtf } from "../../src/btf/index.ts";
import { alignOfOrZero, isPacked, sizeOfOrZero } from "../../src/btf/layout.ts";
import { isKfuncKitError } from "../../src/errors.ts";
import { VMLINUX_BTF, vmlinuxMissing } from "./parse-oracle.ts";

const INT = { kind: "INT", name: "int", size: 4, encoding: 1, bitOffset: 0, bits: 32 } as const;

function expectBtfError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => isKfuncKitError(e) && e.code === "BTF" && message.test(e.message));
}

test("libbpf's btf__align_of does not follow VAR (layout.ts used to): alignof(var) is an error", () => {
  const b = new BtfBuilder({ source: "var.btf" });
  const int = b.add(INT);
  const v = b.add({ kind: "VAR", name: "counter", type: int, linkage: 1 });
  const btf = b.build();
  expectBtfError(() => btf.alignof(v), /\[2\] var 'counter' has no alignment/);
  assert.equal(alignOfOrZero(btf, v), 0, "btf__align_of: unsupported kind → 0");
  assert.equal(btf.alignof(int), 4, "the variable's type has one");
  assert.equal(btf.sizeof(v), 4, "btf__resolve_size does follow VAR");
});

test("btf__align_of of a zero-sized int is min(ptr_sz, 0) = 0, not 1; a struct holding one has none either", () => {
  const b = new BtfBuilder({ source: "zero.btf" });
  const int = b.add(INT);
  const z = b.add({ kind: "INT", name: "nothing", size: 0, encoding: 0, bitOffset: 0, bits: 0 });
  const s = b.add({
    kind: "STRUCT",
    name: "holder",
    size: 4,
    kindFlag: false,
    members: [
      { name: "z", type: z, bitOffset: 0, bitfieldSize: 0 },
      { name: "x", type: int, bitOffset: 0, bitfieldSize: 0 },
    ],
  });
  const btf = b.build();
  assert.equal(alignOfOrZero(btf, z), 0);
  expectBtfError(() => btf.alignof(z), /\[2\] int 'nothing' has no alignment/);
  assert.equal(alignOfOrZero(btf, s), 0, "a member without alignment: btf__align_of fails");
  expectBtfError(() => btf.alignof(s), /\[2\] int 'nothing' has no alignment/);
  // btf_is_struct_packed skips members without alignment
  const holder = btf.typeById(s);
  assert.ok(holder.kind === "STRUCT");
  assert.equal(isPacked(btf, holder), false);
});

test("a struct with a member that has no alignment: btf__align_of fails (c-layout.ts said 1)", () => {
  const b = new BtfBuilder({ source: "fwd.btf" });
  const int = b.add(INT);
  const fwd = b.add({ kind: "FWD", name: "opaque", union: false });
  const s = b.add({
    kind: "STRUCT",
    name: "",
    size: 4,
    kindFlag: false,
    members: [
      { name: "o", type: fwd, bitOffset: 0, bitfieldSize: 0 },
      { name: "x", type: int, bitOffset: 0, bitfieldSize: 0 },
    ],
  });
  const btf = b.build();
  assert.equal(alignOfOrZero(btf, s), 0);
  expectBtfError(() => btf.alignof(s), /\[2\] fwd 'opaque' has no alignment/);
  // btf_dump sizes members with max(0, btf__resolve_size()), so the printer still writes the struct
  assert.equal(sizeOfOrZero(btf, fwd), 0);
  expectBtfError(() => btf.sizeof(fwd), /\[2\] fwd 'opaque' has no size/);
  assert.equal(cDeclaration(btf, s, "v"), "struct {\n\tstruct opaque o;\n\tint x;\n} v");
});

test("alignment follows chains deeper than 32 (btf__align_of has no bound); size stops at 32 (MAX_RESOLVE_DEPTH)", () => {
  const b = new BtfBuilder({ source: "deep.btf" });
  let id = b.add(INT);
  for (let i = 0; i < 40; i++) id = b.add({ kind: "CONST", name: "", type: id });
  const btf = b.build();
  assert.equal(btf.alignof(id), 4, "layout.ts used to call this chain corrupt");
  assert.equal(alignOfOrZero(btf, id), 4);
  expectBtfError(() => btf.sizeof(id), /sizeof: chain deeper than 32/);
  assert.equal(sizeOfOrZero(btf, id), 0, "btf_dump: max(0, -EINVAL)");
  assert.equal(btf.sizeof(id - 9), 4, "31 modifiers and the int: within btf__resolve_size's 32");
  // a real cycle is still an error naming it, not a stack overflow
  const c = new BtfBuilder({ source: "cycle.btf" });
  c.add({
    kind: "STRUCT",
    name: "loop",
    size: 4,
    kindFlag: false,
    members: [{ name: "self", type: 1, bitOffset: 0, bitfieldSize: 0 }],
  });
  expectBtfError(() => alignOfOrZero(c.build(), 1), /alignof: type cycle: \[1\] struct 'loop'/);
});

/** Every type: FlatLayout (raw records) and layout.ts give the same size, alignment and packedness. */
function compareWithFastPath(btf: Btf): { types: number; aligned: number; packed: number } {
  const flat = new FlatLayout(flatOf(btf), 8);
  let aligned = 0;
  let packed = 0;
  for (let id = btf.firstId; id < btf.nextId; id++) {
    const t = btf.typeById(id);
    const where = `${btf.source} [${id}] ${t.kind} '${t.name}'`;
    const a = flat.alignOf(id);
    assert.equal(alignOfOrZero(btf, id), a, `alignment of ${where}`);
    assert.equal(sizeOfOrZero(btf, id), flat.sizeOf(id), `size of ${where}`);
    if (a > 0) {
      assert.equal(btf.alignof(id), a, `Btf.alignof of ${where}`);
      aligned++;
    }
    if (t.kind === "STRUCT" || t.kind === "UNION") {
      const p = flat.isPacked(id);
      assert.equal(isPacked(btf, t), p, `packed ${where}`);
      if (p) packed++;
    }
  }
  return { types: btf.nextId - btf.firstId, aligned, packed };
}

test("vmlinux: the printer's fast path (c-flat-layout.ts) and layout.ts agree on every type", (t) => {
  const why = vmlinuxMissing();
  if (why) return t.skip(why);
  const vmlinux = parseBtf(new Uint8Array(readFileSync(VMLINUX_BTF)), { source: VMLINUX_BTF });
  const r = compareWithFastPath(vmlinux);
  assert.ok(r.types > 10_000 && r.aligned > 10_000 && r.packed > 0, JSON.stringify(r));
  t.diagnostic(
    `vmlinux: ${r.types} types, ${r.aligned} with an alignment, ${r.packed} packed structs/unions`,
  );
  // Q931 (netfilter's H.323 helper) nests structs/unions/typedefs more than 32 deep
  const q931 = vmlinux.findByName("Q931", "TYPEDEF");
  if (q931) assert.equal(vmlinux.alignof(q931.id), 4, "Q931: layout.ts used to call its chain corrupt");

  // split BTF on the vmlinux base: a packed struct embedding kernel types, and loaded modules' BTF
  const b = new BtfBuilder({ base: vmlinux, source: "split.btf" });
  const task = vmlinux.findByName("task_struct", "STRUCT");
  assert.ok(task?.kind === "STRUCT", "vmlinux has struct task_struct");
  const ulong = vmlinux.findByName("long unsigned int", "INT")!;
  const arr = b.add({ kind: "ARRAY", name: "", type: ulong.id, indexType: ulong.id, nelems: 3 });
  const own = b.add({
    kind: "STRUCT",
    name: "wrapped",
    size: 1 + task.size + 24,
    kindFlag: false,
    members: [
      { name: "tag", type: vmlinux.findByName("char", "INT")!.id, bitOffset: 0, bitfieldSize: 0 },
      { name: "task", type: task.id, bitOffset: 8, bitfieldSize: 0 },
      { name: "words", type: arr, bitOffset: 8 + task.size * 8, bitfieldSize: 0 },
    ],
  });
  b.add({ kind: "TYPEDEF", name: "wrapped_t", type: own });
  const split = b.build();
  const s = compareWithFastPath(split);
  assert.deepEqual(s, { types: 3, aligned: 3, packed: 1 });
  assert.equal(split.alignof(own), 1, "misplaced members: packed, alignment 1");
  const modules = readdirSync("/sys/kernel/btf").filter((m) => m !== "vmlinux");
  for (const m of modules.slice(0, 5)) {
    const path = `/sys/kernel/btf/${m}`;
    const r = compareWithFastPath(
      parseBtf(new Uint8Array(readFileSync(path)), { base: vmlinux, source: path }),
    );
    t.diagnostic(`${m}: ${r.types} types, ${r.aligned} with an alignment, ${r.packed} packed`);
  }
  if (modules.length === 0) t.diagnostic("no module BTF loaded: split BTF checked on the built one only");
});
