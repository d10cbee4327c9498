import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type Btf, parseBtf } from "../../src/btf/index.ts";
import { parseElf } from "../../src/elf/index.ts";
import { isKfuncKitError } from "../../src/errors.ts";
import { compileFixture } from "../helpers/index.ts";
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

function btfOf(objPath: string): Uint8Array {
  const elf = parseElf(new Uint8Array(readFileSync(objPath)), objPath);
  const s = elf.section(".BTF");
  assert.ok(s, `${objPath} has a .BTF section`);
  return s.data;
}

function assertMatchesBpftool(btf: Btf, file: string, base?: string): number {
  const expected = bpftoolTypes(file, base);
  const own = [...btf.ownTypes()];
  assert.equal(own.length, expected.length, "type count matches bpftool");
  for (let i = 0; i < own.length; i++) {
    const want = normaliseBpftool(expected[i]!);
    const got = toBpftool(own[i]!);
    if (JSON.stringify(got) !== JSON.stringify(want)) assert.deepEqual(got, want, `type [${want["id"]}]`);
  }
  return own.length;
}

test("vmlinux BTF: every type matches bpftool's decoding", (t) => {
  const why = vmlinuxMissing() ?? bpftoolMissing();
  if (why) return t.skip(why);
  const btf = parseBtf(new Uint8Array(readFileSync(VMLINUX_BTF)), { source: VMLINUX_BTF });
  assert.equal(btf.firstId, 1);
  assert.equal(btf.base, undefined);
  const n = assertMatchesBpftool(btf, VMLINUX_BTF);
  assert.equal(btf.nextId, n + 1);
  assert.ok(n > 1000, `vmlinux has many types (${n})`);
});

test("vmlinux BTF: name index, kinds, decl tags, resolve", (t) => {
  const why = vmlinuxMissing();
  if (why) return t.skip(why);
  const btf = parseBtf(new Uint8Array(readFileSync(VMLINUX_BTF)), { source: VMLINUX_BTF });
  const task = btf.findByName("task_struct", "STRUCT");
  assert.ok(task && task.kind === "STRUCT");
  assert.equal(btf.sizeof(task.id), task.size);
  assert.equal(btf.findByName("task_struct", "FWD")?.kind ?? "FWD", "FWD");
  assert.equal(btf.findByName("no_such_type_name_xyz"), undefined);
  assert.equal(btf.findByName(""), undefined);
  // every name found by a linear scan is found by the index, with all its ids in ascending order
  const byName = new Map<string, number[]>();
  for (const ty of btf.ownTypes()) {
    if (!ty.name) continue;
    const list = byName.get(ty.name);
    if (list) list.push(ty.id);
    else byName.set(ty.name, [ty.id]);
  }
  for (const [name, ids] of byName) {
    const found = btf.findAllByName(name).map((x) => x.id);
    if (found.join() !== ids.join()) assert.deepEqual(found, ids, `findAllByName(${JSON.stringify(name)})`);
  }
  const pid = btf.findByName("pid_t", "TYPEDEF");
  assert.ok(pid);
  assert.equal(btf.resolve(pid.id).kind, "INT");
  assert.equal(btf.sizeof(pid.id), 4);
  assert.equal(btf.alignof(pid.id), 4);
  // the host kernel (6.18) tags kfuncs with DECL_TAG "bpf_kfunc"
  const kf = btf.findByName("bpf_task_from_pid", "FUNC");
  if (kf) assert.ok(btf.declTagsOf(kf.id).some((d) => d.name === "bpf_kfunc" && d.componentIdx === -1));
  assert.deepEqual(btf.declTagsOf(0), []);
});

test("clang object BTF (little and big endian): every type matches bpftool", (t) => {
  const why = bpftoolMissing();
  if (why) return t.skip(why);
  for (const extraArgs of [[], ["-target", "bpfeb"]]) {
    const obj = compileFixture(RICH, { extraArgs });
    const btf = parseBtf(btfOf(obj), { source: obj });
    assert.equal(btf.littleEndian, extraArgs.length === 0);
    assertMatchesBpftool(btf, obj);
  }
});

