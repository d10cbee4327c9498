import assert from "node:assert/strict";
import { test } from "node:test";
import { cDeclaration, cFuncPrototype } from "../../src/btf/c-printer.ts";
import { modelBtf } from "./c-helpers.ts";

// ids:            1      2       3      4        5          6         7
const btf = modelBtf([
  { kind: "INT", name: "int", size: 4, encoding: 1, bitOffset: 0, bits: 32 }, // 1
  { kind: "INT", name: "char", size: 1, encoding: 1, bitOffset: 0, bits: 8 }, // 2
  { kind: "PTR", name: "", type: 2 }, // 3 char *
  { kind: "CONST", name: "", type: 2 }, // 4 const char
  { kind: "PTR", name: "", type: 4 }, // 5 const char *
  { kind: "CONST", name: "", type: 3 }, // 6 char *const
  {
    kind: "FUNC_PROTO",
    name: "",
    returnType: 1,
    params: [
      { name: "", type: 1 },
      { name: "", type: 3 },
    ],
  }, // 7 int (int, char *)
  { kind: "PTR", name: "", type: 7 }, // 8 int (*)(int, char *)
  { kind: "INT", name: "long unsigned int", size: 8, encoding: 0, bitOffset: 0, bits: 64 }, // 9
  { kind: "ARRAY", name: "", type: 8, indexType: 1, nelems: 4 }, // 10 int (*[4])(int, char *)
  { kind: "ARRAY", name: "", type: 3, indexType: 1, nelems: 16 }, // 11 char *[16]
  { kind: "PTR", name: "", type: 11 }, // 12 char *(*)[16]
  { kind: "TYPEDEF", name: "u64", type: 9 }, // 13
  { kind: "TYPEDEF", name: "u32", type: 1 }, // 14 (sic: int, fine for syntax)
  {
    kind: "FUNC_PROTO",
    name: "",
    returnType: 13,
    params: [
      { name: "a", type: 14 },
      { name: "b", type: 13 },
      { name: "c", type: 14 },
      { name: "d", type: 13 },
    ],
  }, // 15
  { kind: "FUNC", name: "bpf_kfunc_call_test", type: 15, linkage: 1 }, // 16
  { kind: "FUNC_PROTO", name: "", returnType: 8, params: [{ name: "sig", type: 1 }] }, // 17 returns int (*)(int, char *)
  { kind: "FUNC", name: "signal_like", type: 17, linkage: 1 }, // 18
  {
    kind: "STRUCT",
    name: "",
    size: 8,
    kindFlag: true,
    members: [
      { name: "x", type: 1, bitOffset: 0, bitfieldSize: 0 },
      { name: "f", type: 1, bitOffset: 32, bitfieldSize: 3 },
    ],
  }, // 19 anonymous struct with a bitfield
  { kind: "PTR", name: "", type: 19 }, // 20
  {
    kind: "FUNC_PROTO",
    name: "",
    returnType: 1,
    params: [
      { name: "fmt", type: 5 },
      { name: "", type: 0 },
    ],
  }, // 21 variadic
  { kind: "FUNC", name: "printk", type: 21, linkage: 1 }, // 22
  { kind: "FUNC_PROTO", name: "", returnType: 0, params: [] }, // 23 void (void)
  { kind: "FUNC", name: "nothing", type: 23, linkage: 1 }, // 24
  { kind: "VOLATILE", name: "", type: 6 }, // 25 char *const volatile
  { kind: "ARRAY", name: "", type: 11, indexType: 1, nelems: 2 }, // 26 char *[2][16]
  {
    kind: "ENUM",
    name: "",
    size: 4,
    signed: true,
    values: [
      { name: "A", value: -1 },
      { name: "B", value: 2 },
    ],
  }, // 27
  { kind: "STRUCT", name: "task_struct", size: 16, kindFlag: false, members: [] }, // 28
  { kind: "PTR", name: "", type: 28 }, // 29
  { kind: "FWD", name: "sock", union: false }, // 30
]);

