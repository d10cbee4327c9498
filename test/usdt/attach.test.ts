/**
 * attachUsdt on this host's kernel (uprobes work here): the gcc -O2 target program fires every probe with
 * values the test chose, an unmodified-usdt.bpf.h program reads every argument with bpf_usdt_arg() and sends
 * it through a ring buffer, and each value must equal what the C program passed: registers, memory,
 * immediates, stack and frame slots, 1/2/4/8 bytes, signed and unsigned, two call sites of one probe, a
 * probe in a shared library. Once with BPF cookies, once as a kernel without them would run it (spec ids in
 * __bpf_usdt_ip_to_spec_id). Semaphores through the kernel's ref_ctr_offset and through /proc/<pid>/mem;
 * SEC("usdt/…") auto-attach; the errors; nothing left behind by a close or a failed attach.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { isKfuncKitError } from "../../src/errors.ts";
import {
  attach,
  attachAll,
  attachUsdt,
  bumpSemaphore,
  closeAll,
  type Link,
  processMappings,
  RingBuffer,
  readUsdtBinary,
  UsdtArgError,
} from "../../src/kernel/attach/index.ts";
import { type Collection, loadCollection, setGlobal } from "../../src/kernel/index.ts";
import { parseObject } from "../../src/object/index.ts";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";
import { requireBpf, vmlinuxHeaderDir } from "../kernel/load-helpers.ts";
import {
  buildTarget,
  expectedArgs,
  INPUTS_EXTREME,
  INPUTS_NEGATIVE,
  INPUTS_POSITIVE,
  type Inputs,
  Target,
  type TargetBuild,
} from "./target.ts";

/** Every probe we attach, in firing order (kk:sib is refused with libbpf 1.1's header; see its test). */
const PROBES = [
  "regs",
  "mem",
  "consts",
  "dtrace",
  "twice",
  "none",
  "stack",
  "frame",
  "glob",
  "sema",
  "sema_dtrace",
  "lib",
];

let build: TargetBuild;

before(() => {
  build = buildTarget();
});

interface Event {
  probe: string;
  args: bigint[];
  rets: bigint[];
  argCnt: number;
}

async function load(target: Target, defines: string[] = []): Promise<Collection> {
  const obj = compileFixture("usdt-args", { includeDirs: [vmlinuxHeaderDir()], defines });
  const spec = parseObject(readFileSync(obj), obj);
  setGlobal(spec, "target_pid", target.pid);
  return loadCollection(spec, {
    programs: ["on_probe", ...(defines.some((d) => d.startsWith("USDT_TARGET")) ? ["auto_regs"] : [])],
  });
}

function ring(coll: Collection): RingBuffer {
  const btf = coll.map("events").btf ?? parseObject(readFileSync(coll.source), coll.source).btf!;
  return new RingBuffer(coll.map("events"), { btf, typeId: btf.findByName("usdt_event", "STRUCT")!.id });
}

function drain(rb: RingBuffer): Event[] {
  const out: Event[] = [];
  rb.consume((v) => {
    const e = rb.decode(v) as {
      cookie: number | bigint;
      arg_cnt: number;
      args: Array<number | bigint>;
      rets: Array<number | bigint>;
    };
    out.push({
      probe: PROBES[Number(e.cookie) - 1] ?? `cookie ${e.cookie}`,
      argCnt: e.arg_cnt,
      args: e.args.slice(0, Math.max(0, e.arg_cnt)).map((x) => BigInt(x)),
      rets: e.rets.map((x) => BigInt(x)),
    });
  });
  return out;
}

/** Attaches on_probe to every probe of PROBES (cookie = index + 1, so events say which probe they came from). */
function attachAllProbes(coll: Collection, target: Target, extra: { bpfCookie?: boolean } = {}): Link[] {
  const links: Link[] = [];
  try {
    for (const [i, name] of PROBES.entries()) {
      const lib = name === "lib";
      links.push(
        attachUsdt(
          coll.program("on_probe"),
          { binary: lib ? build.lib : build.exe, provider: lib ? "kklib" : "kk", name, pid: target.pid },
          { cookie: i + 1, ...extra },
        ),
      );
    }
  } catch (e) {
    closeAll(links);
    throw e;
  }
  return links;
}

