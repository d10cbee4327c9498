import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { dumpC } from "../../src/btf/c-printer.ts";
import { parseBtf } from "../../src/btf/index.ts";
import { parseObject } from "../../src/object/index.ts";
import { compileFixture } from "../helpers/index.ts";

test("CO-RE records of an object built against our own vmlinux.h decode to kinds, roots and access paths", (t) => {
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(readFileSync("/sys/kernel/btf/vmlinux"));
  } catch (e) {
    t.skip(`no /sys/kernel/btf/vmlinux to print vmlinux.h from (${(e as Error).message})`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "kfunc-kit-vmlinux-h-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "vmlinux.h"), dumpC(parseBtf(raw, { source: "vmlinux" })));
  const path = compileFixture("obj-core", { includeDirs: [dir] });
  const spec = parseObject(new Uint8Array(readFileSync(path)), path);
  const p = spec.programs.find((x) => x.name === "core")!;
  const btf = spec.btf!;
  const kinds = new Set(p.coreRelos.map((c) => c.kindName));
  for (const k of ["FIELD_BYTE_OFFSET", "FIELD_EXISTS", "TYPE_EXISTS", "FIELD_BYTE_SIZE", "ENUMVAL_VALUE"])
    assert.ok(kinds.has(k as never), `${k} in ${[...kinds].join(", ")}`);
  /** Walks an access string from the root type and returns the member names it visits. */
  const walk = (typeId: number, access: string): string[] => {
    const names: string[] = [];
    let cur = btf.resolve(typeId);
    for (const idx of access.split(":").slice(1).map(Number)) {
      if (cur.kind !== "STRUCT" && cur.kind !== "UNION") break;
      const m = cur.members[idx]!;
      names.push(m.name);
      cur = btf.resolve(m.type);
    }
    return names;
  };
  const offsets = p.coreRelos.filter((c) => c.kindName === "FIELD_BYTE_OFFSET");
  assert.deepEqual(
    offsets.map((c) => `${btf.resolve(c.typeId).name}.${walk(c.typeId, c.accessStr).join(".")}`).sort(),
    ["task_struct.real_parent", "task_struct.tgid"],
  );
  const exists = p.coreRelos.find((c) => c.kindName === "FIELD_EXISTS")!;
  assert.deepEqual(walk(exists.typeId, exists.accessStr), ["pid"]);
  assert.equal(btf.resolve(p.coreRelos.find((c) => c.kindName === "TYPE_EXISTS")!.typeId).name, "file");
  const ev = p.coreRelos.find((c) => c.kindName === "ENUMVAL_VALUE")!;
  const en = btf.resolve(ev.typeId);
  assert.equal(en.kind, "ENUM");
  if (en.kind === "ENUM") assert.equal(en.values[Number(ev.accessStr)]?.name, "BPF_MAP_TYPE_RINGBUF");
  for (const c of p.coreRelos) assert.ok(c.insnIndex >= 0 && c.insnIndex < p.instructions.length / 8);
});
