import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import type { Duplex, Readable } from "node:stream";
import { missingTool } from "../host/exec.ts";

export const QEMU = "qemu-system-x86_64";

export type Accel = "kvm" | "tcg";

export interface QemuOptions {
  image: string;
  initrd: string;
  append: string;
  mem: string;
  cpus: number;
  accel: Accel;
  /** Read-write 9p shares: mount tag → host dir. The host root is always shared read-only as `hostroot`. */
  shares: { tag: string; path: string }[];
  /**
   * Snapshot mode (src/qemu/snapshot.ts): a QMP monitor on fd 7, a VM generation ID device (a restored
   * guest reseeds its RNG when the ID changes), and with `incoming`, the saved state file to resume from.
   */
  snapshot?: { incoming?: string };
}

/** The serial ports: ttyS0 console, ttyS1 command stdout, ttyS2 command stderr, ttyS3 control events. */
export interface QemuChannels {
  console: Readable;
  stdout: Readable;
  stderr: Readable;
  /** Duplex: the host acks the guest's exit event on it. */
  control: Duplex;
  /** QEMU's own stderr (its errors, e.g. "KVM internal error"). */
  qemuStderr: Readable;
  /** The QMP monitor, in snapshot mode. */
  qmp?: Duplex;
}

export interface QemuProcess {
  child: ChildProcess;
  channels: QemuChannels;
  /** Resolves when QEMU has exited and every channel is drained. */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILLs QEMU (idempotent). */
  kill(): void;
}

export function qemuArgs(o: QemuOptions): string[] {
  const accel =
    o.accel === "kvm" ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg,thread=multi", "-cpu", "max"];
  const args = [
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-no-reboot",
    "-name",
    "kfunc-vm",
    "-m",
    o.mem,
    "-smp",
    String(o.cpus),
    ...accel,
    "-kernel",
    o.image,
    "-initrd",
    o.initrd,
    "-append",
    o.append,
  ];
  // node's extra stdio pipes (fd 3..6) are socketpairs: QEMU uses them as connected socket chardevs
  ["con", "out", "err", "ctl"].forEach((id, i) => {
    args.push("-chardev", `socket,id=${id},fd=${3 + i}`, "-serial", `chardev:${id}`);
  });
  args.push(
    "-fsdev",
    "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
    "-device",
    "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
  );
  for (const s of o.shares) {
    if (s.path.includes(",")) throw new Error(`share path '${s.path}' contains a comma`);
    args.push(
      "-fsdev",
      `local,id=${s.tag},path=${s.path},security_model=none,multidevs=remap`,
      "-device",
      `virtio-9p-pci,fsdev=${s.tag},mount_tag=${s.tag}`,
    );
  }
  if (o.snapshot) {
    args.push("-chardev", "socket,id=qmp,fd=7", "-mon", "chardev=qmp,mode=control");
    args.push("-device", "vmgenid,guid=auto");
    if (o.snapshot.incoming) args.push("-incoming", `exec:cat ${shellQuote(o.snapshot.incoming)}`);
  }
  // escape hatch for experiments and odd hosts: extra QEMU arguments, whitespace-separated
  const extra = process.env["KFUNC_KIT_QEMU_ARGS"];
  if (extra) args.push(...extra.trim().split(/\s+/));
  return args;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killChild(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL"); // its own process group (detached)
  } catch {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * Starts QEMU in its own process group, with `setpriv --pdeathsig KILL` so that it dies with us even on
 * SIGKILL, and a process 'exit' hook for every other way out. The caller owns timeouts.
 */
export function startQemu(o: QemuOptions): QemuProcess {
  const args = qemuArgs(o);
  const [cmd, argv] = SETPRIV ? [SETPRIV, ["--pdeathsig", "KILL", "--", QEMU, ...args]] : [QEMU, args];
  const child = spawn(cmd, argv, {
    stdio: [
      "ignore",
      "ignore",
      "pipe",
      "pipe",
      "pipe",
      "pipe",
      "pipe",
      ...(o.snapshot ? ["pipe" as const] : []),
    ],
    detached: true,
  });
  live.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const c of live) killChild(c);
    });
  }
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on("error", (e: NodeJS.ErrnoException) => {
      live.delete(child);
      reject(e.code === "ENOENT" ? missingTool(QEMU, e) : e);
    });
    child.on("close", (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const s = child.stdio as unknown as Duplex[];
  // a killed QEMU resets the sockets it had unread input on: that is its exit, seen by `closed`
  for (const c of s) c?.on("error", () => {});
  return {
    child,
    channels: {
      qemuStderr: s[2]!,
      console: s[3]!,
      stdout: s[4]!,
      stderr: s[5]!,
      control: s[6]!,
      ...(o.snapshot ? { qmp: s[7]! } : {}),
    },
    closed,
    kill: () => killChild(child),
  };
}

/** Whether `qemu-system-x86_64` is on PATH. */
export function qemuOnPath(): boolean {
  return (process.env["PATH"] ?? "").split(":").some((d) => d && existsSync(`${d}/${QEMU}`));
}
