/**
 * VM runner benchmark, cold boots (--cold; restored starts: bench/vm-snapshot.ts), TCG unless KVM works:
 *  1. library runInVm(["true"]) warm: QEMU start → guest command running, and where the time goes
 *     (QEMU start, kernel boot, initramfs = 9p modules + 9p mounts, setup = switch_root/tracefs/bpffs,
 *     command, poweroff);
 *  2. `node bin/kfunc.js vm run -- true` end to end, warm (compiled CLI in dist/).
 * Median of N runs (default 7). Usage: node --import tsx bench/vm.ts [N]
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { prepareKernel, runInVm, type VmTimings } from "../src/qemu/index.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const N = Number(process.argv[2] ?? 7);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const kernel = await prepareKernel();
await runInVm({ kernel, command: ["true"], cold: true }); // warm: initramfs, accel probe, page cache

const phases: Record<string, number[]> = {};
let accel = "";
for (let i = 0; i < N; i++) {
  const r = await runInVm({ kernel, command: ["true"], cold: true });
  accel = r.accel;
  if (r.exitCode !== 0) throw new Error(`guest 'true' exited ${r.exitCode}`);
  const t: VmTimings = r.timings;
  const row: Record<string, number | undefined> = {
    "QEMU start → command running":
      t.qemuToInit !== undefined && t.initToCommand !== undefined
        ? t.qemuToInit + t.initToCommand
        : undefined,
    "  QEMU start (→ kernel entry)": t.qemuStartup,
    "  kernel boot (→ /init)": t.kernelBoot,
    "  initramfs (9p modules, 9p mounts)": t.initramfs,
    "  setup (switch_root, tracefs/bpffs, cwd)": t.setup,
    "command (true)": t.command,
    "poweroff (exit → QEMU gone)": t.poweroff,
    "QEMU total": t.total,
    "library prepare (cached kernel, initrd)": t.prepare,
  };
  for (const [k, v] of Object.entries(row)) {
    if (v === undefined) continue;
    phases[k] = [...(phases[k] ?? []), v];
  }
}

const cli = join(REPO, "bin", "kfunc.js");
const build = spawnSync("npm", ["run", "build"], { cwd: REPO, encoding: "utf8" });
if (!existsSync(join(REPO, "dist", "qemu", "index.js")))
  throw new Error(`npm run build produced no dist/qemu: ${build.stderr}`);
const e2e: number[] = [];
for (let i = 0; i < N; i++) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, "vm", "run", "--cold", "--", "true"], {
    cwd: REPO,
    encoding: "utf8",
  });
  e2e.push(performance.now() - t0);
  if (r.status !== 0) throw new Error(`kfunc vm run -- true: exit ${r.status}\n${r.stderr}`);
}

const load = loadavg()
  .map((x) => x.toFixed(1))
  .join(" ");
console.log(
  `kfunc vm run benchmark: kernel ${kernel.release}, ${accel.toUpperCase()}, 2 vCPU, 2G, N=${N}, load avg ${load}`,
);
console.log("| phase | median | min | max |");
console.log("|---|---|---|---|");
for (const [k, xs] of Object.entries(phases))
  console.log(`| ${k} | ${fmt(median(xs))} | ${fmt(Math.min(...xs))} | ${fmt(Math.max(...xs))} |`);
console.log(
  `| **\`kfunc vm run -- true\` end to end (node bin/kfunc.js)** | **${fmt(median(e2e))}** | ${fmt(Math.min(...e2e))} | ${fmt(Math.max(...e2e))} |`,
);
