import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { release as hostRelease } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../host/cache.ts";
import { log } from "../log.ts";
import { type Accel, QEMU, startQemu } from "./qemu.ts";

// a working KVM reaches /init in 1-2 s; nested setups that fail take ~40 s to report it
const PROBE_TIMEOUT_MS = 12_000;

function qemuKey(): string {
  const p = (process.env["PATH"] ?? "")
    .split(":")
    .map((d) => join(d, QEMU))
    .find((f) => existsSync(f));
  const st = p ? statSync(p) : undefined;
  return `${hostRelease()} ${p ?? QEMU} ${st?.size ?? 0} ${st?.mtimeMs ?? 0}`;
}

function kvmUsable(): boolean {
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * KVM when it actually works, else TCG. /dev/kvm existing is not enough (nested virtualization may fail
 * with "KVM internal error … emulation failure", after which QEMU pauses): the first time, a probe boot
 * of the real kernel decides, bounded by a timeout; the answer is remembered in `<cache>/accel.json`.
 * `KFUNC_KIT_ACCEL=kvm|tcg` overrides.
 */
export async function chooseAccel(cacheDir: string, image: string, initrd: string): Promise<Accel> {
  const forced = process.env["KFUNC_KIT_ACCEL"];
  if (forced === "kvm" || forced === "tcg") return forced;
  if (!kvmUsable()) return "tcg";
  const file = join(cacheDir, "accel.json");
  const key = qemuKey();
  if (existsSync(file)) {
    try {
      const saved = JSON.parse(readFileSync(file, "utf8")) as { key: string; accel: Accel };
      if (saved.key === key) return saved.accel;
    } catch {
      // re-probe
    }
  }
  const ok = await probeKvm(image, initrd);
  const accel: Accel = ok.works ? "kvm" : "tcg";
  log.info(`KVM probe: ${ok.works ? "works" : `does not work (${ok.why}); using TCG`}`);
  writeFileAtomic(
    file,
    `${JSON.stringify({ key, accel, why: ok.why, probedAt: new Date().toISOString() }, null, 2)}\n`,
  );
  return accel;
}

async function probeKvm(image: string, initrd: string): Promise<{ works: boolean; why: string }> {
  const q = startQemu({
    image,
    initrd,
    append: "console=ttyS0 panic=-1 quiet loglevel=1 kfunc.probe=1",
    mem: "512M",
    cpus: 1,
    accel: "kvm",
    shares: [],
  });
  let why = "timeout";
  let works = false;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      q.kill();
      resolve();
    }, PROBE_TIMEOUT_MS);
    q.channels.control.on("data", (b: Buffer) => {
      if (b.toString().includes("probe-ok")) {
        works = true;
        why = "probe boot reached /init";
        clearTimeout(timer);
        q.kill();
        resolve();
      }
    });
    q.channels.qemuStderr.on("data", (b: Buffer) => {
      const t = b.toString();
      if (/KVM internal error|emulation failure|failed to initialize kvm|Could not access KVM/i.test(t)) {
        why = t.trim().split("\n")[0] ?? "KVM error";
        clearTimeout(timer);
        q.kill();
        resolve();
      }
    });
    for (const c of [q.channels.console, q.channels.stdout, q.channels.stderr]) c.resume();
    q.closed.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => resolve(),
    );
  });
  await done;
  q.kill();
  await q.closed.catch(() => undefined);
  return { works, why };
}
