import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { RawVm, unwindHelper } from "../../src/uvm/raw.ts";

// The BPF ISA conformance suite (RFC 9669), data only: see test/fixtures/uvm/bpf_conformance/README.md.
const DIR = "test/fixtures/uvm/bpf_conformance";

interface Case {
  name: string;
  program: string;
  mem: string;
  result: string;
  error: string;
}

const cases = JSON.parse(readFileSync(join(DIR, "tests_assembled.json"), "utf8")) as Case[];

function hexBytes(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h.replace(/\s+/g, ""), "hex"));
}

/** Runs every test in one engine and returns the names of the failures with what went wrong. */
function runAll(engine: "jit" | "js" | "interp"): string[] {
  const failures: string[] = [];
  for (const c of cases) {
    try {
      const vm = new RawVm(hexBytes(c.program), {
        mem: hexBytes(c.mem),
        nativeHelpers: { 5: unwindHelper },
        engine,
        name: c.name,
        budget: 1_000_000,
      });
      const r0 = vm.run();
      if (r0 !== BigInt.asUintN(64, BigInt(c.result)))
        failures.push(`${c.name}: r0 = 0x${r0.toString(16)}, expected ${c.result}`);
    } catch (e) {
      failures.push(`${c.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return failures;
}

test("the suite is complete: 313 tests, and each .data file's result matches the assembled copy", () => {
  assert.equal(cases.length, 313);
  for (const c of cases) {
    const text = readFileSync(join(DIR, c.name), "utf8").replace(/#.*$/gm, "");
    const m = /--\s*result\s*\n\s*(\S+)/.exec(text);
    assert.ok(m, `${c.name} has a result section`);
    assert.equal(BigInt.asUintN(64, BigInt(m[1]!)), BigInt.asUintN(64, BigInt(c.result)), c.name);
  }
});

const LABEL = { interp: "interpreter", jit: "WebAssembly JIT", js: "JavaScript JIT" };
for (const engine of ["interp", "jit", "js"] as const) {
  test(`all 313 conformance tests pass in the ${LABEL[engine]}`, () => {
    const failures = runAll(engine);
    assert.deepEqual(failures, [], `${failures.length} failures:\n${failures.join("\n")}`);
  });
}
