/** Cutting BPF objects out of a binary (as libbpf-tools' skeletons embed them), by their ELF headers. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parseObject } from "../../src/object/index.ts";
import { compileFixture } from "../helpers/index.ts";
import { extractBpfObjects } from "./corpus.ts";

test("every embedded BPF ELF is found and cut at its section header table's end; other ELFs are not", () => {
  const a = new Uint8Array(readFileSync(compileFixture("obj-maps")));
  const b = new Uint8Array(readFileSync(compileFixture("obj-weak")));
  // the host ELF of the test runner itself (x86-64: e_machine 62) must be passed over
  const host = new Uint8Array(readFileSync(process.execPath).subarray(0, 4096));
  const junk = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 9, 9, 9]); // a bare magic, not an ELF header
  const blob = Buffer.concat([host, junk, a, new Uint8Array(13), b, junk]);
  const found = extractBpfObjects(new Uint8Array(blob));
  assert.equal(found.length, 2);
  assert.deepEqual(found[0], a);
  assert.deepEqual(found[1], b);
  assert.ok(parseObject(found[1]!, "obj-weak (extracted)").programs.length > 0);
  assert.deepEqual(extractBpfObjects(a), [a], "an object at offset 0 is found too");
});
