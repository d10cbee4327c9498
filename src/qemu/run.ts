import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { UsageError } from "../errors.ts";
import { defaultCacheDir, ensureWritableDir, publish, tempSibling } from "../host/cache.ts";
import { missingTool } from "../host/exec.ts";
import { prepareKernel } from "../kernels/kernel.ts";
import type { PreparedKernel } from "../kernels/types.ts";
import { log } from "../log.ts";
import type { Progress } from "../progress.ts";
import { chooseAccel } from "./accel.ts";
import { runScript } from "./guest-init.ts";
import { ensureInitramfs, runArchive } from "./initramfs.ts";
import { modinfo, readModule } from "./modules.ts";
import { type Accel, QEMU, type QemuOptions, qemuOnPath, startQemu } from "./qemu.ts";
import { goLine, pruneStates, Qmp, SHARE_SLOTS, saveState, statePath, whenRestored } from "./snapshot.ts";
import {
  DEFAULT_VM_MEM_GIB,
  VmError,
  type VmRunOptions,
  type VmRunResult,
  type VmStart,
  type VmTimings,
} from "./vm-types.ts";

const enc = new TextEncoder();

/**
 * Boot-time savers for a throwaway test VM (measured under TCG): skip the crypto self-tests and the IO-APIC
 * timer check. (`tsc=reliable` was dropped: while it was on, one boot in ~100 oopsed on an int3 in
 * sched_clock_cpu; the cause is not proven, but 40 boots without it had no failure.)
 */
const FAST_BOOT = "cryptomgr.notests no_timer_check";

/** Boots that die before /init (a TCG hiccup, not the user's command) are retried this many times. */
const EARLY_BOOT_RETRIES = 1;

/** A restore that has not handed the guest its run by then is given up (and the run boots cold). */
const RESTORE_TIMEOUT_MS = 60_000;

/** How a run starts: a cold boot, a boot that saves its state on the way, or a restore of that state. */
type StartMode =
  | { kind: "cold" }
  | { kind: "save"; state: string; runDir: string }
  | { kind: "restore"; state: string; runDir: string };

function parseMem(mem: string): string {
  if (!/^\d+[MG]?$/i.test(mem))
    throw new UsageError(`memory size '${mem}': expected a number with M or G (e.g. 2G, 512M)`);
  return mem.toUpperCase();
}

/** Dirs shared read-write: --share dirs, else the caller's cwd (unless it is /). */
function sharesOf(options: VmRunOptions, cwd: string): { tag: string; path: string }[] {
  const dirs = options.shares && options.shares.length > 0 ? options.shares : cwd === "/" ? [] : [cwd];
  return dirs.map((d, i) => {
    const p = resolve(d);
    if (!existsSync(p) || !statSync(p).isDirectory())
      throw new UsageError(`share '${d}': not a directory`, { hint: "--share takes an existing directory" });
    const real = realpathSync(p);
    if (real === "/")
      throw new UsageError("share '/': the host root is always shared read-only; share a subdirectory");
    if (/[,\s]/.test(real))
      throw new UsageError(`share '${real}': paths with commas or spaces cannot be passed to QEMU's -fsdev`);
    return { tag: `share${i}`, path: real };
  });
}

function guestEnv(options: VmRunOptions): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env["PATH"] || "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: "/root",
    TERM: process.env["TERM"] || "dumb",
  };
  for (const k of ["LANG", "LC_ALL"]) if (process.env[k]) env[k] = process.env[k]!;
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new UsageError(`--env '${k}': not a valid variable name`);
    env[k] = v;
  }
  return env;
}

/**
 * A module built for another kernel fails in the guest with "invalid module format" after a whole boot:
 * its vermagic (readable here) must name the target's release.
 */
