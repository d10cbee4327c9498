// The guest runner's V8 code cache (src/testing/code-cache.ts), on the host: the loader runs the CommonJS
// runner bundle, the first run produces the cache, the next one uses it (and writes none), a cache V8
// rejects (here: garbage) falls back to a normal compile silently and is replaced.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { guestLoader } from "../../src/testing/code-cache.ts";
import { bundleForGuest } from "../../src/testing/run.ts";

const GUEST = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "testing", "guest.ts");
const hostHasBtf = existsSync("/sys/kernel/btf/vmlinux");

test("the runner starts through its code cache: made, used, a rejected one replaced", {
  skip: !hostHasBtf && "the host kernel has no BTF",
}, () => {
  const bundle = bundleForGuest(GUEST, `code-cache-test-${process.pid}`, "cjs");
  const cacheDir = mkdtempSync(join(tmpdir(), "kfunc-cc-cache-"));
  const runs: string[] = [];
  try {
    const run = () => {
      const runDir = mkdtempSync(join(tmpdir(), "kfunc-cc-run-"));
      runs.push(runDir);
      writeFileSync(join(runDir, "plan.json"), JSON.stringify({ files: [] }));
      const l = guestLoader(bundle, runDir, cacheDir, []);
      assert.ok(l);
      const out = execFileSync(process.execPath, [l.loader, join(runDir, "plan.json")], { encoding: "utf8" });
      assert.match(out, /"type":"ready"/);
      assert.match(out, /"type":"done","count":0/);
      const wrote = existsSync(join(runDir, "code-cache.new"));
      l.collect();
      return { wrote, given: existsSync(join(runDir, "code-cache.bin")) };
    };
    assert.deepEqual(run(), { wrote: true, given: false }, "no cache yet: the run makes one");
    const kept = readdirSync(join(cacheDir, "guest-code-cache"));
    assert.equal(kept.length, 1);
    const keptFile = join(cacheDir, "guest-code-cache", kept[0]!);
    assert.ok(readFileSync(keptFile).length > 10_000, "the cache holds compiled code");
    assert.deepEqual(run(), { wrote: false, given: true }, "the cache is accepted: nothing new written");
    writeFileSync(keptFile, Buffer.alloc(4096, 7));
    assert.deepEqual(
      run(),
      { wrote: true, given: true },
      "a rejected cache: the run still works and makes a new one",
    );
    assert.ok(readFileSync(keptFile).length > 10_000, "the rejected cache was replaced");
    assert.deepEqual(run(), { wrote: false, given: true });
    // caches of older bundles: the newest 8 stay
    for (let i = 0; i < 12; i++) {
      const old = join(cacheDir, "guest-code-cache", `old${i}.bin`);
      writeFileSync(old, "x");
      utimesSync(old, 1000 + i, 1000 + i);
    }
    rmSync(keptFile);
    assert.deepEqual(run(), { wrote: true, given: false });
    const left = readdirSync(join(cacheDir, "guest-code-cache")).sort();
    assert.equal(left.length, 8);
    assert.ok(left.includes(kept[0]!), "the new cache stays");
    assert.ok(!left.includes("old0.bin") && left.includes("old11.bin"), "the oldest go");
  } finally {
    for (const d of [cacheDir, ...runs]) rmSync(d, { recursive: true, force: true });
    rmSync(bundle, { force: true });
  }
});

test("KFUNC_KIT_GUEST_CODE_CACHE=0 turns the loader off", () => {
  const before = process.env["KFUNC_KIT_GUEST_CODE_CACHE"];
  process.env["KFUNC_KIT_GUEST_CODE_CACHE"] = "0";
  try {
    assert.equal(guestLoader("/nonexistent.cjs", tmpdir(), tmpdir(), []), undefined);
  } finally {
    if (before === undefined) delete process.env["KFUNC_KIT_GUEST_CODE_CACHE"];
    else process.env["KFUNC_KIT_GUEST_CODE_CACHE"] = before;
  }
});
