import { KfuncKitError } from "../errors.ts";
import type { PreparedKernel } from "../kernels/types.ts";
import type { Progress } from "../progress.ts";
import type { Accel } from "./qemu.ts";

/** A VM's memory when `mem` is not given, GiB. */
export const DEFAULT_VM_MEM_GIB = 2;

export interface VmRunOptions {
  /** A spec (`debian:bookworm-backports`, `debian:<release>`, a path) or a prepared kernel. */
  kernel: string | PreparedKernel;
  /** The command and its arguments, run in the guest with `cwd`. */
  command: string[];
  /** Working directory in the guest (default: ours). It must be visible there: shared, or on the host root. */
  cwd?: string;
  /** Extra environment (PATH, HOME=/root, TERM, LANG are passed already). */
  env?: Record<string, string>;
  /** Memory, QEMU syntax (default {@link DEFAULT_VM_MEM_GIB}G). */
  mem?: string;
  /** vCPUs (default 2). */
  cpus?: number;
  /** Whole-boot timeout in ms (default 300000). */
  timeoutMs?: number;
  /** Kernel modules (.ko, .ko.xz…) insmod'ed in the guest before the command, in order. */
  insmod?: string[];
  /** Directories shared read-write at the same path (default: cwd). */
  shares?: string[];
  /** Extra kernel command line. */
  cmdline?: string;
  /**
   * Boot cold even when a saved VM state of this kernel and configuration exists (also
   * `KFUNC_KIT_VM_COLD=1`). By default a run restores that state (src/qemu/snapshot.ts), and the first
   * run saves it.
   */
  cold?: boolean;
  /** Force an accelerator (default: KVM when it works, else TCG). */
  accel?: Accel;
  cacheDir?: string;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  onConsole?: (chunk: Buffer) => void;
  /** Aborting kills QEMU and rejects with a VmError (reason "aborted"). */
  signal?: AbortSignal;
  progress?: Progress;
}

/** Milliseconds per phase (undefined when the phase was not reached). */
export interface VmTimings {
  /** Kernel, initramfs, accel probe, per-run archive: before QEMU starts. */
  prepare: number;
  /** QEMU start → initramfs /init running (host clock); after a restore, → the saved /init resumed. */
  qemuToInit: number | undefined;
  /** /init → command start: modules, 9p mounts, switch_root, tracefs/bpffs, insmod (guest clock). */
  initToCommand: number | undefined;
  /** The command itself (guest clock). */
  command: number | undefined;
  /** Command's exit reported → QEMU exited (host clock). */
  poweroff: number | undefined;
  /** QEMU start → QEMU exited. */
  total: number;
  /** Breakdown: QEMU start → kernel start (firmware, image load). */
  qemuStartup: number | undefined;
  /** Breakdown: kernel start → /init. */
  kernelBoot: number | undefined;
  /** Breakdown: /init → host root and shares mounted (module loading and 9p). */
  initramfs: number | undefined;
  /** Breakdown: root mounted → command start (switch_root, tracefs/bpffs, insmod). */
  setup: number | undefined;
  /** QEMU start → the guest took its run after a restore (or, when saving, after boot and save). */
  restore?: number | undefined;
}

/** How the VM started: booted cold, booted and saved its state for later runs, or restored from it. */
export type VmStart = "cold" | "saved" | "restored";

export interface VmRunResult {
  exitCode: number;
  /** The command's stdout decoded as UTF-8 (invalid bytes become U+FFFD: see stdoutBytes). */
  stdout: string;
  stderr: string;
  /** The command's stdout, byte-exact. */
  stdoutBytes: Uint8Array;
  stderrBytes: Uint8Array;
  /** The kernel console (dmesg at loglevel 4 and anything printed to /dev/console). */
  console: string;
  timings: VmTimings;
  kernel: PreparedKernel;
  accel: Accel;
  start: VmStart;
  /** Host path of the --insmod module that failed to load (the command did not run; exitCode 1). */
  insmodFailed?: string;
}

/** The guest did not get to report the command's exit code: timeout, abort, panic, QEMU failure. */
export class VmError extends KfuncKitError {
  override readonly name = "VmError";
  readonly console: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly timings: VmTimings;
  /** Whether the guest got as far as the initramfs /init. */
  readonly reachedInit: boolean;
  constructor(
    readonly reason: "timeout" | "aborted" | "panic" | "qemu" | "guest" | "restore",
    message: string,
    data: {
      console: string;
      stdout: string;
      stderr: string;
      timings: VmTimings;
      hint: string;
      reachedInit?: boolean;
    },
  ) {
    super("VM", message, data.hint ? { hint: data.hint } : {});
    this.console = data.console;
    this.stdout = data.stdout;
    this.stderr = data.stderr;
    this.timings = data.timings;
    this.reachedInit = data.reachedInit ?? false;
  }
}