async function fireAndCheck(target: Target, rb: RingBuffer, inputs: Inputs): Promise<void> {
  await target.fire(inputs);
  const got = drain(rb);
  const want = expectedArgs(inputs).filter((e) => e.probe !== "sib");
  assert.deepEqual(
    got.map((e) => ({ probe: e.probe, args: e.args })),
    want,
    `inputs ${inputs.join(" ")}`,
  );
  for (const e of got) {
    assert.deepEqual(
      e.rets.slice(0, e.argCnt),
      e.args.map(() => 0n),
      `${e.probe}: bpf_usdt_arg() returned 0`,
    );
    assert.ok(
      e.rets.slice(e.argCnt).every((r) => r === -2n),
      `${e.probe}: past arg_cnt → -ENOENT`,
    );
  }
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

test("every argument form reads back what the C program passed (spec id in the BPF cookie)", async (t) => {
  if (!requireBpf(t)) return;
  const target = new Target(build.exe);
  t.after(() => target.quit());
  const coll = await load(target);
  t.after(() => coll.close());
  assert.equal(coll.variable("LINUX_HAS_BPF_COOKIE").get(), true, "the loader answered LINUX_HAS_BPF_COOKIE");
  const rb = ring(coll);
  t.after(() => rb.close());
  assert.deepEqual(await target.sema(), [0, 0], "semaphores start lowered");
  const links = attachAllProbes(coll, target);
  t.after(() => closeAll(links));
  assert.deepEqual(
    links.map((l) => [l.info.kind, l.info.sites, l.info.mechanism]),
    PROBES.map((p) => ["usdt", p === "twice" ? 2 : 1, "bpf_link"]),
  );
  assert.equal(links[0]!.info.target, `${build.exe}:kk:regs`);
  assert.deepEqual(await target.sema(), [1, 1], "the kernel raised both semaphores (ref_ctr_offset)");
  for (const inputs of [INPUTS_NEGATIVE, INPUTS_EXTREME, INPUTS_POSITIVE])
    await fireAndCheck(target, rb, inputs);
  // with cookies nothing goes into the IP map
  assert.equal([...coll.map("__bpf_usdt_ip_to_spec_id").keysRaw()].length, 0);
  closeAll(links);
  assert.ok(links.every((l) => l.closed));
  assert.deepEqual(await target.sema(), [0, 0], "closing lowered the semaphores");
  await target.fire(INPUTS_POSITIVE);
  assert.deepEqual(drain(rb), [], "detached: no more events");
});

test("without BPF cookies: spec ids by run-time IP in __bpf_usdt_ip_to_spec_id, removed on close", async (t) => {
  if (!requireBpf(t)) return;
  const target = new Target(build.exe);
  t.after(() => target.quit());
  const coll = await load(target, ["NO_COOKIE"]);
  t.after(() => coll.close());
  assert.equal(coll.variables.get("LINUX_HAS_BPF_COOKIE"), undefined, "the fixture reads its own (0) extern");
  const rb = ring(coll);
  t.after(() => rb.close());
  const links = attachAllProbes(coll, target, { bpfCookie: false });
  t.after(() => closeAll(links));
  // one IP-map entry per call site, keyed by where the site is mapped in the target (libbpf's formula)
  const maps = processMappings(target.pid).filter((m) => m.perms[2] === "x");
  const want = new Set<bigint>();
  const sites: Array<[string, string[]]> = [
    [build.exe, PROBES.filter((p) => p !== "lib").map((p) => `kk:${p}`)],
    [build.lib, ["kklib:lib"]],
  ];
  for (const [path, probes] of sites) {
    for (const p of readUsdtBinary(path).probes.filter((x) => probes.includes(x.id))) {
      const m = maps.find(
        (x) =>
          x.path.endsWith(path.split("/").pop()!) &&
          x.offset <= p.fileOffset &&
          p.fileOffset < x.offset + x.end - x.start,
      )!;
      want.add(BigInt(m.start - m.offset + p.fileOffset));
    }
  }
  const ipMap = coll.map("__bpf_usdt_ip_to_spec_id");
  const keys = [...ipMap.keysRaw()].map((k) => new DataView(k.buffer, k.byteOffset).getBigInt64(0, true));
  assert.deepEqual(new Set(keys), want, "IP-map keys are the call sites' run-time addresses");
  for (const inputs of [INPUTS_NEGATIVE, INPUTS_EXTREME]) await fireAndCheck(target, rb, inputs);
  closeAll(links);
  assert.equal([...ipMap.keysRaw()].length, 0, "closing removed the IP-map entries");
  // a shared library without a pid cannot be resolved to run-time addresses without cookies
  assert.throws(
    () =>
      attachUsdt(
        coll.program("on_probe"),
        { binary: build.lib, provider: "kklib", name: "lib" },
        { bpfCookie: false },
      ),
    (e: unknown) =>
      isKfuncKitError(e) && e.code === "USAGE" && /needs a pid/.test(e.message) && /pid/.test(e.hint ?? ""),
  );
});

test("semaphores: raised through /proc/<pid>/mem or for every process by the kernel, lowered on close", async (t) => {
  if (!requireBpf(t)) return;
  const target = new Target(build.exe);
  t.after(() => target.quit());
  const coll = await load(target);
  t.after(() => coll.close());
  const rb = ring(coll);
  t.after(() => rb.close());
  const prog = coll.program("on_probe");
  const sema = { binary: build.exe, provider: "kk", name: "sema" };
  const viaMem = attachUsdt(
    prog,
    { ...sema, pid: target.pid },
    { semaphore: "procmem", cookie: PROBES.indexOf("sema") + 1 },
  );
  assert.deepEqual(await target.sema(), [1, 0], "/proc/<pid>/mem raised kk:sema's semaphore only");
  await target.fire(INPUTS_POSITIVE);
  const ev = drain(rb);
  assert.deepEqual(
    ev.map((e) => [e.probe, e.args]),
    [["sema", [INPUTS_POSITIVE[4], INPUTS_POSITIVE[3]]]],
  );
  viaMem.close();
  assert.deepEqual(await target.sema(), [0, 0], "closing lowered it again");

  // kernel ref_ctr_offset without a pid: every process running the binary, also one started later
  const everywhere = attachUsdt(prog, sema);
  t.after(() => everywhere.close());
  assert.deepEqual(await target.sema(), [1, 0]);
  const later = new Target(build.exe);
  t.after(() => later.quit());
  assert.deepEqual(await later.sema(), [1, 0], "a process started after the attach has it raised too");
  everywhere.close();
  assert.deepEqual(
    [await target.sema(), await later.sema()],
    [
      [0, 0],
      [0, 0],
    ],
  );

  // errors: no pid for /proc/<pid>/mem; a process that cannot be written
  assert.throws(
    () => attachUsdt(prog, sema, { semaphore: "procmem" }),
    (e: unknown) => isKfuncKitError(e) && /semaphore through \/proc\/<pid>\/mem needs a pid/.test(e.message),
  );
  assert.throws(
    () => bumpSemaphore(target.pid, 0x10, 1, "usdt 'on_probe' → kk:sema"),
    (e: unknown) =>
      isKfuncKitError(e) &&
      e.message ===
        `usdt 'on_probe' → kk:sema: cannot write the semaphore at 0x10 in process ${target.pid}: EIO` &&
      /ptrace/.test(e.hint ?? ""),
  );
  const gone = new Target(build.exe);
  const gonePid = gone.pid;
  await gone.quit();
  assert.throws(
    () => attachUsdt(prog, { ...sema, pid: gonePid }, { semaphore: "procmem" }),
    (e: unknown) => isKfuncKitError(e) && e.message.includes(`process ${gonePid}`),
  );
  assert.throws(
    () => bumpSemaphore(gonePid, 0x1000, 1, "x"),
    (e: unknown) =>
      isKfuncKitError(e) &&
      /cannot write the semaphore .* ENOENT/.test(e.message) &&
      /gone/.test(e.hint ?? ""),
  );
});

test("a /proc/<pid>/mem semaphore is lowered when the attaching process exits without closing", async (t) => {
  if (!requireBpf(t)) return;
  const target = new Target(build.exe);
  t.after(() => target.quit());
  const obj = compileFixture("usdt-args", { includeDirs: [vmlinuxHeaderDir()] });
  const dir = mkdtempSync(join(tmpdir(), "kfunc-kit-usdt-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, "attach-and-exit.mts");
  writeFileSync(
    script,
    `import { loadObjectFile } from "${REPO_ROOT}/src/kernel/index.ts";
import { attachUsdt } from "${REPO_ROOT}/src/kernel/attach/index.ts";
const coll = await loadObjectFile(${JSON.stringify(obj)}, { programs: ["on_probe"] });
attachUsdt(coll.program("on_probe"), { binary: ${JSON.stringify(build.exe)}, provider: "kk", name: "sema", pid: ${target.pid} }, { semaphore: "procmem" });
console.log("attached");
process.stdin.once("data", () => process.exit(0)); // no close(): the exit registry must lower it
`,
  );
  const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: REPO_ROOT });
  const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  let err = "";
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => d.toString().includes("attached") && resolve());
    void exited.then((c) => reject(new Error(`child exited ${c}: ${err}`)));
  });
  assert.deepEqual(await target.sema(), [1, 0], "raised by the child through /proc/<pid>/mem");
  child.stdin.write("exit\n");
  assert.equal(await exited, 0, err);
  assert.deepEqual(await target.sema(), [0, 0], "lowered by the child's exit handler");
});

