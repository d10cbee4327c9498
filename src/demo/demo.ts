/**
 * `kfunc demo`: the reference scenario end to end. Build examples/seed (module + eBPF program) for the
 * target kernel, boot it under QEMU (or use the host when it can load modules and has kprobes), and run
 * src/demo/guest.ts there: insmod, load + attach with kfunc-kit's loader, rm files, Result: 10, rmmod.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { release as osRelease } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compileBpf } from "../compile/clang.ts";
import { NotSupportedError } from "../errors.ts";
import type { Progress } from "../progress.ts";
import { parseResults, resultSplitter } from "../qemu/result-channel.ts";
import type { DemoSummary } from "./guest.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const SEED_DIR = join(ROOT, "examples", "seed");

export interface DemoOptions {
  /** `debian:…` (default: the QEMU default kernel), a kernel image path, or `host`. */
  kernel?: string;
  /** How many files to rm (default 3). */
  files?: number;
  progress: Progress;
  /** Where guest output goes as it streams (default: stdout). */
  onOutput?: (text: string) => void;
  cacheDir?: string;
}

export interface DemoResult {
  ok: boolean;
  kernel: string;
  summary: DemoSummary | undefined;
  /** Wall time per step, ms. */
  steps: Record<string, number>;
  exitCode: number;
}

/** The compiled guest script (dist/demo/guest.js), or the .ts source run through tsx when running from source. */
function guestCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".js")) {
    // from ROOT, not dirname(here): this code may run inside the CLI bundle (dist/cli/kfunc.bundle.js)
    const dir = join(ROOT, "dist", "demo");
    const bundle = join(dir, "guest.bundle.js");
    return [process.execPath, existsSync(bundle) ? bundle : join(dir, "guest.js")];
  }
  return [process.execPath, "--import", "tsx", join(dirname(here), "guest.ts")];
}

/** Why the host cannot run the scenario itself (undefined when it can). */
export async function hostLimitation(): Promise<string | undefined> {
  const { hostCanLoadModules } = await import("../module/target.ts");
  const mods = hostCanLoadModules();
  if (!mods.ok) return `the host kernel ${osRelease()} cannot load modules (${mods.why})`;
  if (
    !existsSync("/sys/bus/event_source/devices/kprobe/type") &&
    !existsSync("/sys/kernel/tracing/kprobe_events")
  )
    return `the host kernel ${osRelease()} has no kprobes (no kprobe PMU, no tracefs kprobe_events)`;
  const [maj = 0, min = 0] = osRelease()
    .split(".")
    .map((x) => Number.parseInt(x, 10));
  if (maj < 6 || (maj === 6 && min < 10))
    return `the host kernel ${osRelease()} is older than 6.10: register_btf_kfunc_id_set(BPF_PROG_TYPE_KPROBE, …) returns -EINVAL there`;
  return undefined;
}

function parseSummary(stdout: string): DemoSummary | undefined {
  return parseResults<DemoSummary & { type: string }>(stdout).find((r) => r.type === "demo-summary");
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const steps: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
    const t = performance.now();
    try {
      return await f();
    } finally {
      steps[name] = Math.round(performance.now() - t);
    }
  };
  const write = o.onOutput ?? ((t: string) => process.stdout.write(t));
  // The guest's machine-readable summary line is for us, not for the person watching.
  const splitter = resultSplitter(() => {}, write);
  const out = (chunk: string) => splitter.push(chunk);
  const progress = o.progress;
  const onHost = o.kernel === "host";
  if (onHost) {
    const why = await hostLimitation();
    if (why)
      throw new NotSupportedError(
        "the reference scenario on the host",
        undefined,
        `kfunc demo --kernel host: ${why}`,
        {
          hint: "run it in a VM instead: `kfunc demo` boots Debian's 6.12 kernel under QEMU with your files",
        },
      );
  }

  const { prepareKernel, runInVm, DEFAULT_KERNEL } = await import("../qemu/index.ts");
  const { buildModule } = await import("../module/build.ts");
  const spec = onHost ? "host" : (o.kernel ?? DEFAULT_KERNEL);
  const prepared = onHost
    ? undefined
    : await timed("kernel", () =>
        prepareKernel(spec, { progress, ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}) }),
      );

  if (
    prepared &&
    (prepared.version.major < 6 || (prepared.version.major === 6 && prepared.version.minor < 10))
  )
    throw new NotSupportedError(
      "module kfuncs from kprobe programs",
      "6.10",
      `kfunc demo --kernel ${spec}: Linux ${prepared.release} is older than 6.10, where register_btf_kfunc_id_set(BPF_PROG_TYPE_KPROBE, …) returns -EINVAL: the reference scenario's kprobe program cannot call a module kfunc there`,
      {
        hint: "run it on the default kernel (kfunc demo); on 6.1 register the kfunc for TRACING and call it from fentry or tp_btf — kfunc.json does that (docs/modules.md, examples/kfunc-zoo)",
      },
    );
  const built = await timed("module build", () =>
    buildModule(SEED_DIR, { kernel: spec, progress, cacheDir: o.cacheDir }),
  );
  progress.note(
    `  module ${built.name}.ko for ${built.kernel}: kfuncs ${built.kfuncs.map((k) => k.prototype).join("; ")}`,
  );

  const obj = join(built.buildDir, "kfunc.bpf.o");
  await timed("eBPF compile", () => {
    progress.step("compiling examples/seed/kfunc.bpf.c (clang -target bpf)");
    mkdirSync(dirname(obj), { recursive: true });
    compileBpf(join(SEED_DIR, "kfunc.bpf.c"), { output: obj });
    progress.succeed(`compiled ${obj}`);
  });

  const guestArgs = [
    ...guestCommand(),
    "--ko",
    built.ko,
    "--obj",
    obj,
    "--module",
    built.name,
    "--files",
    String(o.files ?? 3),
  ];
  let stdout = "";
  let exitCode: number;
  if (onHost) {
    const r = await timed("scenario", () =>
      spawnSync(guestArgs[0]!, guestArgs.slice(1), { encoding: "utf8" }),
    );
    stdout = r.stdout;
    out(r.stdout);
    if (r.stderr) process.stderr.write(r.stderr);
    exitCode = r.status ?? 1;
  } else {
    let booted = false;
    const r = await timed("vm", () =>
      runInVm({
        kernel: prepared!,
        command: guestArgs,
        // The project (dist/, node_modules/, the build dir) at the same path in the guest: the host root is
        // shared too, but /tmp and friends are the guest's own tmpfs, and a clone may live there.
        shares: [ROOT, ...(built.buildDir.startsWith(`${ROOT}/`) ? [] : [built.buildDir])],
        cwd: built.buildDir,
        progress,
        ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
        onStdout: (c) => {
          booted = true;
          stdout += c.toString();
          out(c.toString());
        },
        onStderr: (c) => process.stderr.write(c),
      }),
    );
    if (!booted) progress.note(`the guest printed nothing (exit ${r.exitCode})`);
    exitCode = r.exitCode;
    if (r.exitCode !== 0 && r.console)
      process.stderr.write(`--- guest console (tail) ---\n${r.console.split("\n").slice(-25).join("\n")}\n`);
    steps["vm: qemu→init"] = r.timings.qemuToInit ?? -1;
    steps["vm: init→command"] = r.timings.initToCommand ?? -1;
    steps["vm: command"] = r.timings.command ?? -1;
  }
  const summary = parseSummary(stdout);
  return { ok: exitCode === 0 && summary?.ok === true, kernel: built.kernel, summary, steps, exitCode };
}
