/**
 * The annotation parser on real clang objects (include/kfunc_test.h), and test_loader's matching rules.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isKfuncKitError } from "../../src/errors.ts";
import { parseObject } from "../../src/object/index.ts";
import { AnnotationError, compilePattern, matchInOrder, parseTestCases } from "../../src/testing/index.ts";
import { compileFixture, FIXTURES_DIR } from "../helpers/index.ts";

const suite = () => {
  const obj = compileFixture(join(FIXTURES_DIR, "testing", "suite.test.bpf.c"));
  return parseTestCases(parseObject(readFileSync(obj), "suite.test.bpf.c"));
};

test("every annotated program is a test, unannotated ones are not; the tags carry their values", () => {
  const cases = suite();
  const by = new Map(cases.map((c) => [c.program, c]));
  assert.equal(by.has("helper_prog"), false);
  assert.equal(by.get("returns_42")?.priv?.retval, 42);
  assert.equal(by.get("wrong_retval")?.title, "wrong_retval deliberate: wrong retval");
  const missing = by.get("missing_msg")!;
  assert.equal(missing.priv?.expectFailure, true);
  assert.deepEqual(
    missing.priv?.msgs.map((m) => m.text),
    ["invalid mem access 'scalar'", "this text is not in the log"],
    "two __msg in source order",
  );
  assert.ok(by.get("regex_msg")?.priv?.msgs[0]?.regex, "{{…}} makes a regex");
  assert.equal(by.get("success_log_msg")?.logLevel, 2);
  assert.deepEqual(
    [...(by.get("ctx_struct")?.ctxIn ?? [])],
    [3, 0, 0, 0, 4, 0, 0, 0],
    "KFUNC_TEST_INPUT bytes",
  );
  assert.deepEqual([...(by.get("ctx_hex")?.ctxIn ?? [])], [5, 0, 0, 0, 6, 0, 0, 0]);
  assert.equal(by.get("ctx_hex")?.repeat, 3);
  assert.equal(by.get("from_the_future")?.kernelMin, "99.0");
  assert.equal(by.get("printk_line")?.printk.length, 1);
  assert.equal(by.get("xdp_default_input")?.progType, "xdp");
});

function compileSnippet(body: string): { obj: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "kfunc-test-annot-"));
  const src = join(dir, "t.test.bpf.c");
  writeFileSync(
    src,
    `#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n#include "kfunc_test.h"\nchar LICENSE[] SEC("license") = "GPL";\n${body}\n`,
  );
  return { obj: compileFixture(src), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function parseErr(body: string): AnnotationError {
  const { obj, cleanup } = compileSnippet(body);
  try {
    assert.throws(() => parseTestCases(parseObject(readFileSync(obj), "t.test.bpf.c")));
    try {
      parseTestCases(parseObject(readFileSync(obj), "t.test.bpf.c"));
    } catch (e) {
      assert.ok(e instanceof AnnotationError && isKfuncKitError(e), String(e));
      return e;
    }
    throw new Error("unreachable");
  } finally {
    cleanup();
  }
}

test("an annotation typo names the file, the program and the tag", () => {
  const e = parseErr(
    'SEC("syscall") __attribute__((btf_decl_tag("comment:test_expect_sucess"))) int typo(void *c) { return 0; }',
  );
  assert.match(
    e.message,
    /^t\.test\.bpf\.c: program 'typo': annotation 'comment:test_expect_sucess': unknown test annotation/,
  );
  assert.match(e.hint ?? "", /__success, __failure, __msg/);
  const k = parseErr(
    'SEC("syscall") __attribute__((btf_decl_tag("kfunc:retries=3"))) int own(void *c) { return 0; }',
  );
  assert.match(k.message, /program 'own': annotation 'kfunc:retries=3'/);
  assert.match(k.hint ?? "", /__kernel_min/);
});

test("an invalid regex in __msg is an error that shows the regex", () => {
  const e = parseErr('SEC("?syscall") __failure __msg("R{{[0-9}} bad") int bad_regex(void *c) { return 0; }');
  assert.match(
    e.message,
    /program 'bad_regex': annotation 'comment:test_expect_msg=\d+=R\{\{\[0-9\}\} bad': .*invalid regular expression/,
  );
  const open = parseErr('SEC("?syscall") __failure __msg("R{{0") int open_brace(void *c) { return 0; }');
  assert.match(open.message, /open '\{\{' without a closing '\}\}'/);
});

test("__retval on a program type that cannot be test-run says which types can", () => {
  const e = parseErr('SEC("kprobe/do_unlinkat") __success __retval(0) int kp(void *c) { return 0; }');
  assert.match(
    e.message,
    /program 'kp': .*program type 'kprobe' \(section 'kprobe\/do_unlinkat'\) cannot be test-run/,
  );
  assert.match(e.hint ?? "", /syscall/);
  assert.match(e.hint ?? "", /xdp/);
});

test("malformed values: a retval that is not a number, an unknown __flag, a bad kernel version", () => {
  assert.match(
    parseErr('SEC("syscall") __retval(abc) int r(void *c) { return 0; }').message,
    /'abc' is not a number/,
  );
  assert.match(
    parseErr('SEC("syscall") __flag(BPF_F_NOPE) int f(void *c) { return 0; }').message,
    /unknown flag 'BPF_F_NOPE'/,
  );
  assert.match(
    parseErr('SEC("syscall") __kernel_min("six") int v(void *c) { return 0; }').message,
    /'six' is not a kernel version/,
  );
});

test("test_loader matching: in order, from where the last match ended; regex parts; wrong line for disassembly", () => {
  const log = "0: R1=ctx()\n1: r0 = 1\n2: exit\nR0 invalid mem access 'scalar'\n";
  assert.equal(matchInOrder(log, [compilePattern("R1=ctx"), compilePattern("exit")]), undefined);
  const f = matchInOrder(log, [compilePattern("exit"), compilePattern("R1=ctx")]);
  assert.equal(f?.index, 1, "a pattern found only before the previous match does not match");
  assert.equal(matchInOrder(log, [compilePattern("R{{[0-9]}} invalid mem access '{{[a-z]+}}'")]), undefined);
  assert.ok(matchInOrder(log, [compilePattern("r0 = 1.")]), "literal '.' is escaped outside {{}}");
  assert.equal(matchInOrder(log, [compilePattern("{{^}}2: exit{{$}}")]), undefined, "REG_NEWLINE anchors");
  assert.equal(matchInOrder(log, [compilePattern("{{[[:digit:]]}}: exit")]), undefined, "POSIX classes");
  const wrong = matchInOrder(log, [compilePattern("0: R1", true), compilePattern("2: exit", true)]);
  assert.deepEqual(wrong?.wrongLine, { expected: 1, actual: 2 });
});