test("sizeof/alignof agree with clang's sizeof/_Alignof", () => {
  const obj = compileFixture(RICH);
  const elf = parseElf(new Uint8Array(readFileSync(obj)), obj);
  const btf = parseBtf(elf.section(".BTF")!.data, { source: obj });
  const sym = elf.symbols.find((s) => s.name === "layout_probe");
  assert.ok(sym);
  const data = elf.sections[sym.shndx]!.data;
  const dv = new DataView(data.buffer, data.byteOffset + sym.value, sym.size);
  const probe = Array.from({ length: sym.size / 4 }, (_, i) => dv.getUint32(i * 4, true));
  const id = (name: string, kind?: "STRUCT" | "UNION" | "TYPEDEF" | "ENUM") => {
    const ty = btf.findByName(name, kind);
    assert.ok(ty, `type ${name}`);
    return ty.id;
  };
  const got = [
    btf.sizeof(id("task_like", "STRUCT")),
    btf.alignof(id("task_like", "STRUCT")),
    btf.sizeof(id("packed_thing")),
    btf.alignof(id("packed_thing")),
    btf.sizeof(id("small_union", "UNION")),
    btf.alignof(id("small_union", "UNION")),
    btf.sizeof(id("nested")),
    btf.alignof(id("nested")),
    btf.sizeof(id("task_t")),
    btf.sizeof(id("callback_t")),
    btf.sizeof(id("big")),
    btf.alignof(id("big")),
  ];
  assert.deepEqual(got, probe);
  // VAR sizes are their type's size; the layout_probe array is 12 u32s
  const v = btf.findByName("layout_probe", "VAR")!;
  assert.equal(btf.sizeof(v.id), 48);
  // modifiers: const volatile int → skipModifiers reaches int, resolve too; typedef stops skipModifiers
  const cfg = btf.findByName("config_value", "VAR");
  assert.ok(cfg && cfg.kind === "VAR");
  assert.equal(btf.typeById(cfg.type).kind, "CONST");
  assert.equal(btf.skipModifiers(cfg.type).name, "int");
  assert.equal(btf.skipModifiers(id("task_t")).kind, "TYPEDEF");
  assert.equal(btf.resolve(id("task_t")).name, "task_like");
  // a FUNC has no size: a BtfError naming the type
  const fn = btf.findByName("handle", "FUNC")!;
  assert.throws(
    () => btf.sizeof(fn.id),
    (e) => isKfuncKitError(e) && e.code === "BTF" && /func 'handle' has no size/.test(e.message),
  );
});

test("clang object BTF: bitfields, decl tags, type tags, ksyms", () => {
  const obj = compileFixture(RICH);
  const btf = parseBtf(btfOf(obj), { source: obj });
  const task = btf.findByName("task_like", "STRUCT");
  assert.ok(task?.kind === "STRUCT");
  assert.ok(task.kindFlag);
  const flags = task.members.find((m) => m.name === "flags")!;
  const state = task.members.find((m) => m.name === "state")!;
  assert.deepEqual(
    [flags.bitOffset, flags.bitfieldSize, state.bitOffset, state.bitfieldSize],
    [32, 3, 35, 5],
  );
  const helper = btf.findByName("helper_sub", "FUNC")!;
  assert.deepEqual(
    btf.declTagsOf(helper.id).map((d) => [d.name, d.componentIdx]),
    [["arg_tag", 0]],
  );
  const tagged = btf.findByName("tagged_global", "VAR")!;
  assert.deepEqual(
    btf.declTagsOf(tagged.id).map((d) => d.name),
    ["global_tag"],
  );
  const user = btf.findByName("user", "TYPE_TAG");
  assert.ok(user && user.kind === "TYPE_TAG");
  assert.equal(btf.skipModifiers(user.id).name, "int");
  const ksyms = btf.findByName(".ksyms", "DATASEC");
  assert.ok(ksyms?.kind === "DATASEC");
  const ext = btf.typeById(ksyms.vars[0]!.type);
  assert.ok(ext.kind === "FUNC" && ext.name === "bpf_task_acquire" && ext.linkage === 2);
  const color = btf.findByName("color", "ENUM");
  assert.ok(color?.kind === "ENUM");
  // clang 14 emits unsigned enums: -1 is 0xffffffff
  assert.deepEqual(
    color.values.map((v) => v.value),
    [0xffffffff, 1, 2],
  );
  assert.equal(btf.typeById(0).kind, "VOID");
  assert.throws(() => btf.typeById(btf.nextId), /no such type/);
  assert.throws(() => btf.typeById(-1), /no such type/);
  assert.throws(() => btf.string(1 << 30), /string offset/);
});

