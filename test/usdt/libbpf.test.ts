/**
 * Our USDT attach against libbpf's own: a small C loader (test/fixtures/usdt-libbpf-loader.c, built
 * against the system's libbpf-dev 1.1) attaches the same program of the same object to the same probes of
 * the gcc-built target, in the same order with the same USDT cookies, and prints __bpf_usdt_specs and
 * __bpf_usdt_ip_to_spec_id; after attachUsdt does the same here, both maps must hold byte-identical entries
 * under the same spec ids. (libbpf uses BPF cookies wherever the kernel has them, as here, so its IP map
 * stays empty; the IP-map path is checked against /proc/<pid>/maps in attach.test.ts.) libbpf refuses the
 * %rip-relative operands of globals, which we read (attach.test.ts checks their values).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { attachUsdt, closeAll, type Link } from "../../src/kernel/attach/index.ts";
import { loadCollection } from "../../src/kernel/index.ts";
import { parseObject } from "../../src/object/index.ts";
import { compileFixture, FIXTURE_CACHE, FIXTURES_DIR } from "../helpers/index.ts";
import { requireBpf, vmlinuxHeaderDir } from "../kernel/load-helpers.ts";
import { buildTarget, Target } from "./target.ts";

function buildLoader(): string {
  const src = join(FIXTURES_DIR, "usdt-libbpf-loader.c");
  const key = createHash("sha256").update(readFileSync(src)).digest("hex").slice(0, 16);
  const out = join(FIXTURE_CACHE, `usdt-libbpf-loader-${key}`);
  if (existsSync(out)) return out;
  mkdirSync(FIXTURE_CACHE, { recursive: true });
  execFileSync("gcc", ["-O2", "-o", `${out}.${process.pid}`, src, "-lbpf"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  renameSync(`${out}.${process.pid}`, out);
  return out;
}

test("__bpf_usdt_specs and __bpf_usdt_ip_to_spec_id hold exactly what libbpf 1.1 puts there", async (t) => {
  if (!requireBpf(t)) return;
  const build = buildTarget();
  const loader = buildLoader();
  const obj = compileFixture("usdt-args", { includeDirs: [vmlinuxHeaderDir()] });
  const target = new Target(build.exe);
  t.after(() => target.quit());
  // every probe libbpf can read (not kk:sib), a probe with two call sites, a library, semaphores
  // then detach two (kk:twice frees two spec ids, kk:regs one) and attach again: ids come back in libbpf's order
  const probes = ["regs", "mem", "consts", "dtrace", "twice", "none", "stack", "frame", "sema", "sema_dtrace"]
    .map((n) => `${build.exe}:kk:${n}`)
    .concat(`${build.lib}:kklib:lib`, "-5", "-1", `${build.exe}:kk:twice`, `${build.exe}:kk:mem`);
  const theirs = execFileSync(loader, [obj, "on_probe", String(target.pid), ...probes], { encoding: "utf8" })
    .trim()
    .split("\n");
  assert.ok(theirs.filter((l) => l.startsWith("spec ")).length >= 12, theirs.join("\n"));

  const coll = await loadCollection(parseObject(readFileSync(obj), obj), { programs: ["on_probe"] });
  t.after(() => coll.close());
  const links: Link[] = [];
  t.after(() => closeAll(links));
  const byPosition = new Map<number, Link>();
  for (const [i, p] of probes.entries()) {
    if (p.startsWith("-")) {
      byPosition.get(Number(p.slice(1)))!.close();
      continue;
    }
    const [binary, provider, name] = p.split(":") as [string, string, string];
    const l = attachUsdt(
      coll.program("on_probe"),
      { binary, provider, name, pid: target.pid },
      { cookie: i + 1 },
    );
    links.push(l);
    byPosition.set(i + 1, l);
  }
  const ours: string[] = [];
  const specs = coll.map("__bpf_usdt_specs");
  for (let id = 0; id < specs.maxEntries; id++) {
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, id, true);
    const v = specs.lookupRaw(key)!;
    if (v.some((b) => b !== 0)) ours.push(`spec ${id} ${Buffer.from(v).toString("hex")}`);
  }
  for (const [k, v] of coll.map("__bpf_usdt_ip_to_spec_id").entriesRaw()) {
    const kv = new DataView(k.buffer, k.byteOffset);
    ours.push(
      `ip ${kv.getBigInt64(0, true).toString(16)} ${new DataView(v.buffer, v.byteOffset).getUint32(0, true)}`,
    );
  }
  assert.deepEqual(ours, theirs);
  // where we go further: globals (%rip-relative operands, what gcc -O2 emits for them) libbpf refuses
  const glob = spawnSync(loader, [obj, "on_probe", String(target.pid), `${build.exe}:kk:glob`], {
    encoding: "utf8",
  });
  assert.equal(glob.status, 1);
  assert.match(glob.stderr, /libbpf: usdt: unrecognized arg #0 spec '-4@kk_glob_s32\(%rip\)/);
  t.diagnostic(
    `${ours.length} spec entries identical to libbpf's (${links.length} attaches, 2 of them detached and their ids reused)`,
  );
});
