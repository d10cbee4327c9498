/**
 * The saved VM state of a booted guest (issue #13, "VM start"): the first run of a kernel boots it with
 * `kfunc.snap=1`, the initramfs /init stops before its first 9p mount (src/qemu/guest-init.ts) and the
 * host saves the whole VM there over QMP (`migrate "exec:cat > file"`). Later runs start QEMU with
 * `-incoming` from that file and hand the waiting init its run: clock, entropy and the run directory.
 * A state is only valid for the exact QEMU command line and binary it was saved with, so its file name is
 * a hash of all of that.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, realpathSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Duplex } from "node:stream";
import type { PreparedKernel } from "../kernels/types.ts";
import { QEMU, type QemuOptions, qemuArgs } from "./qemu.ts";

/** Share devices in a saved VM: a run with more shares boots cold. Unused slots point to an empty dir. */
export const SHARE_SLOTS = 4;

function qemuBinary(): string | undefined {
  for (const d of (process.env["PATH"] ?? "").split(":")) {
    const p = d && join(d, QEMU);
    if (p && existsSync(p)) return realpathSync(p);
  }
  return undefined;
}

function fileId(p: string, mtime = true): string {
  const st = statSync(p);
  return `${p}:${st.size}${mtime ? `:${st.mtimeMs}` : ""}`;
}

/**
 * The state file for a snapshot-mode QEMU command line (shares are the slot tags; their host paths are
 * free to change between runs, because a 9p export's path is not part of the guest-visible device).
 */
export function statePath(kernel: PreparedKernel, o: QemuOptions): string {
  const bin = qemuBinary();
  const args = qemuArgs({ ...o, shares: o.shares.map((s) => ({ tag: s.tag, path: "/" })), snapshot: {} });
  const key = createHash("sha256")
    .update(
      JSON.stringify({
        args,
        qemu: bin ? fileId(bin) : QEMU,
        image: fileId(o.image),
        // the initramfs name carries its /init script's hash; it is rebuilt byte-identical when removed
        initrd: fileId(o.initrd, false),
      }),
    )
    .digest("hex")
    .slice(0, 16);
  return join(dirname(kernel.btf), `vmstate-${key}.bin`);
}

/** States kept per kernel (each ~100 MB): other memory sizes or vCPU counts, or a rebuilt QEMU's. */
const KEEP_STATES = 3;

/** Removes all but the newest {@link KEEP_STATES} state files next to `state`. */
export function pruneStates(state: string): void {
  const dir = dirname(state);
  const files = readdirSync(dir)
    .filter((f) => /^vmstate-[0-9a-f]+\.bin(\.failed)?$/.test(f))
    .map((f) => ({ f: join(dir, f), t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of files.slice(KEEP_STATES)) if (f !== state) rmSync(f, { force: true });
}

/** A minimal QMP client: one command at a time, events ignored. */
export class Qmp {
  private buf = "";
  private waiting: ((msg: Record<string, unknown>) => void)[] = [];
  private eventWaiters = new Map<string, () => void>();
  private ready: Promise<void>;

  constructor(private readonly sock: Duplex) {
    let greeted: () => void;
    this.ready = new Promise((r) => {
      greeted = r;
    });
    let greeting = true;
    sock.on("data", (b: Buffer) => {
      this.buf += b.toString();
      let nl = this.buf.indexOf("\n");
      while (nl >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        nl = this.buf.indexOf("\n");
        if (!line) continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (greeting && "QMP" in msg) {
          greeting = false;
          greeted!();
        } else if ("return" in msg || "error" in msg) this.waiting.shift()?.(msg);
        else if (typeof msg["event"] === "string") this.eventWaiters.get(msg["event"])?.();
      }
    });
    sock.on("error", () => {});
  }

  onEvent(name: string, f: () => void): void {
    this.eventWaiters.set(name, f);
  }

  async command(execute: string, args?: Record<string, unknown>): Promise<unknown> {
    await this.ready;
    const reply = new Promise<Record<string, unknown>>((r) => this.waiting.push(r));
    this.sock.write(`${JSON.stringify(args ? { execute, arguments: args } : { execute })}\n`);
    const msg = await reply;
    if ("error" in msg) {
      const e = msg["error"] as { desc?: string };
      throw new Error(`QMP ${execute}: ${e.desc ?? JSON.stringify(e)}`);
    }
    return msg["return"];
  }
}

/**
 * Resolves when an incoming VM runs. Input sent to the guest earlier is lost: the serial port takes the
 * first bytes while QEMU is still loading, and the loaded device state then overwrites them.
 */
export async function whenRestored(qmp: Qmp): Promise<void> {
  await qmp.command("qmp_capabilities");
  const resumed = new Promise<void>((r) => qmp.onEvent("RESUME", r));
  const st = (await qmp.command("query-status")) as { status?: string };
  if (st.status !== "running") await resumed;
}

/** Writes the VM's state to `file` (QEMU pauses it at the end) and resumes it. Throws when QEMU refuses or fails. */
export async function saveState(qmp: Qmp, file: string): Promise<void> {
  await qmp.command("qmp_capabilities");
  // no `stop` first: a state saved from a stopped VM is restored stopped (QEMU keeps the run state); the
  // guest idles in a read, so the live migration converges in one pass and the restore starts running
  await qmp.command("migrate", { uri: `exec:cat > '${file.replace(/'/g, `'\\''`)}'` });
  for (;;) {
    const st = (await qmp.command("query-migrate")) as { status?: string; "error-desc"?: string };
    if (st.status === "completed") break;
    if (st.status === "failed" || st.status === "cancelled")
      throw new Error(`saving the VM state failed: ${st["error-desc"] ?? st.status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await qmp.command("cont");
}

/** The line the waiting init reads after a restore: host clock, fresh entropy, the run's directory. */
export function goLine(runDir: string, entropy: Buffer): string {
  if (/[\n\r]/.test(runDir)) throw new Error(`run dir '${runDir}' contains a newline`);
  return `go ${Math.round(Date.now() / 1000)} ${entropy.toString("hex")} ${runDir}\n`;
}
