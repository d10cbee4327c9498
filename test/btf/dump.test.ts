import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { dumpJson, parseBtfJson } from "../../src/btf/dump-json.ts";
import { dumpRaw } from "../../src/btf/dump-raw.ts";
import { BTF_INT_SIGNED, BtfBuilder, encodeBtf, parseBtf } from "../../src/btf/index.ts";
import type { BtfType } from "../../src/btf/types.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";

function vmlinux() {
  return parseBtf(new Uint8Array(readFileSync(VMLINUX)), { source: VMLINUX });
}

test("raw dump of vmlinux is byte-identical to bpftool's", (t) => {
  if (!existsSync(VMLINUX)) return t.skip(`${VMLINUX} does not exist`);
  const ref = spawnSync("bpftool", ["btf", "dump", "file", VMLINUX], {
    encoding: "utf8",
    maxBuffer: 256 << 20,
  });
  if (ref.error || ref.status !== 0)
    return t.skip(`bpftool is not usable here: ${ref.error?.message ?? ref.stderr}`);
  const ours = dumpRaw(vmlinux());
  const a = ours.split("\n");
  const b = ref.stdout.split("\n");
  const i = a.findIndex((l, k) => l !== b[k]);
  assert.equal(i, -1, `line ${i + 1}: ours ${JSON.stringify(a[i])}, bpftool ${JSON.stringify(b[i])}`);
  assert.equal(a.length, b.length);
});

test("raw dump covers every kind's fields (model BTF)", () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: "INT", name: "int", size: 4, encoding: BTF_INT_SIGNED, bitOffset: 0, bits: 32 });
  b.add({
    kind: "STRUCT",
    name: "s",
    size: 4,
    kindFlag: true,
    members: [{ name: "f", type: int, bitOffset: 3, bitfieldSize: 5 }],
  });
  b.add({
    kind: "ENUM64",
    name: "big",
    size: 8,
    signed: false,
    values: [{ name: "HUGE", value: 18446744073709551615n }],
  });
  b.add({ kind: "ENUM", name: "neg", size: 4, signed: true, values: [{ name: "M", value: -2 }] });
  b.add({ kind: "FWD", name: "u", union: true });
  const btf = parseBtf(b.encode());
  assert.equal(
    dumpRaw(btf),
    [
      "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED",
      "[2] STRUCT 's' size=4 vlen=1",
      "\t'f' type_id=1 bits_offset=3 bitfield_size=5",
      "[3] ENUM64 'big' encoding=UNSIGNED size=8 vlen=1",
      "\t'HUGE' val=18446744073709551615ULL",
      "[4] ENUM 'neg' encoding=SIGNED size=4 vlen=1",
      "\t'M' val=-2",
      "[5] FWD 'u' fwd_kind=union",
      "",
    ].join("\n"),
  );
});

test("JSON dump of vmlinux parses back to the same types, and encodeBtf of them to equal BTF", (t) => {
  if (!existsSync(VMLINUX)) return t.skip(`${VMLINUX} does not exist`);
  const btf = vmlinux();
  const doc = parseBtfJson(dumpJson(btf), "vmlinux.json");
  const original: BtfType[] = [...btf.ownTypes()];
  assert.equal(doc.firstId, 1);
  assert.deepEqual(doc.types, original);
  const again = parseBtf(encodeBtf(doc.types), { source: "re-encoded" });
  assert.equal(again.nextId, btf.nextId);
  for (let id = 1; id < btf.nextId; id++) assert.deepEqual(again.typeById(id), original[id - 1]);
});

test("JSON keeps ENUM64 values beyond 2^53 exact and rejects non-BTF JSON", () => {
  const b = new BtfBuilder();
  b.add({
    kind: "ENUM64",
    name: "big",
    size: 8,
    signed: false,
    values: [
      { name: "HUGE", value: 18446744073709551615n },
      { name: "ONE", value: 1 },
    ],
  });
  const btf = parseBtf(b.encode());
  const text = dumpJson(btf);
  assert.match(text, /"value":"18446744073709551615"/);
  const doc = parseBtfJson(text);
  assert.deepEqual(doc.types, [...btf.ownTypes()]);
  assert.throws(() => parseBtfJson("{}", "x.json"), /x\.json: not a BTF JSON document/);
  assert.throws(() => parseBtfJson("nope", "y.json"), /y\.json: not JSON/);
});
