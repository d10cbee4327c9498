import assert from "node:assert/strict";
import { test } from "node:test";
import { parseBtf } from "../../src/btf/index.ts";
import { sanitizeBtf } from "../../src/kernel/btf-sanitize.ts";
import { checkFeature, supports } from "../../src/kernel/features.ts";
import { btfLoad } from "../../src/sys/bpf-obj.ts";
import { fixtureSpec, requireBpf } from "./load-helpers.ts";

const NONE = {
  func: false,
  funcGlobal: false,
  datasec: false,
  float: false,
  declTag: false,
  typeTag: false,
  enum64: false,
};

function layout(spec: ReturnType<typeof fixtureSpec>) {
  return spec.dataSections.map((d) => ({ name: d.name, size: d.size, variables: d.variables }));
}

test("sanitized object BTF: DATASEC sizes/offsets from the ELF, .ksyms rewritten (pure)", () => {
  const spec = fixtureSpec("load-kfunc");
  const out = parseBtf(sanitizeBtf(spec.btf!.bytes, "t", layout(spec), spec.externs), {
    source: "sanitized",
  });
  const secs = [...out.ownTypes()].filter((t) => t.kind === "DATASEC");
  const bss = secs.find((t) => t.name === ".bss");
  assert.ok(bss && bss.kind === "DATASEC");
  assert.equal(bss.size, spec.dataSections.find((d) => d.name === ".bss")!.size);
  const offsets = bss.vars.map((v) => v.offset);
  assert.deepEqual(
    offsets,
    [...offsets].sort((a, b) => a - b),
    "sorted, non-overlapping",
  );
  assert.equal(new Set(offsets).size, offsets.length);
  const ksyms = secs.find((t) => t.name === ".ksyms");
  assert.ok(ksyms && ksyms.kind === "DATASEC");
  for (const v of ksyms.vars)
    assert.equal(out.typeById(v.type).kind, "VAR", ".ksyms points at VARs, not FUNCs");
  for (const t of out.ownTypes())
    if (t.kind === "FUNC") assert.ok(t.linkage <= 1, `FUNC '${t.name}' linkage`);
});

test("the kernel accepts the object's BTF as is and fully downgraded (no FUNC/DATASEC/FLOAT/tags/ENUM64)", (t) => {
  if (!requireBpf(t)) return;
  const spec = fixtureSpec("load-kfunc");
  btfLoad(sanitizeBtf(spec.btf!.bytes, "t", layout(spec), spec.externs)).close();
  const down = sanitizeBtf(spec.btf!.bytes, "t", layout(spec), spec.externs, NONE);
  const kinds = new Set([...parseBtf(down).ownTypes()].map((x) => x.kind));
  for (const k of [
    "FUNC",
    "FUNC_PROTO",
    "VAR",
    "DATASEC",
    "FLOAT",
    "DECL_TAG",
    "TYPE_TAG",
    "ENUM64",
  ] as const)
    assert.equal(kinds.has(k), false, `${k} rewritten`);
  btfLoad(down).close();
});

test("feature probes: this kernel (6.18) answers every probe with 'supported'", (t) => {
  if (!requireBpf(t)) return;
  for (const f of [
    "btf",
    "btfFunc",
    "btfFuncGlobal",
    "btfDatasec",
    "btfFloat",
    "btfDeclTag",
    "btfTypeTag",
    "btfEnum64",
    "mmapableArray",
    "kfuncCall",
  ] as const) {
    assert.equal(supports(f), true, f);
    checkFeature(f);
  }
});
