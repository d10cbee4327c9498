/**
 * parseObject and parseKernelModule under the shared mutation fuzzer (test/fuzz/harness.ts, owned by the
 * BTF layer): every mutated input must parse or throw a KfuncKitError, never a TypeError/RangeError/hang.
 * Replay a failure with KFUNC_KIT_FUZZ_SEED=<seed> npm run test:only -- fuzz-object.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import { parseElf } from "../../src/elf/index.ts";
import { cloneObjectSpec, parseKernelModule, parseObject } from "../../src/object/index.ts";
import { objectReport } from "../../src/object/report.ts";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";
import { findPreparedKernel } from "./prepared-kernel.ts";

const HARNESS = join(REPO_ROOT, "test/fuzz/harness.ts");
const SEED = Number(process.env["KFUNC_KIT_FUZZ_SEED"] ?? 0x6f626a21);
const CASES = Number(process.env["KFUNC_KIT_FUZZ_CASES"] ?? 6000);

function regionsOf(name: string, bytes: Uint8Array): Array<[number, number]> {
  const elf = parseElf(bytes, name);
  const regions: Array<[number, number]> = [[0, 64]];
  for (const s of elf.sections) if (s.size > 0 && s.type !== 8) regions.push([s.offset, s.offset + s.size]);
  return regions;
}

test("fuzz: parseObject and parseKernelModule throw only kfunc-kit errors on mutated input", async (t) => {
  if (!existsSync(HARNESS)) {
    t.skip("test/fuzz/harness.ts is not in this tree yet (owned by the BTF layer)");
    return;
  }
  const { runFuzz } = (await import(HARNESS)) as typeof import("../fuzz/harness.ts");
  const objSeeds = ["obj-maps", "obj-weak", "obj-legacy", join(REPO_ROOT, "examples/seed/kfunc.bpf.c")].map(
    (f) => {
      const bytes = new Uint8Array(readFileSync(compileFixture(f)));
      return { name: f, bytes, regions: regionsOf(f, bytes) };
    },
  );
  const koSeeds = [];
  const kernel = findPreparedKernel();
  const ko = "/tmp/kfunc-kit-fuzz-seed/hello.ko";
  if (kernel && existsSync(ko)) {
    const bytes = new Uint8Array(readFileSync(ko));
    koSeeds.push({ name: "hello.ko", bytes, regions: regionsOf("hello.ko", bytes) });
  }
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const report = runFuzz(
    [
      {
        name: "parseObject",
        // also walk what inspect prints, and a deep clone, so lazily decoded BTF gets touched
        parse: (b) => {
          const spec = parseObject(b, "fuzz.o");
          objectReport(spec);
          return cloneObjectSpec(spec);
        },
        seeds: objSeeds,
      },
      { name: "parseKernelModule", parse: (b) => parseKernelModule(b, "fuzz.ko"), seeds: koSeeds },
    ],
    { seed: SEED, cases: CASES, maxCaseMs: 2000, maxHeapGrowthBytes: 64 << 20 },
    gc,
  );
  t.diagnostic(
    `seed ${report.seed}: ${report.cases} cases, ${report.ok} ok, ${report.rejected} rejected, ${report.distinctErrors} distinct errors, slowest ${report.slowestMs.toFixed(1)} ms`,
  );
  if (koSeeds.length === 0)
    t.diagnostic("no .ko seed (build examples/seed into /tmp/kfunc-kit-fuzz-seed to add one)");
  assert.deepEqual(
    report.failures.map((f) => `#${f.caseNumber} ${f.target} ${f.seedName} [${f.mutation}]: ${f.problem}`),
    [],
  );
  assert.ok(report.rejected > 0 && report.ok > 0, "the mutations reach both outcomes");
});