function splitFixture(dir: string): { path: string; bytes: Uint8Array } {
  const src = join(dir, "mod.c");
  writeFileSync(
    src,
    `struct task_struct;
struct list_head { struct list_head *next, *prev; };
struct my_mod_state { int refs; struct task_struct *owner; struct list_head *l; unsigned long flags; };
int my_mod_fn(struct my_mod_state *s, struct list_head *h) { return s->refs + (h != 0); }
struct my_mod_state g_state;
`,
  );
  const obj = join(dir, "mod.o");
  const cc = spawnSync("gcc", ["-g", "-O1", "-c", src, "-o", obj], { encoding: "utf8" });
  assert.equal(cc.status, 0, cc.stderr);
  const ph = spawnSync("pahole", ["-J", "--btf_base", VMLINUX_BTF, obj], { encoding: "utf8" });
  assert.equal(ph.status, 0, ph.stderr);
  const bytes = btfOf(obj);
  const path = join(dir, "mod.btf");
  writeFileSync(path, bytes);
  return { path, bytes };
}

test("split BTF (pahole --btf_base vmlinux): ids and strings continue after the base", (t) => {
  const why =
    vmlinuxMissing() ??
    bpftoolMissing() ??
    (haveTool("pahole") && haveTool("gcc")
      ? undefined
      : "needs gcc and pahole (apt-get install gcc dwarves)");
  if (why) return t.skip(why);
  const base = parseBtf(new Uint8Array(readFileSync(VMLINUX_BTF)), { source: VMLINUX_BTF });
  const dir = mkdtempSync(join(tmpdir(), "kfunc-kit-split-"));
  temps.push(dir);
  const { path, bytes } = splitFixture(dir);
  const split = parseBtf(bytes, { base, source: path });
  assert.equal(split.base, base);
  assert.equal(split.firstId, base.nextId);
  assert.equal(split.source, path);
  assertMatchesBpftool(split, path, VMLINUX_BTF);
  const st = split.findByName("my_mod_state", "STRUCT");
  assert.ok(st?.kind === "STRUCT" && st.id >= base.nextId);
  // members point into the base (int, list_head deduplicated against vmlinux's)
  const refs = st.members[0]!;
  assert.ok(refs.type < base.nextId);
  assert.equal(split.typeById(refs.type).name, "int");
  const lh = split.findByName("list_head", "STRUCT");
  assert.ok(lh && lh.id < base.nextId, "list_head is found in the base");
  assert.equal(
    split.findAllByName("list_head", "STRUCT").length,
    base.findAllByName("list_head", "STRUCT").length,
  );
  assert.equal(split.sizeof(st.id), 32);
  assert.equal(split.alignof(st.id), 8);
  assert.equal(split.typeById(1).id, 1);
  assert.equal(split.string(0), "");
  // the same bytes without a base: string and type ids point below the section
  assert.throws(
    () => [...parseBtf(bytes, { source: path }).ownTypes()],
    (e) =>
      isKfuncKitError(e) &&
      e.code === "BTF" &&
      e.message.startsWith(path) &&
      /split BTF.*\{ base: vmlinux BTF \}/.test(e.hint ?? ""),
  );
});

test("parseBtf works on Node Buffers and unaligned sub-views", () => {
  const obj = compileFixture(RICH);
  const btf = btfOf(obj);
  const want = JSON.stringify([...parseBtf(btf).ownTypes()]);
  // an odd byteOffset inside a larger buffer: no aligned typed-array views may be assumed
  const host = new Uint8Array(btf.length + 7);
  host.set(btf, 3);
  assert.equal(JSON.stringify([...parseBtf(host.subarray(3, 3 + btf.length)).ownTypes()]), want);
  const buf = Buffer.concat([Buffer.from([1]), Buffer.from(btf)]).subarray(1);
  assert.equal(JSON.stringify([...parseBtf(buf).ownTypes()]), want);
});

/** Raw vmlinux BTF of every kernel `kfunc vm prepare` unpacked into the cache (other kernels, other paholes). */
function cachedKernelBtfs(): string[] {
  const root =
    process.env["KFUNC_KIT_CACHE"] ??
    join(process.env["XDG_CACHE_HOME"] || join(homedir(), ".cache"), "kfunc-kit");
  const dir = join(root, "kernels");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((release) => join(dir, release, "vmlinux.btf"))
    .filter((f) => existsSync(f));
}

test("BTF of other kernels (the kfunc-kit kernel cache) matches bpftool", (t) => {
  const files = cachedKernelBtfs();
  const why =
    bpftoolMissing() ??
    (files.length ? undefined : "no kernels in the kfunc-kit cache (run `kfunc vm prepare`)");
  if (why) return t.skip(why);
  for (const file of files) {
    const btf = parseBtf(new Uint8Array(readFileSync(file)), { source: file });
    const n = assertMatchesBpftool(btf, file);
    t.diagnostic(`${file}: ${n} types match`);
    assert.ok(btf.findByName("task_struct", "STRUCT"));
  }
});
