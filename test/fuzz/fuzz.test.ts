import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import { type Btf, type BtfType, encodeBtf, parseBtf, parseBtfExt } from "../../src/btf/index.ts";
import { parseElf } from "../../src/elf/index.ts";
import { compileFixture } from "../helpers/index.ts";
import { exerciseBtf, exerciseElf, exerciseExt, parseObjectLayers } from "./exercise.ts";
import { encodeRoundTrip } from "./gen-types.ts";
import { type FuzzSeed, type FuzzTarget, prng, runFuzz } from "./harness.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const RICH = "test/fixtures/btf/rich.bpf.c";
const SEED = Number(process.env["KFUNC_KIT_FUZZ_SEED"] ?? 0x6b66756e);
const CASES = Number(process.env["KFUNC_KIT_FUZZ_CASES"] ?? 12_000);

function gcFunction(): () => void {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  return () => gc();
}

function elfSeed(name: string, bytes: Uint8Array): FuzzSeed {
  const elf = parseElf(bytes, name);
  const regions: Array<[number, number]> = [[0, 64]];
  for (const s of elf.sections) if (s.size > 0 && s.type !== 8) regions.push([s.offset, s.offset + s.size]);
  return { name, bytes, regions };
}

/** The first `n` vmlinux types with references beyond them pointed at void: a closed, valid BTF. */
function vmlinuxSlice(vmlinux: Btf, n: number): Uint8Array {
  const fix = (id: number) => (id > n ? 0 : id);
  const types: BtfType[] = [];
  for (let id = 1; id <= n; id++) {
    const t = structuredClone(vmlinux.typeById(id)) as BtfType & Record<string, unknown>;
    if ("type" in t) t["type"] = fix(t["type"] as number);
    if (t.kind === "ARRAY") t.indexType = fix(t.indexType);
    if (t.kind === "STRUCT" || t.kind === "UNION") for (const m of t.members) m.type = fix(m.type);
    if (t.kind === "FUNC_PROTO") {
      t.returnType = fix(t.returnType);
      for (const p of t.params) p.type = fix(p.type);
    }
    if (t.kind === "DATASEC") for (const v of t.vars) v.type = fix(v.type);
    types.push(t);
  }
  return encodeBtf(types);
}

/** An x86-64 object (gcc -g, RELA relocations, DWARF) with pahole's split BTF on vmlinux added as .BTF. */
function splitSeed(dir: string): { obj: Uint8Array; btf: Uint8Array } | undefined {
  const src = join(dir, "mod.c");
  writeFileSync(
    src,
    "struct list_head { struct list_head *next, *prev; };\n" +
      "struct fz { int n; struct list_head *l; unsigned f:3; const char *name; };\n" +
      "int fz_fn(struct fz *w, int x) { return w->n + x; }\nstruct fz fz_g;\n",
  );
  const obj = join(dir, "mod.o");
  if (spawnSync("gcc", ["-g", "-c", src, "-o", obj]).status !== 0) return undefined;
  if (spawnSync("pahole", ["-J", "--btf_base", VMLINUX, obj]).status !== 0) return undefined;
  const bytes = new Uint8Array(readFileSync(obj));
  const btf = parseElf(bytes, obj).section(".BTF")?.data.slice();
  return btf && { obj: bytes, btf };
}

