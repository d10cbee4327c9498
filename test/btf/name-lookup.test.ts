/**
 * Name lookups: the first lookups in a base BTF scan (no name index), later ones use the index; both must
 * give the same ids, in the same order, for every kind filter (on this host's vmlinux BTF).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { type BtfTypeKind, parseBtf } from "../../src/btf/index.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const QUERIES: [string, BtfTypeKind | undefined][] = [
  ["task_struct", "STRUCT"],
  ["task_struct", undefined],
  ["bpf_task_from_pid", "FUNC"],
  ["bpf_task_from_pid", "STRUCT"],
  ["int", "INT"],
  ["u32", "TYPEDEF"],
  ["not_a_name_in_any_kernel", undefined],
  ["file", undefined],
  ["btf_trace_sys_enter", "TYPEDEF"],
  ["sys_enter", undefined],
  ["ns", undefined],
  ["next", undefined],
];

test("scanned lookups (before the name index) and indexed ones agree", {
  skip: !existsSync(VMLINUX) && "no vmlinux BTF",
}, () => {
  const bytes = readFileSync(VMLINUX);
  const ids = (b: ReturnType<typeof parseBtf>, all: boolean) =>
    QUERIES.map(([n, k]) => (all ? b.findAllByName(n, k).map((t) => t.id) : [b.findByName(n, k)?.id]));
  // fresh: the first 8 lookups are scans, the rest go through the index
  const scanned = [...ids(parseBtf(bytes), true).slice(0, 8)];
  const firstScanned = ids(parseBtf(bytes), false).slice(0, 8);
  const indexed = parseBtf(bytes);
  for (let i = 0; i < 8; i++) indexed.findByName("warm_up_the_index");
  assert.deepEqual(scanned, ids(indexed, true).slice(0, 8));
  assert.deepEqual(firstScanned, ids(indexed, false).slice(0, 8));
  assert.ok(scanned[0]!.length === 1 && scanned[2]!.length === 1, JSON.stringify(scanned));
  assert.deepEqual(scanned[3], []);
  assert.deepEqual(scanned[6], []);
});
