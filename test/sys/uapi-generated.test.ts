import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { release as osRelease } from "node:os";
import { test } from "node:test";
import {
  ABI_ENUMS,
  GENERATED_PATH,
  HOST_VMLINUX_BTF,
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
  const missing = missingAbiEnums(btf);
  if (missing.length > 0) return void t.skip(`the host's vmlinux BTF has no enum ${missing.join(", ")}`);
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
