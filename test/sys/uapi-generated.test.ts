import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { release as osRelease } from "node:os";
import { test } from "node:test";
import {
  ABI_ENUMS,
  GENERATED_PATH,
  HOST_VMLINUX_BTF,
  layoutFields,
  missingAbi,
  missingAbiEnums,
  releaseOf,
  renderUapi,
} from "../../scripts/gen-abi.ts";
import { type BtfType, encodeBtf, parseBtf } from "../../src/btf/index.ts";
import { ATTACH_TYPE, MAP_TYPE, PROG_TYPE } from "../../src/object/uapi.ts";
import { BPF_CMD } from "../../src/sys/bpf.ts";
import { BPF_LINK_TYPE } from "../../src/sys/constants.ts";
import * as generated from "../../src/sys/uapi.generated.ts";

const checkedIn = readFileSync(GENERATED_PATH, "utf8");

test("src/sys/uapi.generated.ts is what `npm run gen:abi` makes from the host's vmlinux BTF", (t) => {
  const fileRelease = releaseOf(checkedIn);
  assert.ok(fileRelease, "the header names the kernel it was generated from");
  if (!existsSync(HOST_VMLINUX_BTF)) return void t.skip(`no ${HOST_VMLINUX_BTF} on this host`);
  const btf = parseBtf(new Uint8Array(readFileSync(HOST_VMLINUX_BTF)), { source: HOST_VMLINUX_BTF });
  const missing = missingAbi(btf);
  if (missing.length > 0) return void t.skip(`the host's vmlinux BTF has no ${missing.join(", ")}`);
  if (fileRelease !== osRelease())
    return void t.skip(
      `generated from Linux ${fileRelease}, the host runs ${osRelease()}: compared only there`,
    );
  assert.equal(renderUapi(btf, osRelease()), checkedIn, "stale: run `npm run gen:abi` and commit the file");
});

test("the pure layer's hand-kept type tables agree with the generated enums; src/sys uses them", () => {
  const same = (ours: Record<string, number>, gen: Record<string, number>, what: string) => {
    for (const [k, v] of Object.entries(ours)) assert.equal(gen[k], v, `${what}.${k}`);
  };
  same(PROG_TYPE, generated.BPF_PROG_TYPE, "BPF_PROG_TYPE");
  same(MAP_TYPE, generated.BPF_MAP_TYPE, "BPF_MAP_TYPE");
  same(ATTACH_TYPE, generated.BPF_ATTACH_TYPE, "BPF_ATTACH_TYPE");
  assert.equal(BPF_CMD, generated.BPF_CMD, "src/sys/bpf.ts uses the generated bpf_cmd");
  assert.equal(
    BPF_LINK_TYPE,
    generated.BPF_LINK_TYPE,
    "src/sys/constants.ts uses the generated bpf_link_type",
  );
  assert.equal(ABI_ENUMS.length, 5);
});

test("renderUapi refuses a BTF without the enums, naming them", () => {
  const types: BtfType[] = [
    {
      id: 1,
      kind: "ENUM",
      name: "bpf_cmd",
      size: 4,
      signed: false,
      values: [{ name: "BPF_MAP_CREATE", value: 0 }],
    },
  ];
  const partial = parseBtf(encodeBtf(types), { source: "partial" });
  assert.deepEqual(missingAbiEnums(partial), [
    "bpf_map_type",
    "bpf_prog_type",
    "bpf_attach_type",
    "bpf_link_type",
  ]);
  assert.throws(() => renderUapi(partial, "x"), /no enum bpf_map_type, bpf_prog_type/);
});

test("layouts flatten anonymous members, prefix named ones, and place bitfields in their unit", () => {
  const u32 = { id: 1, kind: "INT", name: "__u32", size: 4, encoding: 0, bitOffset: 0, bits: 32 } as const;
  const u64 = { id: 2, kind: "INT", name: "__u64", size: 8, encoding: 0, bitOffset: 0, bits: 64 } as const;
  const m = (name: string, type: number, bitOffset: number, bitfieldSize = 0) => ({
    name,
    type,
    bitOffset,
    bitfieldSize,
  });
  const types: BtfType[] = [
    u32,
    u64,
    // union { __u32 prog_fd; __u32 map_fd; }
    {
      id: 3,
      kind: "UNION",
      name: "",
      size: 4,
      kindFlag: false,
      members: [m("prog_fd", 1, 0), m("map_fd", 1, 0)],
    },
    // struct { __u32 flags; __u32 cnt; __u64 syms; } kprobe_multi
    {
      id: 4,
      kind: "STRUCT",
      name: "",
      size: 16,
      kindFlag: false,
      members: [m("flags", 1, 0), m("cnt", 1, 32), m("syms", 2, 64)],
    },
    // struct { union {…}; __u32 gpl:1; __u32 :31; struct {…} kprobe_multi; }
    {
      id: 5,
      kind: "STRUCT",
      name: "outer",
      size: 24,
      kindFlag: true,
      members: [m("", 3, 0), m("gpl", 1, 32, 1), m("", 1, 33, 31), m("kprobe_multi", 4, 64)],
    },
  ];
  const btf = parseBtf(encodeBtf(types), { source: "synthetic" });
  const outer = btf.findByName("outer", "STRUCT");
  assert.ok(outer?.kind === "STRUCT");
  assert.deepEqual(layoutFields(btf, outer), [
    { path: "prog_fd", off: 0, size: 4 },
    { path: "map_fd", off: 0, size: 4 },
    { path: "gpl", off: 4, size: 4, shift: 0, bits: 1 },
    { path: "kprobe_multi", off: 8, size: 16 },
    { path: "kprobe_multi.flags", off: 8, size: 4 },
    { path: "kprobe_multi.cnt", off: 12, size: 4 },
    { path: "kprobe_multi.syms", off: 16, size: 8 },
  ]);
  // the real file: anonymous members of union bpf_attr were found by their first field
  assert.equal(generated.PROG_LOAD_ATTR.fields.prog_type.off, 0);
  assert.equal(generated.MAP_ELEM_ATTR.fields.map_fd.off, 0);
  assert.ok(generated.PROG_LOAD_ATTR.size > generated.PROG_LOAD_ATTR.fields.log_true_size.off);
  assert.ok(generated.BPF_ATTR_SIZE >= generated.PROG_LOAD_ATTR.size);
});

test("missingAbi names every attr member and struct a BTF lacks", () => {
  const partial = parseBtf(
    encodeBtf([{ id: 1, kind: "UNION", name: "bpf_attr", size: 4, kindFlag: false, members: [] }]),
    { source: "partial" },
  );
  const missing = missingAbi(partial);
  assert.ok(
    missing.includes("union bpf_attr's anonymous struct starting with 'prog_type'"),
    missing.join("; "),
  );
  assert.ok(missing.includes("union bpf_attr's member 'link_create'"));
  assert.ok(missing.includes("struct bpf_prog_info"));
  assert.ok(missing.includes("union bpf_iter_link_info"));
  assert.ok(missing.includes("the enum holding BPF_F_NO_PREALLOC"));
});
