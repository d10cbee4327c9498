/** Maps pinned by name under a bpffs: reuse across loads, incompatible pins refused, failed loads leave no pin. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isKfuncKitError } from "../../src/errors.ts";
import { loadCollectionSync } from "../../src/kernel/index.ts";
import { fixtureSpec, requireBpf } from "./load-helpers.ts";

let bpffs = "";

before(() => {
  if (process.getuid?.() !== 0) return;
  bpffs = mkdtempSync(join(tmpdir(), "kfunc-bpffs-"));
  execFileSync("mount", ["-t", "bpf", "bpf", bpffs]);
});

after(() => {
  if (!bpffs) return;
  execFileSync("umount", [bpffs]);
  rmSync(bpffs, { recursive: true, force: true });
});

test("a pinned map is created once and reused by the next load", (t) => {
  if (!requireBpf(t)) return;
  const pin = join(bpffs, "shared_counts");
  const spec = fixtureSpec("load-pin");
  const first = loadCollectionSync(spec, { pinPath: bpffs });
  try {
    assert.ok(existsSync(pin), "pinned at <pinPath>/<map name>");
    first.map("shared_counts").set(2, 4242);
  } finally {
    first.close();
  }
  assert.ok(existsSync(pin), "the pin outlives the collection");
  const second = loadCollectionSync(spec, { pinPath: bpffs });
  try {
    assert.equal(
      second.map("shared_counts").get(2),
      4242,
      "same kernel map, value written by the first load",
    );
  } finally {
    second.close();
  }
  rmSync(pin);
});

test("an incompatible pinned map is refused with the fix", (t) => {
  if (!requireBpf(t)) return;
  const pin = join(bpffs, "shared_counts");
  loadCollectionSync(fixtureSpec("load-pin"), { pinPath: bpffs }).close();
  assert.throws(
    () => loadCollectionSync(fixtureSpec("load-pin", ["BIGGER"]), { pinPath: bpffs }),
    (e: unknown) => {
      assert.ok(isKfuncKitError(e));
      assert.match(e.message, /map 'shared_counts': pinned map at '.*shared_counts' is incompatible/);
      assert.match(e.hint ?? "", /max_entries 4/);
      assert.match(e.hint ?? "", /rm .*shared_counts/);
      return true;
    },
  );
  assert.ok(existsSync(pin), "the existing pin is not touched");
  rmSync(pin);
});

test("a load that fails after pinning removes the pin it created", (t) => {
  if (!requireBpf(t)) return;
  const pin = join(bpffs, "shared_counts");
  assert.equal(existsSync(pin), false);
  assert.throws(
    () => loadCollectionSync(fixtureSpec("load-pin", ["BROKEN"]), { pinPath: bpffs }),
    (e: unknown) => isKfuncKitError(e) && e.code === "VERIFIER",
  );
  assert.equal(existsSync(pin), false, "no half-loaded object left in bpffs");
});