test('SEC("usdt/<binary>:kk:regs") auto-attaches; a bare SEC("usdt") is refused saying what to pass', async (t) => {
  if (!requireBpf(t)) return;
  const target = new Target(build.exe);
  t.after(() => target.quit());
  const coll = await load(target, [`USDT_TARGET="${build.exe}"`]);
  t.after(() => coll.close());
  assert.equal(coll.program("auto_regs").section, `usdt/${build.exe}:kk:regs`);
  const { links, skipped } = attachAll(coll.programs, [], { pid: target.pid });
  t.after(() => closeAll(links));
  assert.deepEqual(
    links.map((l) => [l.info.program, l.info.kind, l.info.target]),
    [["auto_regs", "usdt", `${build.exe}:kk:regs`]],
  );
  assert.deepEqual(
    skipped.map((s) => s.name),
    ["on_probe"],
  );
  assert.match(skipped[0]!.reason, /names no probe: attach it with --usdt <binary>:<provider>:<name>/);
  await target.fire(INPUTS_NEGATIVE);
  assert.equal(coll.variable("auto_hits").get(), 1);
  assert.equal(
    BigInt(coll.variable("auto_first_arg").get() as number),
    INPUTS_NEGATIVE[0],
    "BPF_USDT(auto_regs, long a)",
  );
  assert.throws(
    () => attach(coll.program("on_probe")),
    (e: unknown) =>
      isKfuncKitError(e) &&
      e.code === "USAGE" &&
      /SEC\("usdt"\)\): no USDT probe to attach to/.test(e.message) &&
      /attachUsdt\(program, \{ binary, provider, name, pid \}\)/.test(e.hint ?? "") &&
      /--usdt <binary>:<provider>:<name>/.test(e.hint ?? ""),
  );
  const viaTarget = attach(coll.program("on_probe"), { target: `${build.exe}:kk:none`, pid: target.pid });
  t.after(() => viaTarget.close());
  assert.equal(viaTarget.info.target, `${build.exe}:kk:none`);
});

