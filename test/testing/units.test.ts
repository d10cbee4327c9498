/**
 * The pieces of `kfunc test` that need no kernel: vCPUs per VM, --shard dealing, test discovery and module lookup, the
 * result channel, `kfunc new`'s files, and the suite → release memory that lets a cached kernel work offline.
 */
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { rememberRelease } from "../../src/kernels/suite-cache.ts";
import { prepareKernel } from "../../src/qemu/index.ts";
import { parseResults, resultSplitter } from "../../src/qemu/result-channel.ts";
import { findModules, findTestFiles, parseShard, shardPairs } from "../../src/testing/discover.ts";
import { vcpusPerVm } from "../../src/testing/run.ts";
import { scaffold } from "../../src/testing/scaffold.ts";
import { REPO_ROOT } from "../helpers/index.ts";

test("--jobs: VMs at once share the host's cores out (1–2 vCPUs each, at least --guest-jobs)", () => {
  assert.equal(vcpusPerVm(1, 1, 2), 2);
  assert.equal(vcpusPerVm(2, 1, 2), 1);
  assert.equal(vcpusPerVm(2, 2, 2), 2);
  assert.equal(vcpusPerVm(3, 1, 2), 1);
  assert.equal(vcpusPerVm(2, 1, 8), 2);
  assert.equal(vcpusPerVm(1, 1, 1), 1);
});

test("--shard I/N deals every kernel × file pair to exactly one shard", () => {
  const kernels = ["a", "b"];
  const files = ["1", "2", "3"];
  const seen: string[] = [];
  for (let i = 1; i <= 4; i++)
    for (const w of shardPairs(kernels, files, parseShard(`${i}/4`)))
      for (const f of w.files) seen.push(`${w.kernel}${f}`);
  assert.deepEqual(seen.sort(), ["a1", "a2", "a3", "b1", "b2", "b3"]);
  assert.throws(() => parseShard("0/2"), /--shard '0\/2': expected I\/N/);
  assert.throws(() => parseShard("3/2"), /expected I\/N/);
});

test("test discovery: a module dir's tests/, *.test.bpf.c, the module next to them; a dir without tests is an error", () => {
  const zoo = join(REPO_ROOT, "examples", "kfunc-zoo");
  const files = findTestFiles([zoo]);
  assert.deepEqual(files, [join(zoo, "tests", "zoo.test.bpf.c")]);
  assert.deepEqual(findModules(files), [zoo]);
  assert.throws(() => findTestFiles([join(REPO_ROOT, "docs")]), /no test files/);
  assert.throws(() => findTestFiles([join(REPO_ROOT, "nope")]), /no such file or directory/);
});

test("the result channel: records split from text, also across chunk boundaries", () => {
  const recs: unknown[] = [];
  let text = "";
  const s = resultSplitter(
    (r) => recs.push(r),
    (t) => {
      text += t;
    },
  );
  s.push('hello\nKFUNC_RESULT {"type":"a",');
  const rest = Buffer.from('"n":1,"t":"1 + … + 8"}\nworld\nKFUNC_RESULT {"type":"b"}');
  const cut = rest.indexOf("…") + 1; // inside the 3-byte character
  s.push(rest.subarray(0, cut));
  s.push(rest.subarray(cut));
  s.flush();
  assert.deepEqual(recs, [{ type: "a", n: 1, t: "1 + … + 8" }, { type: "b" }]);
  assert.equal(text, "hello\nworld\n");
  assert.deepEqual(parseResults('x\nKFUNC_RESULT {"type":"c"}\n'), [{ type: "c" }]);
});

test("kfunc new writes kfunc.json, the kfuncs, a test file and a README; refuses a dir that is not empty", () => {
  const dir = mkdtempSync(join(tmpdir(), "kfunc-new-"));
  try {
    const r = scaffold(join(dir, "my-kfuncs"));
    assert.equal(r.name, "my_kfuncs");
    const cfg = JSON.parse(readFileSync(join(r.dir, "kfunc.json"), "utf8")) as {
      kfuncs: { name: string }[];
      sources: string[];
    };
    assert.deepEqual(
      cfg.kfuncs.map((k) => k.name),
      ["my_kfuncs_add", "my_kfuncs_scale"],
    );
    assert.deepEqual(cfg.sources, ["my_kfuncs_kfuncs.c"]);
    const t = readFileSync(join(r.dir, "tests", "my_kfuncs.test.bpf.c"), "utf8");
    assert.match(t, /__retval\(42\)/);
    assert.match(t, /__failure __msg\("calling kernel function my_kfuncs_add is not allowed"\)/);
    assert.ok(existsSync(join(r.dir, "README.md")));
    assert.throws(() => scaffold(r.dir), /exists and is not empty/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a suite whose kernel is cached resolves without apt (offline): no apt lists are read or fetched", async (t) => {
  const real = join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "kfunc-kit", "kernels");
  const release = "6.12.95+deb12-amd64";
  if (!existsSync(join(real, release, "kernel.json"))) {
    t.skip(`the QEMU kernel ${release} is not cached in ${real}`);
    return;
  }
  const cache = mkdtempSync(join(tmpdir(), "kfunc-suite-cache-"));
  try {
    mkdirSync(join(cache, "kernels"), { recursive: true });
    symlinkSync(join(real, release), join(cache, "kernels", release));
    rememberRelease(cache, "bookworm-backports", release);
    const k = await prepareKernel("debian:bookworm-backports", { cacheDir: cache });
    assert.equal(k.release, release);
    assert.equal(existsSync(join(cache, "apt")), false, "the private apt dir was not even created");
    writeFileSync(join(cache, "kernels", "suites.json"), "{}");
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
