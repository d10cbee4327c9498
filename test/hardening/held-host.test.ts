/**
 * The reliability probe's held host cases: loader hygiene (P4-01 500 load/close + 100 load/attach/detach/
 * close cycles in one process, P4-02 a load that fails half-way ×20 with a pinned map) and `kfunc run`
 * interruption (P5-01 Ctrl-C, P5-02 SIGTERM, P5-03 SIGKILL). Leftovers are counted as the probe counted
 * them: this process's fds, the registry's live objects, and bpftool's system-wide lists — filtered by the
 * fixtures' own names (others load programs on this machine at the same time).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { attach, liveObjectCount, loadCollection } from "../../src/kernel/index.ts";
import { parseObject } from "../../src/object/index.ts";
import { compileFixture, rootSkip } from "../helpers/index.ts";
import { spawnKfunc, waitFor } from "./held-env.ts";

const skip = rootSkip();
let T: string;
let held: string;
let halfbad: string;

before(() => {
  T = mkdtempSync(join(tmpdir(), "kfunc-harden-held-host-"));
  held = compileFixture("test/hardening/fixtures/held.bpf.c");
  halfbad = compileFixture("test/hardening/fixtures/held-halfbad.bpf.c");
});
after(() => rmSync(T, { recursive: true, force: true }));

const fds = () => readdirSync("/proc/self/fd").length;
/** `bpftool -j <what> show`: the names (id:name) of the objects whose name starts with `prefix`. */
function listed(what: "prog" | "map" | "link", prefix: string): string[] {
  const out = execFileSync("bpftool", ["-j", what, "show"], { encoding: "utf8" }) || "[]";
  const all = JSON.parse(out) as { id: number; name?: string; prog_id?: number }[];
  if (what === "link") {
    const progs = new Set(listed("prog", prefix).map((s) => Number(s.split(":")[0])));
    return all.filter((l) => l.prog_id !== undefined && progs.has(l.prog_id)).map((l) => `link ${l.id}`);
  }
  return all.filter((o) => (o.name ?? "").startsWith(prefix)).map((o) => `${o.id}:${o.name}`);
}
const kernelObjects = (prefix: string) => [...listed("prog", prefix), ...listed("map", prefix)];
/** Kernel objects go asynchronously (RCU, raw_tp link teardown): wait up to 5 s for none. */
const noneLeft = (prefix: string) => waitFor(() => kernelObjects(prefix).length === 0, 5_000);

test("P4-01 500 load/close, then 100 load/attach/detach/close: no fd, registry or kernel-object growth", {
  skip,
}, async () => {
  const bytes = readFileSync(held);
  {
    const c = await loadCollection(parseObject(bytes, "held"));
    // the filter sees this fixture's objects (else "none left" below could not fail)
    assert.deepEqual(
      kernelObjects("held_")
        .map((o) => o.split(":")[1])
        .sort(),
      ["held_hyg", "held_hyg_map", "held_p5_unlink"],
    );
    c.close(); // warm-up: BTF caches, feature probes
  }
  const fd0 = fds();
  for (let i = 0; i < 500; i++) (await loadCollection(parseObject(bytes, "held"))).close();
  assert.ok(fds() <= fd0 + 1, `fds ${fd0} → ${fds()} after 500 load/close`);
  for (let i = 0; i < 100; i++) {
    const c = await loadCollection(parseObject(bytes, "held"));
    attach(c.program("held_hyg")).close();
    c.close();
  }
  assert.ok(fds() <= fd0 + 1, `fds ${fd0} → ${fds()} after 100 load/attach/detach/close`);
  assert.equal(liveObjectCount(), 0);
  assert.ok(await noneLeft("held_"), `left in the kernel: ${kernelObjects("held_")}`);
});