function checkVermagic(ko: Uint8Array, path: string, kernel: PreparedKernel): void {
  let vermagic: string | undefined;
  try {
    vermagic = modinfo(ko, path).get("vermagic")?.[0];
  } catch (e) {
    throw new UsageError(`--insmod '${path}': not a kernel module`, {
      cause: e,
      hint: "pass a .ko built by kbuild (kfunc module build)",
    });
  }
  const built = vermagic?.split(" ")[0];
  if (!built || built === kernel.release) return;
  throw new UsageError(
    `--insmod '${path}': built for Linux ${built} (its vermagic), but the VM runs ${kernel.release}: the kernel would refuse it ("invalid module format")`,
    {
      hint: `rebuild it for this kernel (kfunc module build <dir> --kernel ${kernel.spec}), or boot the kernel it was built for (--kernel debian:${built})`,
    },
  );
}

/** Per-run dirs (`kfunc-vm-<pid>-*`, ~1.5 MB of initrd) left by a process that was SIGKILLed. */
function sweepStaleRunDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    const m = /^kfunc-vm-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ESRCH")
        rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
  }
}

interface Event {
  name: string;
  hostMs: number;
  uptime: number;
  detail: string;
}

/**
 * Boots a kernel under QEMU with the host root (read-only 9p) and runs one command in it. The command's
 * stdout/stderr come back separately (and live through onStdout/onStderr), its exit code is returned;
 * the kernel console is kept. A panic, an early QEMU exit, a timeout or an abort throws {@link VmError}
 * (with the console). QEMU is always killed.
 */
export async function runInVm(options: VmRunOptions): Promise<VmRunResult> {
  if (options.command.length === 0)
    throw new UsageError("no command to run in the VM", { hint: "kfunc vm run -- <cmd> [args…]" });
  parseMem(options.mem ?? `${DEFAULT_VM_MEM_GIB}G`); // a bad size is refused before anything is prepared or printed
  if (!qemuOnPath()) throw missingTool(QEMU);
  const cacheDir = ensureWritableDir(options.cacheDir ?? defaultCacheDir());
  const progress: Progress | undefined = options.progress;
  const t0 = performance.now();
  const kernel: PreparedKernel =
    typeof options.kernel === "object"
      ? options.kernel
      : await prepareKernel(options.kernel, { cacheDir, ...(progress ? { progress } : {}) });
  const baseInitrd = await ensureInitramfs(kernel, progress);
  const cwd = options.cwd ?? process.cwd();
  const shares = sharesOf(options, cwd);
  const mods: { file: string; hostPath: string; data: Uint8Array }[] = [];
  for (const [i, m] of (options.insmod ?? []).entries()) {
    const p = resolve(m);
    if (!existsSync(p)) throw new UsageError(`--insmod '${m}': no such file`);
    const data = await readModule(p, "--insmod module");
    checkVermagic(data, p, kernel);
    // the guest file name is kfunc-kit's own: the user's name only appears quoted, in messages
    mods.push({ file: `${i}.ko`, hostPath: p, data });
  }
  // the booted kernel's own config, for .kconfig externs (the guest sees the host's /boot, not the kernel's)
  const kconfig = join(kernel.root, "boot", `config-${kernel.release}`);
  const kconfigFiles = existsSync(kconfig) ? [{ name: "kfunc/kconfig", data: readFileSync(kconfig) }] : [];
  const env = {
    ...(kconfigFiles.length ? { KFUNC_KIT_KCONFIG: "/run/kfunc/kconfig" } : {}),
    ...guestEnv(options),
  };
  const script = runScript({ command: options.command, cwd, env, insmod: mods });
  const files = [
    { name: "kfunc/run.sh", data: enc.encode(script) },
    ...kconfigFiles,
    { name: "kfunc/shares", data: enc.encode(shares.map((s) => `${s.tag} ${s.path}\n`).join("")) },
    ...mods.map((m) => ({ name: `kfunc/mods/${m.file}`, data: m.data })),
  ];
  sweepStaleRunDirs();
  const runDir = mkdtempSync(join(tmpdir(), `kfunc-vm-${process.pid}-`));
  // a second Ctrl-C ends the CLI with process.exit(), before this finally: the run dir goes on exit too
  const removeRunDir = () => rmSync(runDir, { recursive: true, force: true });
  process.once("exit", removeRunDir);
  try {
    const accel: Accel = options.accel ?? (await chooseAccel(cacheDir, kernel.image, baseInitrd));
    const append =
      `console=ttyS0 panic=-1 oops=panic quiet loglevel=4 8250.nr_uarts=4 ${FAST_BOOT} ${options.cmdline ?? ""}`.trim();
    const base = {
      image: kernel.image,
      mem: parseMem(options.mem ?? `${DEFAULT_VM_MEM_GIB}G`),
      cpus: options.cpus ?? 2,
      accel,
    };
    const cold = async (): Promise<VmRunResult> => {
      const initrd = join(runDir, "initrd.cpio.gz");
      writeFileSync(initrd, Buffer.concat([readFileSync(baseInitrd), runArchive(files)]));
      return withRetry(() =>
        boot(
          options,
          kernel,
          { ...base, initrd, append, shares },
          { kind: "cold" },
          performance.now() - t0,
          mods,
        ),
      );
    };
    const snapshotOff =
      options.cold || process.env["KFUNC_KIT_VM_COLD"] === "1" || shares.length > SHARE_SLOTS;
    if (snapshotOff) return await cold();
    // the run's files are read by the restored guest from the host root, before its /tmp becomes a tmpfs
    for (const f of files) {
      mkdirSync(dirname(join(runDir, f.name)), { recursive: true });
      writeFileSync(join(runDir, f.name), f.data);
    }
    const qo: QemuOptions = {
      ...base,
      initrd: baseInitrd,
      append: `${append} kfunc.snap=1`,
      shares: slots(shares, kernel),
      snapshot: {},
    };
    const state = statePath(kernel, qo);
    if (existsSync(state)) {
      try {
        return await boot(
          options,
          kernel,
          { ...qo, snapshot: { incoming: state } },
          { kind: "restore", state, runDir },
          performance.now() - t0,
          mods,
        );
      } catch (e) {
        if (!(e instanceof VmError && e.reason === "restore")) throw e;
        log.warn(`restoring the saved VM state failed (${e.message.split("\n")[0]}); booting cold`);
        rmSync(state, { force: true });
        return await cold();
      }
    }
    if (existsSync(`${state}.failed`)) return await cold();
    return await withRetry(() =>
      boot(options, kernel, qo, { kind: "save", state, runDir }, performance.now() - t0, mods),
    );
  } finally {
    process.off("exit", removeRunDir);
    removeRunDir();
  }
}