test("errors: no probes, an unknown probe (listing the real ones), an operand we cannot read; nothing left behind", async (t) => {
  if (!requireBpf(t)) return;
  const target = new Target(build.exe);
  t.after(() => target.quit());
  const coll = await load(target);
  t.after(() => coll.close());
  const prog = coll.program("on_probe");
  assert.throws(
    () => attachUsdt(prog, { binary: "/bin/true", provider: "kk", name: "regs" }),
    (e: unknown) =>
      isKfuncKitError(e) &&
      e.code === "USAGE" &&
      /'\/bin\/true' has no probes \(no \.note\.stapsdt notes\)/.test(e.message) &&
      /sys\/sdt\.h/.test(e.hint ?? ""),
  );
  assert.throws(
    () => attachUsdt(prog, { binary: build.exe, provider: "kk", name: "nope" }),
    (e: unknown) =>
      isKfuncKitError(e) &&
      e.message === `USDT binary '${build.exe}' has no probe 'kk:nope'` &&
      /its probes: kk:none, kk:regs, kk:mem, kk:consts, kk:twice, kk:sib, kk:stack/.test(e.hint ?? ""),
  );
  assert.throws(
    () => attachUsdt(prog, { binary: `${build.dir}/missing`, provider: "kk", name: "regs" }),
    /USDT binary '.*\/missing' does not exist/,
  );
  assert.throws(
    () =>
      attachUsdt(
        { name: "stray", section: "usdt", fd: prog.fd },
        { binary: build.exe, provider: "kk", name: "regs" },
      ),
    (e: unknown) =>
      isKfuncKitError(e) &&
      /not from a loaded Collection/.test(e.message) &&
      /maps: \{ specs, ipToSpecId \}/.test(e.hint ?? ""),
  );
  // kk:sib's operands are scale-index-base, which libbpf 1.1's usdt.bpf.h cannot express
  const fdsBefore = openFds();
  const first = attachUsdt(prog, { binary: build.exe, provider: "kk", name: "regs", pid: target.pid });
  assert.throws(
    () => attachUsdt(prog, { binary: build.exe, provider: "kk", name: "sib", pid: target.pid }),
    (e: unknown) =>
      e instanceof UsdtArgError &&
      e.index === 0 &&
      e.spec === "-8@40(%rdi,%rsi,8)" &&
      e.message.includes(`(probe kk:sib at 0x`) &&
      e.message.includes(`in ${build.exe}, arguments "-8@40(%rdi,%rsi,8) -4@44(%rdi,%rsi,4)")`) &&
      /usdt\.bpf\.h from libbpf ≥ 1\.6/.test(e.hint ?? ""),
  );
  first.close();
  assert.equal(openFds(), fdsBefore, "every fd the attaches opened is closed again");
  // a failed attach half-way (its second call site collides in the IP map) leaves no entry behind
  const noCookie = await load(target, ["NO_COOKIE"]);
  t.after(() => noCookie.close());
  const p2 = noCookie.program("on_probe");
  const twice = { binary: build.exe, provider: "kk", name: "twice", pid: target.pid };
  const held = attachUsdt(p2, { ...twice }, { bpfCookie: false });
  assert.throws(
    () => attachUsdt(p2, twice, { bpfCookie: false }),
    (e: unknown) => isKfuncKitError(e) && /is already attached by this object \(IP collision/.test(e.message),
  );
  assert.equal(
    [...noCookie.map("__bpf_usdt_ip_to_spec_id").keysRaw()].length,
    2,
    "only the held link's two sites",
  );
  held.close();
  assert.equal([...noCookie.map("__bpf_usdt_ip_to_spec_id").keysRaw()].length, 0);
});
