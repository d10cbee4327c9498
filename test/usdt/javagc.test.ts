/**
 * libbpf-tools' javagc, as Debian ships it (the object embedded in its libbpf-tools package: the corpus the
 * libbpf-parity tests extract into the kfunc-kit cache), loaded by our loader and attached with attachUsdt to
 * the HotSpot GC probes of our target program (hotspot:gc__begin/gc__end, mem__pool__gc__begin/end): each
 * begin/end pair makes the tool report one GC of our process through its perf buffer, and the tool's
 * per-process state is gone again afterwards. Skips, saying why, when the corpus was never extracted here.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { defaultCacheDir } from "../../src/host/cache.ts";
import { attachUsdt, closeAll, PerfBuffer } from "../../src/kernel/attach/index.ts";
import { loadObjectFile } from "../../src/kernel/index.ts";
import { REPO_ROOT } from "../helpers/index.ts";
import { requireBpf } from "../kernel/load-helpers.ts";
import { buildTarget, Target } from "./target.ts";

/**
 * javagc.bpf.o from the libbpf-tools corpus: through the corpus tests' helper (test/corpus/corpus.ts, which
 * downloads and extracts it once) when this checkout has it, else from the extracted cache, if any.
 */
async function javagcObject(): Promise<string | undefined> {
  const helper = join(REPO_ROOT, "test", "corpus", "corpus.ts");
  if (existsSync(helper)) {
    const m = (await import(helper)) as {
      corpus?: () => Promise<{ objects: Array<{ name: string; path: string }> }>;
    };
    const found = (await m.corpus?.())?.objects.find((o) => o.name === "javagc");
    if (found) return found.path;
  }
  const root = join(defaultCacheDir(), "corpus");
  if (!existsSync(root)) return undefined;
  for (const d of readdirSync(root)
    .filter((x) => x.startsWith("libbpf-tools-"))
    .sort()
    .reverse()) {
    const p = join(root, d, "objects", "javagc.bpf.o");
    if (existsSync(p)) return p;
  }
  return undefined;
}

test("libbpf-tools' javagc reports the GCs of a process with HotSpot's probes", async (t) => {
  if (!requireBpf(t)) return;
  const obj = await javagcObject();
  if (!obj) {
    t.skip(
      `no libbpf-tools corpus here: neither test/corpus/corpus.ts nor ${join(defaultCacheDir(), "corpus")} (the corpus tests extract it from Debian's libbpf-tools package)`,
    );
    return;
  }
  const build = buildTarget();
  const target = new Target(build.exe);
  t.after(() => target.quit());
  const coll = await loadObjectFile(obj);
  assert.deepEqual(
    [...coll.programs.values()].map((p) => p.section),
    ["usdt", "usdt", "usdt", "usdt"],
  );
  const perf = new PerfBuffer(coll.map("perf_map"));
  t.after(() => {
    perf.close();
    coll.close();
  });
  const samples = (): Array<{ cpu: number; pid: number }> => {
    const out: Array<{ cpu: number; pid: number }> = [];
    perf.consume((_cpu, v) => {
      const d = new DataView(v.buffer, v.byteOffset, v.byteLength);
      out.push({ cpu: d.getUint32(0, true), pid: d.getUint32(4, true) });
    });
    return out;
  };
  for (const [start, end, begin, finish] of [
    ["handle_gc_start", "handle_gc_end", "gc__begin", "gc__end"],
    ["handle_mem_pool_gc_start", "handle_mem_pool_gc_end", "mem__pool__gc__begin", "mem__pool__gc__end"],
  ] as const) {
    const at = (program: string, name: string) =>
      attachUsdt(coll.program(program), { binary: build.exe, provider: "hotspot", name, pid: target.pid });
    const links = [at(start, begin), at(end, finish)];
    await target.gc();
    closeAll(links);
    const got = samples();
    assert.deepEqual(
      got.map((s) => s.pid),
      [target.pid],
      `${begin} → ${finish}: one GC of our process`,
    );
    assert.equal([...coll.map("data_map").keysRaw()].length, 0, "javagc dropped its per-process start time");
  }
  await target.gc();
  assert.deepEqual(samples(), [], "detached: nothing more");
});