async function withRetry(run: () => Promise<VmRunResult>): Promise<VmRunResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      const early = e instanceof VmError && (e.reason === "panic" || e.reason === "qemu") && !e.reachedInit;
      if (!early || attempt >= EARLY_BOOT_RETRIES) throw e;
      log.warn(`kernel died before the initramfs ran (${e.message.split("\n")[0]}); booting again`);
    }
  }
}

/** The shares in their fixed device slots; the unused ones export an empty directory. */
function slots(
  shares: { tag: string; path: string }[],
  kernel: PreparedKernel,
): { tag: string; path: string }[] {
  const empty = join(dirname(kernel.btf), "vmstate-empty");
  mkdirSync(empty, { recursive: true });
  return Array.from({ length: SHARE_SLOTS }, (_, i) => ({
    tag: `share${i}`,
    path: shares[i]?.path ?? empty,
  }));
}

async function boot(
  options: VmRunOptions,
  kernel: PreparedKernel,
  qo: QemuOptions,
  mode: StartMode,
  prepareMs: number,
  mods: { hostPath: string }[],
): Promise<VmRunResult> {
  const progress = options.progress;
  const timeoutMs = options.timeoutMs ?? 300_000;
  const accel = qo.accel;
  progress?.step(
    `${mode.kind === "restore" ? "restoring" : "booting"} ${kernel.release} (${accel.toUpperCase()}, ${qo.cpus} CPUs, ${qo.mem})`,
  );
  const start = performance.now();
  const q = startQemu(qo);
  let startedAs: VmStart = mode.kind === "cold" ? "cold" : mode.kind === "save" ? "saved" : "restored";
  const sendGo = () => {
    if (mode.kind !== "cold") q.channels.control.write(goLine(mode.runDir, randomBytes(32)));
  };
  const qmp = q.channels.qmp ? new Qmp(q.channels.qmp) : undefined;
  if (mode.kind === "restore") whenRestored(qmp!).then(sendGo, () => {}); // a QEMU that fails to restore exits: seen below
  const save = async (state: string) => {
    const tmp = tempSibling(state);
    try {
      await saveState(qmp!, tmp);
      publish(tmp, state);
      pruneStates(state);
    } catch (e) {
      rmSync(tmp, { force: true });
      startedAs = "cold";
      log.warn(`saving the VM state failed, later runs boot cold: ${(e as Error).message}`);
      writeFileSync(`${state}.failed`, `${(e as Error).message}\n`);
      await qmp!.command("cont").catch(() => {});
    }
    sendGo();
  };
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let consoleText = "";
  // a character split between two chunks stays one character
  const consoleUtf8 = new StringDecoder("utf8");
  let qemuErr = "";
  const events: Event[] = [];
  let ctlBuf = "";
  q.channels.stdout.on("data", (b: Buffer) => {
    out.push(b);
    options.onStdout?.(b);
  });
  q.channels.stderr.on("data", (b: Buffer) => {
    err.push(b);
    options.onStderr?.(b);
  });
  q.channels.console.on("data", (b: Buffer) => {
    consoleText += consoleUtf8.write(b).replace(/\r/g, "");
    options.onConsole?.(b);
  });
  q.channels.qemuStderr.on("data", (b: Buffer) => {
    qemuErr += b.toString();
  });
  q.channels.control.on("data", (b: Buffer) => {
    ctlBuf += b.toString().replace(/\r/g, "");
    let nl = ctlBuf.indexOf("\n");
    while (nl >= 0) {
      const m = /^KFUNC (\S+) (\S+) ?(.*)$/.exec(ctlBuf.slice(0, nl));
      ctlBuf = ctlBuf.slice(nl + 1);
      nl = ctlBuf.indexOf("\n");
      if (!m) continue;
      const ev = {
        name: m[1]!,
        hostMs: performance.now() - start,
        uptime: Number(m[2]) * 1000,
        detail: m[3]!,
      };
      events.push(ev);
      if (ev.name === "exit") q.channels.control.write("ack\n");
      if (ev.name === "snap-ready" && mode.kind === "save") void save(mode.state);
      if (ev.name === "restored") clearTimeout(restoreTimer);
      if (ev.name === "command")
        progress?.succeed(
          `${mode.kind === "restore" ? "restored" : "booted"} ${kernel.release} in ${(ev.hostMs / 1000).toFixed(1)} s`,
        );
    }
  });

  let reason: "timeout" | "aborted" | "restore" | undefined;
  const timer = setTimeout(() => {
    reason = "timeout";
    q.kill();
  }, timeoutMs);
  const restoreTimer =
    mode.kind === "restore"
      ? setTimeout(() => {
          reason = "restore";
          q.kill();
        }, RESTORE_TIMEOUT_MS)
      : undefined;
  const onAbort = () => {
    reason = "aborted";
    q.kill();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  // after the guest reported its exit code, give the poweroff a bounded time
  let exitGrace: NodeJS.Timeout | undefined;
  const exitWatch = setInterval(() => {
    if (!exitGrace && events.some((e) => e.name === "exit")) exitGrace = setTimeout(() => q.kill(), 15_000);
  }, 200);
  let closed: { code: number | null; signal: NodeJS.Signals | null };
  try {
    closed = await q.closed;
  } catch (e) {
    q.kill();
    progress?.fail();
    throw e;
  } finally {
    clearTimeout(timer);
    clearTimeout(restoreTimer);
    clearInterval(exitWatch);
    if (exitGrace) clearTimeout(exitGrace);
    options.signal?.removeEventListener("abort", onAbort);
    q.kill();
  }
  const end = performance.now() - start;
  const stdoutBytes = Buffer.concat(out);
  const stderrBytes = Buffer.concat(err);
  const stdout = stdoutBytes.toString();
  const stderr = stderrBytes.toString();
  const ev = (n: string) => events.find((e) => e.name === n);
  const exit = ev("exit");
  const timings = computeTimings(events, end, prepareMs);
  const fail = (why: VmError["reason"], message: string, hint: string) => {
    if (!ev("command")) progress?.fail(); // else the boot step already succeeded
    return new VmError(why, message, {
      console: consoleText,
      stdout,
      stderr,
      timings,
      hint,
      reachedInit: !!ev("init"),
    });
  };
  if (reason === "timeout")
    throw fail(
      "timeout",
      `VM run timed out after ${timeoutMs / 1000} s (${describeStage(events)})`,
      "raise --timeout, or look at the console tail above for a hang",
    );
  if (reason === "aborted") throw fail("aborted", "VM run interrupted; QEMU was killed", "");
  if (mode.kind === "restore" && !ev("restored")) {
    const qe = qemuErr.trim().split("\n").slice(-3).join("; ");
    throw fail(
      "restore",
      reason === "restore"
        ? `the restored guest did not take its command within ${RESTORE_TIMEOUT_MS / 1000} s`
        : `QEMU exited (${closed.signal ?? `code ${closed.code}`}) while restoring ${mode.state}${qe ? `: ${qe}` : ""}`,
      "the saved state is removed; the next run saves it again",
    );
  }
  if (!exit) {
    const fatal = ev("fatal");
    const panic = /Kernel panic[^\n]*/.exec(consoleText)?.[0];
    const qe = qemuErr.trim().split("\n").slice(-5).join("\n");
    if (fatal) throw fail("guest", `guest setup failed: ${fatal.detail}`, "see the console output");
    if (panic) throw fail("panic", `guest kernel panic: ${panic}`, "see the console tail for the cause");
    throw fail(
      "qemu",
      `QEMU exited (${closed.signal ?? `code ${closed.code}`}) before the command finished (${describeStage(events)})${qe ? `:\n${qe}` : ""}`,
      "see the console tail; is the kernel image bootable by qemu-system-x86_64?",
    );
  }
  const exitCode = Number(exit.detail);
  const failedInsmod = ev("insmod-failed");
  return {
    exitCode: Number.isInteger(exitCode) ? exitCode : 1,
    stdout,
    stderr,
    stdoutBytes,
    stderrBytes,
    console: consoleText,
    timings,
    kernel,
    accel,
    start: startedAs,
    ...(failedInsmod
      ? { insmodFailed: mods[Number(failedInsmod.detail)]?.hostPath ?? failedInsmod.detail }
      : {}),
  };
}

function describeStage(events: Event[]): string {
  const last = events.at(-1)?.name;
  switch (last) {
    case undefined:
      return "the kernel never reached the initramfs";
    case "init":
      return "stuck in the initramfs (loading 9p modules, mounting the host root)";
    case "root":
    case "started":
    case "insmod-ok":
      return "stuck before the command started";
    case "command":
      return "the command was still running";
    default:
      return `last guest event: ${last}`;
  }
}

function computeTimings(events: Event[], totalMs: number, prepareMs: number): VmTimings {
  const ev = (n: string) => events.find((e) => e.name === n);
  const init = ev("init");
  const restored = ev("restored");
  const root = ev("root");
  const command = ev("command");
  const done = ev("command-done") ?? ev("exit");
  const exit = ev("exit");
  const r = (x: number | undefined) => (x === undefined ? undefined : Math.round(x));
  const kernelStart = init ? init.hostMs - init.uptime : undefined;
  // after a restore, the /init that resumed stands for the booted one
  const first = init ?? restored;
  return {
    prepare: Math.round(prepareMs),
    qemuToInit: r(first?.hostMs),
    initToCommand: r(first && command ? command.uptime - first.uptime : undefined),
    command: r(command && done ? done.uptime - command.uptime : undefined),
    poweroff: r(exit ? totalMs - exit.hostMs : undefined),
    total: Math.round(totalMs),
    qemuStartup: r(kernelStart !== undefined && kernelStart > 0 ? kernelStart : undefined),
    kernelBoot: r(init?.uptime),
    initramfs: r((restored ?? init) && root ? root.uptime - (restored ?? init)!.uptime : undefined),
    restore: r(restored?.hostMs),
    setup: r(root && command ? command.uptime - root.uptime : undefined),
  };
}
