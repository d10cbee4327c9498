/**
 * Global data has one owner: the data section. A global data map names its section and keeps no copy;
 * setGlobal/getGlobal (src/object/globals.ts) edit and read the section's bytes through the BTF codec, so
 * what the loader (and the userspace runtime) copies into the map is exactly what was set. Pure: no kernel.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { UsageError } from "../../src/errors.ts";
import {
  cloneObjectSpec,
  dataSectionOf,
  findGlobal,
  getGlobal,
  parseObject,
  setGlobal,
} from "../../src/object/index.ts";
import { compileFixture } from "../helpers/index.ts";

const load = () => parseObject(readFileSync(compileFixture("attach-trace")), "attach-trace.bpf.o");

test("setGlobal writes the section's bytes (the map's contents), getGlobal reads them back", () => {
  const spec = load();
  const { ds, v } = findGlobal(spec, "target_pid");
  const map = spec.maps.find((m) => m.dataSection === ds.name)!;
  assert.ok(map, `a map for ${ds.name}`);
  assert.ok(!("data" in map), "MapSpec keeps no copy of the contents");
  assert.equal(dataSectionOf(spec, map), ds);
  setGlobal(spec, "target_pid", 4242);
  assert.equal(getGlobal(spec, "target_pid"), 4242);
  assert.equal(new DataView(ds.bytes.buffer, ds.bytes.byteOffset).getUint32(v.offset, true), 4242);
  setGlobal(spec, "prefix", "/tmp/x-");
  assert.equal(getGlobal(spec, "prefix"), "/tmp/x-");
});

test("a clone's globals are its own; an unknown name lists the variables", () => {
  const spec = load();
  setGlobal(spec, "target_pid", 1);
  const c = cloneObjectSpec(spec);
  setGlobal(c, "target_pid", 2);
  assert.equal(getGlobal(spec, "target_pid"), 1);
  assert.equal(getGlobal(c, "target_pid"), 2);
  assert.throws(
    () => setGlobal(spec, "no_such", 1),
    (e: unknown) =>
      e instanceof UsageError &&
      /no global variable named 'no_such'/.test(e.message) &&
      /target_pid/.test(e.hint ?? ""),
  );
});

test("setGlobal never writes into the caller's file buffer (a Buffer's slice() is a view, not a copy)", () => {
  const path = compileFixture("attach-trace");
  const file = readFileSync(path);
  const spec = parseObject(file, path);
  setGlobal(spec, "prefix", "/tmp/changed-");
  assert.ok(file.equals(readFileSync(path)), "the input bytes are untouched");
});
