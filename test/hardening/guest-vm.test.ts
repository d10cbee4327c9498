/**
 * Class 1 in a real guest (P3-14, P3-15, P3-16), two boots for every hostile class at once: an --insmod
 * path, the cwd, environment values and the command's arguments made of `$(…)`, backticks, `;`, quotes,
 * spaces, tabs, newlines, `*` and a leading `-` arrive literally, a module whose name has a space loads,
 * a failing module is named literally, and a canary in a read-write share proves nothing ran as code.
 * Non-UTF-8 names cannot reach kfunc-kit at all (Node decodes argv as UTF-8): they are refused with a
 * message, before any boot.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type PreparedKernel, prepareKernel, runInVm } from "../../src/qemu/index.ts";
import { readModule } from "../../src/qemu/modules.ts";
import { REPO_ROOT } from "../helpers/index.ts";
import { MAIN } from "./cli.ts";

let kernel: PreparedKernel;
let T: string;
let share: string;
let canary: string;
let dummy: string;
let vxlan: string;
let tricky: string;

const hostileArgs = (c: string): string[] => [
  `$(touch ${c})`,
  `\`touch ${c}\``,
  `x;touch ${c}`,
  `it's "q"`,
  "sp ace",
  "new\nline",
  "tab\there",
  "*",
  "-n",
];

before(async () => {
  kernel = await prepareKernel();
  T = mkdtempSync(join(tmpdir(), "kfunc-harden-vm-"));
  share = join(T, "share");
  mkdirSync(share);
  canary = join(share, "PWNED");
  // no '/' in a file name: the injected commands find the canary through $K (exported before insmod)
  tricky = `$(touch "$K") \`touch "$K"\`;touch $K;'"*\tx\ny`;
  dummy = join(T, `-dummy ${tricky}.ko`);
  writeFileSync(dummy, await readModule(join(kernel.modulesDir, "kernel", "drivers", "net", "dummy.ko.xz")));
  const vx = execFileSync("find", [kernel.modulesDir, "-name", "vxlan.ko*"])
    .toString()
    .trim()
    .split("\n")[0]!;
  vxlan = join(T, `vxlan ${tricky}.ko`);
  writeFileSync(vxlan, await readModule(vx));
});
after(() => rmSync(T, { recursive: true, force: true }));

test("P3-14/15/16 one boot: hostile insmod path (with a space: it loads), cwd, env and argv arrive literally", async () => {
  // inside the share (QEMU's -fsdev takes no whitespace or comma in the share itself, but the cwd may)
  const cwd = join(share, `-c${tricky}`);
  mkdirSync(cwd);
  const args = hostileArgs(canary);
  const env = Object.fromEntries(args.map((a, i) => [`H${i}`, a]));
  const r = await runInVm({
    kernel,
    cwd,
    shares: [share],
    env: { ...env, K: canary },
    insmod: [dummy],
    timeoutMs: 300_000,
    command: [
      "sh",
      "-c",
      `printf '%s\\0' "$PWD" ${args.map((_, i) => `"$H${i}"`).join(" ")} "$@"; grep -q '^dummy ' /proc/modules && echo LOADED >&2`,
      "sh",
      ...args,
    ],
  });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.insmodFailed, undefined);
  assert.match(r.stderr, /LOADED/);
  assert.deepEqual(r.stdout.split("\0").slice(0, -1), [cwd, ...args, ...args]);
  assert.ok(!existsSync(canary), "user text ran as code in the guest");
});

test("P3-14 one boot: a failing module with a hostile name is named literally; nothing ran", async () => {
  const r = await runInVm({
    kernel,
    cwd: share,
    shares: [share],
    env: { K: canary },
    insmod: [dummy, vxlan],
    timeoutMs: 300_000,
    command: ["touch", join(share, "ran")],
  });
  assert.equal(r.exitCode, 1);
  assert.equal(r.insmodFailed, vxlan);
  assert.ok(r.stderr.includes(`kfunc vm: insmod ${vxlan} failed:`), r.stderr);
  assert.match(r.stderr, /Unknown symbol/);
  assert.ok(!existsSync(join(share, "ran")), "the command ran after a failed insmod");
  assert.ok(!existsSync(canary), "user text ran as code in the guest");
});

test("non-UTF-8 names cannot be passed through the CLI: refused with a message, no boot", () => {
  const raw = Buffer.concat([Buffer.from(`${T}/bad`), Buffer.from([0xff, 0xfe]), Buffer.from(".ko")]);
  writeFileSync(raw, "x");
  for (const [verb, tail] of [
    ["vm run --insmod", "-- true"],
    ["inspect", ""],
    ["module build", ""],
  ]) {
    const r = spawnSync(
      "/bin/sh",
      [
        "-c",
        `exec "$0" --import tsx "$1" ${verb} "$(printf '${T}/bad\\377\\376.ko')" ${tail}`,
        process.execPath,
        MAIN,
      ],
      { cwd: REPO_ROOT, encoding: "utf8" },
    );
    assert.ok(r.status === 1 || r.status === 2, `${verb}: exit ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, /does not exist|no such (file|directory)/, verb);
    assert.ok(!/internal error|booting|restoring/.test(r.stderr), r.stderr);
  }
});
