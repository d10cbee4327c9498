// The guest runner's per-boot cache kept on the host (src/testing/guest-boot-cache.ts). A child node process
// with the environment the guest gets stands in for the guest: it is the same code, on this boot.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
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
import { guestBootCache } from "../../src/testing/guest-boot-cache.ts";

const FEATURES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "kernel", "features.ts");
const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
const canProbe = process.getuid?.() === 0 && existsSync("/sys/kernel/btf/vmlinux");

/** Runs a "guest" that asks for two BTF features with `env`; prints what it was told. */
function guest(env: Record<string, string>): { float: boolean; declTag: boolean } {
  const src = `import { supports } from ${JSON.stringify(FEATURES)};
process.stdout.write(JSON.stringify({ float: supports("btfFloat"), declTag: supports("btfDeclTag") }));`;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", src], {
    encoding: "utf8",
    env: { ...process.env, ...env, KFUNC_KIT_NO_BOOT_CACHE: "" },
  });
  return JSON.parse(out) as { float: boolean; declTag: boolean };
}

test("probe results go out through the run dir, are kept per boot id, and come back into the next run", {
  skip: !canProbe && "needs root and a kernel with BTF to probe",
}, () => {
  const cacheDir = mkdtempSync(join(tmpdir(), "kfunc-gb-cache-"));
  const runs: string[] = [];
  const runDir = () => {
    const d = mkdtempSync(join(tmpdir(), "kfunc-gb-run-"));
    runs.push(d);
    return d;
  };
  try {
    const first = guestBootCache(runDir(), cacheDir);
    assert.ok(first);
    assert.deepEqual(guest(first.env), { float: true, declTag: true }); // probed: 6.18 has both
    first.collect();
    const kept = join(cacheDir, "guest-boot", `${bootId}.json`);
    const saved = JSON.parse(readFileSync(kept, "utf8")) as Record<string, unknown>;
    assert.equal(saved["feature:btfFloat"], true);
    assert.equal(saved["feature:btfDeclTag"], true);

    // the next run is handed the kept answers and uses them instead of probing: a planted `false` shows it
    writeFileSync(kept, JSON.stringify({ ...saved, "feature:btfFloat": false }));
    const second = guestBootCache(runDir(), cacheDir);
    assert.ok(second);
    assert.deepEqual(guest(second.env), { float: false, declTag: true });
    const mtime = readFileSync(kept, "utf8");
    second.collect(); // nothing new: the kept file stays as it was
    assert.equal(readFileSync(kept, "utf8"), mtime);
  } finally {
    for (const d of [cacheDir, ...runs]) rmSync(d, { recursive: true, force: true });
  }
});

test("the host keeps the newest 16 boot ids, ignores other files, and is off with KFUNC_KIT_NO_BOOT_CACHE or KFUNC_KIT_GUEST_BOOT_CACHE=0", () => {
  const cacheDir = mkdtempSync(join(tmpdir(), "kfunc-gb-cache-"));
  const run = mkdtempSync(join(tmpdir(), "kfunc-gb-run-"));
  try {
    const kept = join(cacheDir, "guest-boot");
    mkdirSync(kept);
    const id = (i: number) => `00000000-0000-0000-0000-${String(i).padStart(12, "0")}.json`;
    for (let i = 0; i < 20; i++) {
      writeFileSync(join(kept, id(i)), "{}");
      utimesSync(join(kept, id(i)), 1_000_000 + i, 1_000_000 + i);
    }
    writeFileSync(join(kept, "notes.txt"), "not a boot id");
    const c = guestBootCache(run, cacheDir);
    assert.ok(c);
    assert.equal(readdirSync(join(run, "boot")).length, 20); // every kept id goes in; only .json boot ids
    writeFileSync(join(run, "boot", id(99)), '{"feature:btfFunc":true}');
    c.collect();
    const left = readdirSync(kept).sort();
    assert.equal(left.length, 17); // 16 newest boot ids + notes.txt
    assert.ok(
      left.includes(id(99)) && left.includes("notes.txt") && !left.includes(id(4)) && left.includes(id(19)),
    );

    for (const [name, value] of [
      ["KFUNC_KIT_NO_BOOT_CACHE", "1"],
      ["KFUNC_KIT_GUEST_BOOT_CACHE", "0"],
    ] as const) {
      process.env[name] = value;
      try {
        assert.equal(guestBootCache(run, cacheDir), undefined, name);
      } finally {
        delete process.env[name];
      }
    }
  } finally {
    for (const d of [cacheDir, run]) rmSync(d, { recursive: true, force: true });
  }
});