test("P4-02 a load that fails half-way (verifier) ×20 with a pinned map: no fd, object or pin left", {
  skip,
}, async () => {
  const bpffs = join(T, "bpffs");
  mkdirSync(bpffs);
  const m = spawnSync("mount", ["-t", "bpf", "bpf", bpffs], { encoding: "utf8" });
  assert.equal(m.status, 0, `mount -t bpf: ${m.stderr}`);
  try {
    const bytes = readFileSync(halfbad);
    const pin = join(bpffs, "held_hb_pinned");
    const good = await loadCollection(parseObject(bytes, halfbad), {
      programs: ["held_hb_good"],
      pinPath: bpffs,
    });
    assert.equal(kernelObjects("held_hb").length, 2, "held_hb_good and held_hb_pinned are listed");
    good.close();
    rmSync(pin);
    const fd0 = fds();
    for (let i = 0; i < 20; i++) {
      await assert.rejects(loadCollection(parseObject(bytes, halfbad), { pinPath: bpffs }), (e: Error) => {
        assert.match(e.message, /held_hb_bad/);
        assert.match(e.message, /invalid mem access 'map_value_or_null'/);
        return true;
      });
    }
    assert.equal(fds(), fd0, "fds after 20 failed loads");
    assert.equal(liveObjectCount(), 0);
    assert.ok(!existsSync(pin), "a failed load left its pin");
    assert.ok(await noneLeft("held_hb"), `left in the kernel: ${kernelObjects("held_hb")}`);
    // a pin made by an earlier good load survives a failed load that reuses it
    (
      await loadCollection(parseObject(bytes, halfbad), { programs: ["held_hb_good"], pinPath: bpffs })
    ).close();
    assert.ok(existsSync(pin));
    await assert.rejects(loadCollection(parseObject(bytes, halfbad), { pinPath: bpffs }));
    assert.ok(existsSync(pin), "a failed load removed a pin it did not create");
  } finally {
    spawnSync("umount", [bpffs]);
  }
});

/** runint.sh: `kfunc run <obj> --trace`, 3× touch/rm once running, then the signal. */
async function interrupt(sig: NodeJS.Signals) {
  const run = spawnKfunc(["run", held, "-p", "held_p5_unlink", "--trace"]);
  assert.ok(await waitFor(() => run.stderr().includes("Ctrl-C"), 60_000), `not running:\n${run.stderr()}`);
  assert.equal(listed("prog", "held_p5_unlink").length, 1, "the program is loaded");
  for (let k = 1; k <= 3; k++) execFileSync("sh", ["-c", `touch ${T}/rmme${k} && rm ${T}/rmme${k}`]);
  const line = /held-P5 unlink by \d+/;
  assert.ok(
    await waitFor(() => line.test(run.stdout().toString()), 10_000),
    `no trace line:\n${run.stderr()}`,
  );
  run.child.kill(sig);
  const rc = await run.exited;
  return { run, rc };
}

test("P5-01 Ctrl-C of kfunc run --trace: exit 0, 'detached 1 program(s)', nothing attached", {
  skip,
}, async () => {
  const { run, rc } = await interrupt("SIGINT");
  assert.equal(rc, 0, run.stderr());
  assert.match(run.stderr(), /detached 1 program\(s\)/);
  assert.ok(await noneLeft("held_p5"), `left in the kernel: ${kernelObjects("held_p5")}`);
  assert.deepEqual(listed("link", "held_p5"), []);
});

test("P5-02 SIGTERM of kfunc run --trace: exit 0, detached, nothing attached", { skip }, async () => {
  const { run, rc } = await interrupt("SIGTERM");
  assert.equal(rc, 0, run.stderr());
  assert.match(run.stderr(), /detached 1 program\(s\)/);
  assert.ok(await noneLeft("held_p5"), `left in the kernel: ${kernelObjects("held_p5")}`);
});

test("P5-03 SIGKILL of kfunc run --trace: rc 137, the kernel drops the link and the program", {
  skip,
}, async () => {
  const { rc } = await interrupt("SIGKILL");
  assert.equal(rc, 137);
  // the probe saw the link gone at 0.3 s and the program (asynchronous teardown) by 3 s
  assert.ok(await noneLeft("held_p5"), `left in the kernel: ${kernelObjects("held_p5")}`);
  assert.deepEqual(listed("link", "held_p5"), []);
});