test("fuzz: mutated ELF, BTF, split BTF and BTF.ext either parse or throw a KfuncKitError", (t) => {
  t.diagnostic(
    `seed ${SEED} (replay: KFUNC_KIT_FUZZ_SEED=${SEED} npm run test:only -- test/fuzz), ${CASES} cases`,
  );
  const objs = [
    ["rich-el.o", compileFixture(RICH)],
    ["rich-eb.o", compileFixture(RICH, { extraArgs: ["-target", "bpfeb"] })],
  ] as const;
  const elfSeeds = objs.map(([name, path]) => elfSeed(name, new Uint8Array(readFileSync(path))));
  const btfSeeds: FuzzSeed[] = [];
  const extTargets: FuzzTarget[] = [];
  for (const s of elfSeeds) {
    const elf = parseElf(s.bytes, s.name);
    const btf = parseBtf(elf.section(".BTF")!.data, { source: s.name });
    btfSeeds.push({ name: `${s.name} .BTF`, bytes: elf.section(".BTF")!.data.slice() });
    extTargets.push({
      name: `parseBtfExt (${s.name})`,
      parse: (b) => exerciseExt(parseBtfExt(b, btf)),
      seeds: [{ name: `${s.name} .BTF.ext`, bytes: elf.section(".BTF.ext")!.data.slice() }],
    });
  }
  let vmlinux: Btf | undefined;
  const splitSeeds: FuzzSeed[] = [];
  const x86Seeds: FuzzSeed[] = [];
  if (existsSync(VMLINUX)) {
    vmlinux = parseBtf(new Uint8Array(readFileSync(VMLINUX)), { source: VMLINUX });
    btfSeeds.push({ name: "vmlinux slice (1500 types)", bytes: vmlinuxSlice(vmlinux, 1500) });
    const dir = mkdtempSync(join(tmpdir(), "kfunc-kit-fuzz-"));
    const split = splitSeed(dir);
    rmSync(dir, { recursive: true, force: true });
    if (split) {
      splitSeeds.push({ name: "pahole split BTF", bytes: split.btf });
      x86Seeds.push(elfSeed("gcc x86-64 .o", split.obj));
    } else t.diagnostic("no split BTF seed: gcc or pahole missing");
  } else t.diagnostic(`no vmlinux seeds: ${VMLINUX} is missing`);
  const base = vmlinux;

  const targets: FuzzTarget[] = [
    { name: "parseElf", parse: (b) => exerciseElf(parseElf(b, "fuzz.o")), seeds: [...elfSeeds, ...x86Seeds] },
    { name: "ELF → BTF → BTF.ext", parse: parseObjectLayers, seeds: elfSeeds },
    { name: "parseBtf", parse: (b) => exerciseBtf(parseBtf(b, { source: "fuzz.btf" })), seeds: btfSeeds },
    ...extTargets,
    {
      // generative: the bytes choose a list of types with edge-case fields for the writer
      name: "encodeBtf (generated types)",
      parse: encodeRoundTrip,
      seedsMustParse: false,
      seeds: Array.from({ length: 8 }, (_, i) => {
        const r = prng(SEED + i);
        return { name: `random ${i}`, bytes: Uint8Array.from({ length: 96 }, () => Math.floor(r() * 256)) };
      }),
    },
  ];
  if (base && splitSeeds.length)
    targets.push({
      name: "parseBtf split",
      parse: (b) => exerciseBtf(parseBtf(b, { base, source: "fuzz-split.btf" })),
      seeds: splitSeeds,
    });

  const report = runFuzz(
    targets,
    {
      seed: SEED,
      cases: CASES,
      maxCaseMs: 2000,
      maxHeapGrowthBytes: 64 << 20,
      onProgress: (line) => t.diagnostic(line),
    },
    gcFunction(),
  );
  t.diagnostic(
    `${report.cases} cases: ${report.ok} parsed, ${report.rejected} rejected with ${report.distinctErrors} distinct messages; ` +
      `slowest ${report.slowestMs.toFixed(1)} ms; heap ${(report.heapGrowthBytes / 1048576).toFixed(1)} MiB`,
  );
  for (const [name, s] of Object.entries(report.byTarget))
    t.diagnostic(`  ${name}: ${s.ok} ok, ${s.rejected} rejected`);
  const lines = report.failures.map(
    (f) =>
      `seed ${report.seed} case ${f.caseNumber} [${f.target} on ${f.seedName}] ${f.mutation}: ${f.problem}`,
  );
  assert.deepEqual(lines, [], lines.join("\n\n"));
  assert.ok(report.cases >= Math.min(CASES, 10_000), `${report.cases} cases ran`);
  // the fuzzer reaches both outcomes for every target: a fuzzer that only hits the magic check is useless
  for (const tg of targets) {
    const s = report.byTarget[tg.name];
    assert.ok(s && s.ok > 0 && s.rejected > 0, `${tg.name}: ${JSON.stringify(s)}`);
  }
});
