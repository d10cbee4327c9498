/**
 * `generateSkeleton` on real clang objects: the output is byte-identical from run to run; `tsc --strict`
 * accepts it and a correct use of it with no `any`; deliberately wrong uses (wrong key type, unknown map,
 * a number where a bigint is, a rodata typo, writing rodata after load, a struct key missing a member, a
 * misspelt record field) fail to compile with tsc's own message; the `.js` + `.d.ts` pair compiles and
 * runs; record types come from --record, KFUNC_KIT_RECORD and an `unused*` global; bad --record values
 * are errors that name the fix.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { generateSkeleton } from "../../src/skeleton/generate.ts";
import { compileFixture, fixtureBytes, REPO_ROOT } from "../helpers/index.ts";
import { runTsc, tscProject } from "./tsc-helpers.ts";

const shapes = fixtureBytes("skel-shapes");
const perf = fixtureBytes("skel-perf");

const GOOD = `import { event_kind, open, type event, type shapes } from "./shapes.skel.ts";
const skel = open();
skel.rodata.target_pid = 1234;
skel.data.data_counter = 9;
const label: string = skel.rodata.label;
export async function main(): Promise<void> {
  using obj = await skel.load();
  using links = obj.attach();
  const n: bigint | undefined = obj.maps.counts.get(7);
  obj.maps.counts.set(7, 1n);
  const deleted: boolean = obj.maps.counts.delete(7);
  for (const [k, v] of obj.maps.counts.entries()) console.log(k + 1, v + 1n);
  const pcpu: bigint[] | undefined = obj.maps.per_cpu.get(0);
  obj.maps.by_key.set({ pid: 1, port: 2 }, { x: 3, y: 4 });
  const s: shapes | undefined = obj.maps.shape_map.get(0);
  if (s) {
    const x: bigint = s.u64 + s.ptr;
    const v: Uint32Array = s.vec;
    const inner: number = s.pair[1].a + s.nested.b + s.u.as_u32 + s.anon_a;
    console.log(x, v, inner, s.kind === event_kind.EV_UNLINK, s.name.length, s.flag);
  }
  for await (const ev of obj.maps.events.records({ signal: AbortSignal.timeout(10) })) {
    const e: event = ev;
    console.log(e.pid, e.comm, e.seq + 1n);
  }
  obj.maps.events.consume((ev) => console.log(ev.ppid));
  // in place: the same field types as decoding, read-only; toObject() keeps a plain event
  const kept: event[] = [];
  for (const c = obj.maps.events.cursor(); c.next(); ) {
    const seq: bigint = c.record.seq;
    const pid: number = c.record.pid;
    const comm: string = c.record.comm;
    if (pid === 1) kept.push(c.record.toObject());
    console.log(seq + 1n, comm, c.record.copy().byteLength);
  }
  obj.maps.events.consumeView((r) => console.log(r.seq + 1n, r.ppid + 1));
  const u: bigint = obj.bss.unlinks;
  obj.bss.seq = 0n;
  console.log(n, deleted, pcpu, u, label, links.links.length, obj.programs.on_enter.name);
}
`;

const BAD: Record<string, { code: string; error: RegExp }> = {
  "bad-key.ts": {
    code: 'obj.maps.counts.get("7");',
    error: /error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'/,
  },
  "bad-map.ts": {
    code: "obj.maps.count.get(7);",
    error: /error TS2551: Property 'count' does not exist on type 'Maps'. Did you mean 'counts'\?/,
  },
  "bad-bigint.ts": {
    code: "obj.maps.counts.set(7, 1);",
    error: /error TS2345: Argument of type 'number' is not assignable to parameter of type 'bigint'/,
  },
  "bad-global.ts": {
    code: "obj.bss.unlinks = 5;",
    error: /error TS2322: Type 'number' is not assignable to type 'bigint'/,
  },
  "bad-rodata.ts": {
    code: "obj.rodata.target_pid = 1;",
    error: /error TS2540: Cannot assign to 'target_pid' because it is a read-only property/,
  },
  "bad-struct-key.ts": {
    code: "obj.maps.by_key.get({ pid: 1 });",
    error: /error TS2345: Argument of type '\{ pid: number; \}' is not assignable to parameter of type 'key'/,
  },
  "bad-view-type.ts": {
    code: "for (const c = obj.maps.events.cursor(); c.next(); ) { const s: number = c.record.seq; }",
    error: /error TS2322: Type 'bigint' is not assignable to type 'number'/,
  },
  "bad-view-write.ts": {
    code: "obj.maps.events.consumeView((r) => { r.pid = 1; });",
    error: /error TS2540: Cannot assign to 'pid' because it is a read-only property/,
  },
  "bad-record.ts": {
    code: "for await (const ev of obj.maps.events.records()) console.log(ev.pdi);",
    error: /error TS2339: Property 'pdi' does not exist on type 'event'/,
  },
};

function bad(code: string): string {
  return `import { open } from "./shapes.skel.ts";\nexport async function f(): Promise<void> {\n  using obj = await open().load();\n  ${code}\n}\n`;
}

test("the skeleton is byte-identical from run to run and names what it found", () => {
  const a = generateSkeleton(shapes, "skel-shapes.bpf.o", { name: "shapes" });
  const b = generateSkeleton(new Uint8Array(shapes), "skel-shapes.bpf.o", { name: "shapes" });
  assert.equal(a.ts, b.ts);
  assert.equal(a.js, undefined);
  assert.deepEqual(a.records, { events: { type: "struct event", from: "KFUNC_KIT_RECORD" } });
  const code = a.ts
    .split("\n")
    .filter((l) => !l.startsWith('  "'))
    .join("\n");
  assert.doesNotMatch(code, /\bany\b/);
  // the record anchor is not a .bss variable of the skeleton
  assert.doesNotMatch(a.ts, /__kfunc_kit_record_events:/);
  assert.match(a.ts, / \* - `struct task_struct \*bpf_task_from_pid\(int\)`/);
  assert.match(a.ts, /readonly per_cpu: SkeletonMap<number, bigint\[\]>;/);
});

test("tsc --strict accepts the skeleton and a correct use; each wrong use fails with tsc's message", () => {
  const { ts } = generateSkeleton(shapes, "skel-shapes.bpf.o", { name: "shapes" });
  const files: Record<string, string> = { "shapes.skel.ts": ts, "good.ts": GOOD };
  for (const [name, { code }] of Object.entries(BAD)) files[name] = bad(code);
  const r = runTsc(tscProject(files));
  assert.deepEqual(r.errorsIn("shapes.skel.ts"), [], r.output);
  assert.deepEqual(r.errorsIn("good.ts"), [], r.output);
  for (const [name, { error }] of Object.entries(BAD)) {
    const errs = r.errorsIn(name);
    assert.equal(errs.length, 1, `${name}: ${r.output}`);
    assert.match(errs[0]!, error, name);
  }
  assert.notEqual(r.status, 0);
});

test("--js: the .d.ts compiles against a use, the .js runs (open() parses the embedded object)", () => {
  const g = generateSkeleton(perf, "skel-perf.bpf.o", {
    name: "perf",
    js: true,
  });
  assert.ok(g.js);
  const use = `import { open, type sample, type string_ } from "./perf.skel.js";
const skel = open();
export async function f(): Promise<void> {
  using obj = await skel.load();
  obj.maps.samples.consume((s: sample, cpu: number) => console.log(s.when + 1n, s.s.text, cpu));
  const v: string_[] | undefined = obj.maps.per_cpu_strings.get(1);
  const w: bigint | undefined = obj.maps.sized.get(0);
  console.log(v, w);
}
`;
  const dir = tscProject({ "perf.skel.d.ts": g.ts, "perf.skel.js": g.js, "use.ts": use });
  const r = runTsc(dir);
  assert.equal(r.status, 0, r.output);
  // run the .js with its runtime taken from this checkout's src/
  const js = g.js.replace(
    'from "kfunc-kit/skeleton"',
    `from ${JSON.stringify(join(REPO_ROOT, "src/skeleton/index.ts"))}`,
  );
  writeFileSync(join(dir, "perf.skel.js"), js);
  const run = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "-e",
      `import(${JSON.stringify(join(dir, "perf.skel.js"))}).then((m) => { const s = m.open(); console.log(JSON.stringify([s.spec.programs.map((p) => p.name), s.spec.maps.map((x) => x.name)])); })`,
    ],
    { encoding: "utf8", cwd: REPO_ROOT },
  );
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), [
    ["optional_pass", "pass"],
    ["samples", "sized", "per_cpu_strings", ".bss", ".kconfig"],
  ]);
});

test("record types: an `unused*` global, KFUNC_KIT_RECORD, --record; bad --record values name the fix", () => {
  assert.deepEqual(generateSkeleton(perf, "p.o").records, {
    samples: { type: "struct sample", from: "unused global" },
  });
  const cli = fixtureBytes("attach-cli");
  assert.match(generateSkeleton(cli, "c.o").ts, /readonly events: SkeletonRingBuffer<never>;/);
  const typed = generateSkeleton(cli, "c.o", { records: { events: "event" } });
  assert.match(typed.ts, /readonly events: SkeletonRingBuffer<event>;/);
  assert.match(typed.ts, /export interface event \{/);
  assert.throws(() => generateSkeleton(cli, "c.o", { records: { evnts: "event" } }), {
    message: /c\.o: --record evnts=event: no map named 'evnts'/,
  });
  assert.throws(() => generateSkeleton(cli, "c.o", { records: { opens: "event" } }), {
    message: /'opens' is a BPF_MAP_TYPE_HASH/,
  });
  assert.throws(
    () => generateSkeleton(cli, "c.o", { records: { events: "struct nope" } }),
    (e: Error & { hint?: string }) => {
      assert.match(e.message, /no type 'struct nope' in the object's BTF/);
      assert.match(e.hint ?? "", /KFUNC_KIT_RECORD/);
      return true;
    },
  );
});

test("--path: the skeleton reads the object next to it and refuses a different one", () => {
  const obj = compileFixture("skel-perf");
  const g = generateSkeleton(perf, obj, { name: "perf", embed: false, objectPath: "./perf.bpf.o" });
  assert.doesNotMatch(g.ts, /const OBJECT/);
  assert.match(g.ts, /readSkeletonObject\(new URL\("\.\/perf\.bpf\.o", import\.meta\.url\), descriptor\)/);
  const dir = tscProject({ "perf.skel.ts": g.ts });
  assert.equal(runTsc(dir).status, 0);
  const runtime = join(REPO_ROOT, "src/skeleton/index.ts");
  writeFileSync(join(dir, "perf.skel.ts"), g.ts.replace('"kfunc-kit/skeleton"', JSON.stringify(runtime)));
  const probe = (obj: Uint8Array) => {
    writeFileSync(join(dir, "perf.bpf.o"), obj);
    return spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        `import(${JSON.stringify(join(dir, "perf.skel.ts"))}).then((m) => console.log(m.open().spec.programs[0].name))`,
      ],
      { encoding: "utf8", cwd: REPO_ROOT },
    );
  };
  const ok = probe(readFileSync(obj));
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), "optional_pass");
  const other = probe(shapes);
  assert.notEqual(other.status, 0);
  assert.match(other.stderr, /skeleton 'perf': .*perf\.bpf\.o is not the object it was generated from/);
});

test('a SEC("?…") program (autoload off) is an optional property; kconfig externs are typed', () => {
  const g = generateSkeleton(perf, "p.o", { name: "p" });
  assert.match(g.ts, /readonly optional_pass\?: Program;/);
  assert.match(g.ts, /readonly pass: Program;/);
  assert.match(g.ts, /export interface Kconfig \{\n.*\n {2}LINUX_KERNEL_VERSION: number;\n\}/);
});
