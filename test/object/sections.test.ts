import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parseBtf } from "../../src/btf/index.ts";
import {
  ATTACH_TYPE,
  BPF_F_SLEEPABLE,
  BPF_F_XDP_HAS_FRAGS,
  MAP_TYPE,
  matchSection,
  PROG_TYPE,
  parseObject,
} from "../../src/object/index.ts";
import { compileFixture } from "../helpers/index.ts";
import { SECTION_CASES } from "./section-cases.ts";

test("every libbpf SEC() pattern maps to its program type, attach type, target and sleepable flag", () => {
  const path = compileFixture("obj-sections");
  const spec = parseObject(new Uint8Array(readFileSync(path)), path);
  assert.equal(spec.programs.length, SECTION_CASES.length + 2);
  SECTION_CASES.forEach(([section, type, attach, target, sleepable], i) => {
    const p = spec.programs.find((x) => x.name === `prog_${i}`);
    assert.ok(p, section);
    assert.equal(p.section, section);
    assert.equal(p.type.name, `BPF_PROG_TYPE_${type}`, section);
    assert.equal(p.expectedAttachType?.name, attach === null ? undefined : `BPF_${attach}`, section);
    assert.equal(p.attachTarget, target ?? undefined, section);
    assert.equal(p.sleepable, sleepable, section);
    assert.equal((p.flags & BPF_F_SLEEPABLE) !== 0, sleepable, section);
    assert.equal((p.flags & BPF_F_XDP_HAS_FRAGS) !== 0, section.startsWith("xdp.frags"), section);
  });
  // several programs in one section
  assert.deepEqual(
    spec.programs.filter((p) => p.section === "kprobe/a").map((p) => p.name),
    ["two_a", "two_b"],
  );
});

test("section matching follows libbpf's rules for 'type+', 'type/' and exact patterns", () => {
  assert.equal(matchSection("kprobe")?.def.pattern, "kprobe+");
  assert.equal(matchSection("kprobe")?.attachTarget, undefined);
  assert.equal(matchSection("kprobex/foo"), undefined, "'kprobe+' needs '/' or the end after the prefix");
  assert.equal(matchSection("xdp/foo"), undefined, "'xdp' is exact");
  assert.equal(matchSection("socketfoo"), undefined);
  assert.equal(matchSection("uprobe.s/bin:f")?.def.sleepable, true);
  assert.equal(
    matchSection("tracepoint/syscalls/sys_enter_unlinkat")?.attachTarget,
    "syscalls/sys_enter_unlinkat",
  );
  assert.equal(matchSection("kprobe.session/f")?.def.attachType, ATTACH_TYPE.TRACE_KPROBE_SESSION);
});

test("the UAPI tables match the running kernel's vmlinux BTF enums", (t) => {
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(readFileSync("/sys/kernel/btf/vmlinux"));
  } catch (e) {
    t.skip(`no /sys/kernel/btf/vmlinux on this machine (${(e as Error).message})`);
    return;
  }
  const btf = parseBtf(raw, { source: "vmlinux" });
  const check = (enumName: string, prefix: string, table: Record<string, number>) => {
    const en = btf.findByName(enumName, "ENUM");
    assert.ok(en && en.kind === "ENUM", enumName);
    const kernel = new Map(en.values.map((v) => [v.name, Number(v.value)]));
    for (const [k, v] of Object.entries(table)) {
      const kv = kernel.get(`${prefix}${k}`);
      // the running kernel may be older than the table; a value it has must agree
      if (kv !== undefined) assert.equal(v, kv, `${prefix}${k}`);
    }
    assert.ok(Object.keys(table).filter((k) => kernel.has(`${prefix}${k}`)).length > 10, enumName);
  };
  check("bpf_prog_type", "BPF_PROG_TYPE_", PROG_TYPE);
  check("bpf_map_type", "BPF_MAP_TYPE_", MAP_TYPE);
  check("bpf_attach_type", "BPF_", ATTACH_TYPE);
});
