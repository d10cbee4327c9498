import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { cDeclaration, cFuncPrototype, dumpC } from "../../src/btf/c-printer.ts";
import { dumpJson } from "../../src/btf/dump-json.ts";
import { dumpRaw } from "../../src/btf/dump-raw.ts";
import { BtfBuilder, type BtfTypeInit, parseBtf, parseBtfHeader } from "../../src/btf/index.ts";
import { findKfuncs } from "../../src/btf/kfuncs.ts";
import { compileBpf } from "../../src/compile/clang.ts";
import { parseElf } from "../../src/elf/index.ts";
import { isKfuncKitError } from "../../src/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "kfunc-c-fuzz-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic xorshift, so a failure reproduces from the printed case number. */
function rng(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

test("mutated BTF never crashes the printers: a BtfError or output, nothing else", () => {
  const src = join(dir, "fuzz.bpf.c");
  writeFileSync(
    src,
    `typedef unsigned int u32;
enum e8 { A8, B8 } __attribute__((packed));
struct bits { u32 a: 3; u32 b: 7; unsigned char d; enum e8 e; };
struct __attribute__((packed)) pk { char c; long v; };
struct list { struct list *next; struct node *node; union { int u; char uc[3]; }; };
struct node { struct list l; int (*cb[2])(int, void *); const char *const *names; };
int f1(struct bits *b, struct pk *p, struct node *n) { return b->a + p->c + (n->names != 0); }
`,
  );
  const obj = compileBpf(src, { output: join(dir, "fuzz.bpf.o") });
  const elf = parseElf(new Uint8Array(readFileSync(obj)), obj);
  const original = elf.section(".BTF")!.data.slice();
  const h = parseBtfHeader(original, "fuzz");
  const next = rng(0x5eed);
  let printed = 0;
  let rejected = 0;
  for (let n = 0; n < 1500; n++) {
    const bytes = original.slice();
    const flips = 1 + Math.floor(next() * 4);
    for (let i = 0; i < flips; i++) {
      const at = h.typeStart + Math.floor(next() * h.typeLen);
      bytes[at] = next() < 0.5 ? Math.floor(next() * 256) : bytes[at]! ^ (1 << Math.floor(next() * 8));
    }
    try {
      const btf = parseBtf(bytes, { source: `case ${n}` });
      dumpC(btf);
      findKfuncs(btf);
      for (let id = 1; id < btf.nextId; id++) if (btf.typeById(id).kind === "FUNC") cFuncPrototype(btf, id);
      dumpRaw(btf);
      dumpJson(btf);
      printed++;
    } catch (e) {
      if (!isKfuncKitError(e))
        assert.fail(`case ${n}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      rejected++;
    }
  }
  assert.ok(printed > 0 && rejected > 0, `printed ${printed}, rejected ${rejected}`);
});

test("reference loops and absurd sizes end in a BtfError naming the type", () => {
  const cases: Array<[string, BtfTypeInit[]]> = [
    ["pointer to itself", [{ kind: "PTR", name: "", type: 1 }]],
    [
      "typedef loop",
      [
        { kind: "TYPEDEF", name: "a", type: 2 },
        { kind: "TYPEDEF", name: "b", type: 1 },
      ],
    ],
    ["const loop", [{ kind: "CONST", name: "", type: 1 }]],
    ["4 GiB struct", [{ kind: "STRUCT", name: "huge", size: 0xffffffff, kindFlag: false, members: [] }]],
  ];
  for (const [what, types] of cases) {
    const b = new BtfBuilder({ source: what });
    for (const t of types) b.add(t);
    const btf = parseBtf(b.encode(), { source: what });
    assert.throws(
      () => dumpC(btf),
      (e: unknown) => isKfuncKitError(e) && e.code === "BTF" && e.message.startsWith(`${what}: `),
      what,
    );
    if (what === "pointer to itself" || what === "const loop")
      assert.throws(
        () => cDeclaration(btf, 1, "x"),
        (e: unknown) => isKfuncKitError(e),
        `${what} (cDeclaration)`,
      );
  }
});