test("cDeclaration: scalars, pointers and const placement", () => {
  assert.equal(cDeclaration(btf, 1, "x"), "int x");
  assert.equal(cDeclaration(btf, 1), "int");
  assert.equal(cDeclaration(btf, 0, "v"), "void v");
  assert.equal(cDeclaration(btf, 3, "s"), "char *s");
  assert.equal(cDeclaration(btf, 5, "s"), "const char *s");
  assert.equal(cDeclaration(btf, 6, "s"), "char * const s");
  assert.equal(cDeclaration(btf, 25, "s"), "char * const volatile s");
  assert.equal(cDeclaration(btf, 13, "v"), "u64 v");
  assert.equal(cDeclaration(btf, 29, "p"), "struct task_struct *p");
  assert.equal(cDeclaration(btf, 30, "sk"), "struct sock sk");
});

test("cDeclaration: function pointers and arrays", () => {
  assert.equal(cDeclaration(btf, 8, "fn"), "int (*fn)(int, char *)");
  assert.equal(cDeclaration(btf, 8), "int (*)(int, char *)");
  assert.equal(cDeclaration(btf, 10, "table"), "int (*table[4])(int, char *)");
  assert.equal(cDeclaration(btf, 11, "argv"), "char *argv[16]");
  assert.equal(cDeclaration(btf, 12, "pargv"), "char *(*pargv)[16]");
  assert.equal(cDeclaration(btf, 26, "m"), "char *m[2][16]");
});

test("cDeclaration: anonymous struct and enum are written inline", () => {
  assert.equal(cDeclaration(btf, 19, "s"), "struct {\n\tint x;\n\tint f: 3;\n} s");
  assert.equal(cDeclaration(btf, 20, "p"), "struct {\n\tint x;\n\tint f: 3;\n} *p");
  assert.equal(cDeclaration(btf, 27, "e"), "enum {\n\tA = -1,\n\tB = 2,\n} e");
});

test("cFuncPrototype keeps typedef names and parameter names", () => {
  assert.equal(cFuncPrototype(btf, 16), "u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)");
  assert.equal(cFuncPrototype(btf, 18), "int (*signal_like(int sig))(int, char *)");
  assert.equal(cFuncPrototype(btf, 22), "int printk(const char *fmt, ...)");
  assert.equal(cFuncPrototype(btf, 24), "void nothing(void)");
});

test("cFuncPrototype and cDeclaration reject wrong ids with the id and a hint", () => {
  assert.throws(() => cFuncPrototype(btf, 1), /type \[1\]: 'int' is a INT, not a FUNC/);
  assert.throws(
    () => cDeclaration(btf, 999),
    (e: unknown) => {
      assert.match(String((e as Error).message), /type \[999\]: no such type id/);
      assert.ok((e as { hint?: string }).hint);
      return true;
    },
  );
  assert.throws(() => cDeclaration(btf, 16, "f"), /unexpected FUNC in a type declaration/);
});

test("a declaration that fails halfway leaves nothing behind for the next one", () => {
  // an anonymous struct whose member is a FUNC: the printer has written "struct {\n\t" when it throws
  const bad = modelBtf([
    { kind: "INT", name: "int", size: 4, encoding: 1, bitOffset: 0, bits: 32 }, // 1
    { kind: "FUNC_PROTO", name: "", returnType: 1, params: [] }, // 2
    { kind: "FUNC", name: "f", type: 2, linkage: 1 }, // 3
    {
      kind: "STRUCT",
      name: "",
      size: 4,
      kindFlag: false,
      members: [
        { name: "a", type: 1, bitOffset: 0, bitfieldSize: 0 },
        { name: "g", type: 3, bitOffset: 32, bitfieldSize: 0 },
      ],
    }, // 4
  ]);
  assert.throws(() => cDeclaration(bad, 4, "s"), /unexpected FUNC in a type declaration/);
  assert.equal(cDeclaration(bad, 1, "x"), "int x");
  assert.equal(cFuncPrototype(bad, 3), "int f(void)");
});
