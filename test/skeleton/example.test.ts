/**
 * examples/host-unlink as its README runs it: `kfunc build unlink.bpf.c --skeleton` writes the object and
 * unlink.skel.ts; `tsc --strict` accepts app.ts on that skeleton; on the host kernel app.ts, given this
 * process as the target pid, prints one decoded ring-buffer record per `rm` child and the .bss count.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { REPO_ROOT } from "../helpers/index.ts";
import { requireBpf } from "../kernel/load-helpers.ts";
import { runTsc, tscProject } from "./tsc-helpers.ts";

const EXAMPLE = join(REPO_ROOT, "examples/host-unlink");

function buildExample(): string {
  const dir = tscProject({});
  copyFileSync(join(EXAMPLE, "app.ts"), join(dir, "app.ts"));
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      join(REPO_ROOT, "src/cli/main.ts"),
      "build",
      join(EXAMPLE, "unlink.bpf.c"),
      "-o",
      join(dir, "unlink.bpf.o"),
      "--skeleton",
    ],
    { encoding: "utf8", cwd: REPO_ROOT },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), [join(dir, "unlink.bpf.o"), join(dir, "unlink.skel.ts")]);
  return dir;
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

test("examples/host-unlink: build --skeleton, tsc --strict accepts app.ts, and it prints typed records on the host", async (t) => {
  const dir = buildExample();
  const config = JSON.parse(readFileSync(join(dir, "tsconfig.json"), "utf8"));
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({ ...config, files: ["app.ts", "unlink.skel.ts"] }),
  );
  const tsc = runTsc(dir);
  assert.equal(tsc.status, 0, tsc.output);
  if (!requireBpf(t)) return;
  // the same tsconfig maps kfunc-kit to this checkout's src/ for tsx
  const tsx = pathToFileURL(join(REPO_ROOT, "node_modules/tsx/dist/loader.mjs")).href;
  const app = spawn(process.execPath, ["--import", tsx, "app.ts", String(process.pid), "60"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  app.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  app.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  let done = false;
  const exited = new Promise<number | null>((r) =>
    app.on("exit", (code) => {
      done = true;
      r(code);
    }),
  );
  try {
    await waitFor(() => done || err.includes("attached"), 30_000);
    assert.match(err, /attached tp_btf 'handle_unlinkat' → sys_enter/);
    const pids: number[] = [];
    for (let i = 0; i < 2; i++) {
      const f = join(tmpdir(), `kfunc-kit-app-${process.pid}-${i}`);
      writeFileSync(f, "x");
      const r = spawnSync("rm", [f]);
      assert.equal(r.status, 0);
      assert.ok(!existsSync(f));
      pids.push(r.pid!);
    }
    await waitFor(() => pids.every((p) => out.includes(`pid ${p} `)), 10_000);
    for (const p of pids)
      assert.match(
        out,
        new RegExp(`^rm: pid ${p} \\(parent ${process.pid}\\) unlinkat, kfunc result ${p}$`, "m"),
      );
  } finally {
    app.kill("SIGINT");
  }
  assert.equal(await exited, 0, err);
  assert.match(err, /^2 unlinkat calls seen$/m);
  assert.equal(out.trim().split("\n").length, 2, out);
});
