/**
 * USDT on a real Debian kernel under QEMU (one boot): inside the guest our loader loads the usdt.bpf.h
 * program, attachUsdt attaches it to every probe of the gcc-built target (copied to the guest's tmpfs),
 * and the values bpf_usdt_arg() reads must equal what the C program passed, with BPF cookies and with the
 * IP-to-spec map; the kernel's ref_ctr_offset raises and lowers the semaphores there too.
 * Needs the QEMU runner's kernel (downloaded and cached on first use); skips with the reason otherwise.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";
import { runGuestScript } from "../helpers/vm-guest.ts";
import { vmlinuxHeaderDir } from "../kernel/load-helpers.ts";
import { buildTarget, expectedArgs, INPUTS_EXTREME, INPUTS_NEGATIVE } from "./target.ts";

const KERNEL = process.env["KFUNC_KIT_TEST_KERNEL"] ?? "debian:bookworm-backports";
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

const guestScript = (objects: { cookie: string; noCookie: string }, targetDir: string) => `
import { cpSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { emitResult } from "${REPO_ROOT}/src/qemu/result-channel.ts";
import { parseObject } from "${REPO_ROOT}/src/object/index.ts";
import { loadCollection, setGlobal } from "${REPO_ROOT}/src/kernel/index.ts";
import { attachUsdt, closeAll, RingBuffer } from "${REPO_ROOT}/src/kernel/attach/index.ts";
import { Target } from "${REPO_ROOT}/test/usdt/target.ts";
const PROBES = ${JSON.stringify(PROBES)};
const INPUTS = ${JSON.stringify([INPUTS_NEGATIVE, INPUTS_EXTREME].map((i) => i.map(String)))};
// uprobes go on a file of the guest's own tmpfs, not the 9p share
cpSync(${JSON.stringify(targetDir)}, "/tmp/usdt-target", { recursive: true });
const exe = "/tmp/usdt-target/usdt-target", lib = "/tmp/usdt-target/libusdt-target.so";
const out = { release: release(), runs: {} };
for (const [variant, obj] of Object.entries(${JSON.stringify(objects)})) {
  const target = new Target(exe);
  const spec = parseObject(readFileSync(obj), obj);
  setGlobal(spec, "target_pid", target.pid);
  const coll = await loadCollection(spec, { programs: ["on_probe"] });
  const btf = spec.btf;
  const rb = new RingBuffer(coll.map("events"), { btf, typeId: btf.findByName("usdt_event", "STRUCT").id });
  const run = { semaBefore: await target.sema(), links: [], fires: [] };
  const links = PROBES.map((name, i) => attachUsdt(
    coll.program("on_probe"),
    { binary: name === "lib" ? lib : exe, provider: name === "lib" ? "kklib" : "kk", name, pid: target.pid },
    { cookie: i + 1, bpfCookie: variant === "cookie" },
  ));
  run.links = links.map((l) => [l.info.target.replace(/^.*:(\\w+:\\w+)$/, "$1"), l.info.sites, l.info.mechanism]);
  run.semaAttached = await target.sema();
  run.ipEntries = [...coll.map("__bpf_usdt_ip_to_spec_id").keysRaw()].length;
  for (const inputs of INPUTS) {
    await target.fire(inputs.map(BigInt));
    const events = [];
    rb.consume((v) => {
      const e = rb.decode(v);
      events.push({ probe: PROBES[Number(e.cookie) - 1], args: e.args.slice(0, Math.max(0, e.arg_cnt)).map(String) });
    });
    run.fires.push(events);
  }
  closeAll(links);
  run.semaClosed = await target.sema();
  run.ipAfter = [...coll.map("__bpf_usdt_ip_to_spec_id").keysRaw()].length;
  rb.close();
  coll.close();
  await target.quit();
  out.runs[variant] = run;
}
emitResult({ type: "result", value: out });
`;

interface Run {
  semaBefore: number[];
  semaAttached: number[];
  semaClosed: number[];
  links: Array<[string, number, string]>;
  ipEntries: number;
  ipAfter: number;
  fires: Array<Array<{ probe: string; args: string[] }>>;
}

test(`USDT arguments, cookies and the IP map, semaphores inside QEMU (${KERNEL})`, {
  timeout: 900_000,
}, (t) => {
  const build = buildTarget();
  const inc = { includeDirs: [vmlinuxHeaderDir()] };
  const objects = {
    cookie: compileFixture("usdt-args", inc),
    noCookie: compileFixture("usdt-args", { ...inc, defines: ["NO_COOKIE"] }),
  };
  const res = runGuestScript<{ release: string; runs: Record<string, Run> }>(
    t,
    KERNEL,
    guestScript(objects, build.dir),
    objects.cookie,
    // one vCPU: with two, multi-threaded TCG crashed the guest in perf_event_open while uprobes patched
    // text (as in the corpus test)
    ["--cpus", "1"],
  );
  if (!res) return;
  t.diagnostic(`guest ${res.release}`);
  const sites = PROBES.filter((p) => p !== "lib").length + 1 /* twice */ + 1; /* lib */
  for (const [variant, run] of Object.entries(res.runs)) {
    const ctx: string = `${variant} in ${res.release}`;
    assert.deepEqual(run.semaBefore, [0, 0], ctx);
    assert.deepEqual(run.semaAttached, [1, 1], `${ctx}: ref_ctr_offset raised both semaphores`);
    assert.deepEqual(run.semaClosed, [0, 0], `${ctx}: and close lowered them`);
    assert.deepEqual(
      run.links.map((l) => l[1]),
      PROBES.map((p) => (p === "twice" ? 2 : 1)),
    );
    assert.ok(
      run.links.every((l) => l[2] === "bpf_link"),
      ctx,
    );
    assert.equal(run.ipEntries, variant === "cookie" ? 0 : sites, `${ctx}: IP-map entries`);
    assert.equal(run.ipAfter, 0, ctx);
    for (const [i, inputs] of [INPUTS_NEGATIVE, INPUTS_EXTREME].entries()) {
      const want = expectedArgs(inputs)
        .filter((e) => e.probe !== "sib")
        .map((e) => ({ probe: e.probe, args: e.args.map(String) }));
      assert.deepEqual(run.fires[i], want, `${ctx}: inputs ${inputs.join(" ")}`);
    }
  }
  assert.deepEqual(Object.keys(res.runs), ["cookie", "noCookie"]);
});
