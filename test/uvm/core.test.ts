import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { type Btf, type BtfStruct, parseBtf } from "../../src/btf/index.ts";
import { parseObject } from "../../src/object/index.ts";
import { UvmFault } from "../../src/uvm/fault.ts";
import { UvmObject } from "../../src/uvm/object.ts";
import { compileFixture } from "../helpers/index.ts";

// CO-RE in the userspace runtime: the same object relocated against two BTFs reads different ctx bytes.
const HOST_BTF = "/sys/kernel/btf/vmlinux";

function objectSpec(name: string) {
  const path = compileFixture(name);
  return parseObject(new Uint8Array(readFileSync(path)), path);
}

function memberOffset(btf: Btf, struct: string, member: string): number | undefined {
  const t = btf.findByName(struct, "STRUCT") as BtfStruct | undefined;
  const m = t?.members.find((x) => x.name === member);
  return m === undefined ? undefined : m.bitOffset / 8;
}

/** A task_struct image: every 4-byte slot holds its own offset, so r0 says which offset was read. */
function image(size: number): Uint8Array {
  const v = new DataView(new ArrayBuffer(size));
  for (let o = 0; o + 4 <= size; o += 4) v.setUint32(o, o, true);
  return new Uint8Array(v.buffer);
}

function run(btf: Btf, engine: "jit" | "js" | "interp", program: string, ctxSize: number): number {
  const obj = new UvmObject(objectSpec("uvm-core"), { engine, btf, maxCtx: ctxSize }).load();
  return Number(BigInt.asIntN(32, obj.program(program).run({ ctx: image(ctxSize) }).r0));
}

test("CO-RE in the uvm: task_struct.pid is read at the host vmlinux BTF's offset, a missing field is reported missing", {
  skip: existsSync(HOST_BTF) ? false : `${HOST_BTF} does not exist (no kernel BTF on this host)`,
}, () => {
  const host = parseBtf(new Uint8Array(readFileSync(HOST_BTF)), { source: HOST_BTF });
  const pid = memberOffset(host, "task_struct", "pid");
  assert.ok(pid !== undefined && pid > 0, "the host's task_struct has pid");
  const size = host.sizeof(host.findByName("task_struct", "STRUCT")!.id);
  for (const engine of ["jit", "js", "interp"] as const) {
    assert.equal(run(host, engine, "pid_offset", size), pid, engine);
    assert.equal(run(host, engine, "read_pid", size), pid, `${engine}: the bytes at the relocated offset`);
    assert.equal(run(host, engine, "moved_field", size), -1, `${engine}: bpf_core_field_exists is false`);
    assert.throws(
      () => run(host, engine, "unguarded", size),
      (e: unknown) =>
        e instanceof UvmFault && e.kind === "core" && /uvm-core\.bpf\.c:\d+: .*unguarded/.test(e.line ?? ""),
      `${engine}: the poisoned read faults when reached, with its source line`,
    );
  }
});

test("CO-RE in the uvm: against a named BTF where pid moved (and the extra field exists) the new offsets are used", () => {
  const target = objectSpec("uvm-core-target").btf!;
  assert.equal(memberOffset(target, "task_struct", "pid"), 44);
  assert.equal(memberOffset(target, "task_struct", "kfunc_kit_moved_field"), 40);
  for (const engine of ["jit", "js", "interp"] as const) {
    assert.equal(run(target, engine, "pid_offset", 48), 44, engine);
    assert.equal(run(target, engine, "read_pid", 48), 44, `${engine}: read at the moved offset`);
    assert.equal(run(target, engine, "unguarded", 48), 40, engine);
    assert.equal(
      run(target, engine, "moved_field", 48),
      40,
      `${engine}: BPF_CORE_READ of the field that exists here`,
    );
  }
});
