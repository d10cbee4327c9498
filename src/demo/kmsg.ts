/** Reads new kernel log records from /dev/kmsg (each open starts at the oldest record; we skip to a sequence). */
import { closeSync, constants, openSync, readSync } from "node:fs";

export interface KmsgRecord {
  seq: number;
  message: string;
}

/** Every record currently in the kernel log with sequence number > `afterSeq`. */
export function readKmsg(afterSeq = -1): KmsgRecord[] {
  const fd = openSync("/dev/kmsg", constants.O_RDONLY | constants.O_NONBLOCK);
  const out: KmsgRecord[] = [];
  const buf = Buffer.allocUnsafe(8192);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") break;
        if (code === "EPIPE") continue; // a record was overwritten while we read: skip it
        throw e;
      }
      if (n <= 0) break;
      const rec = buf.toString("utf8", 0, n);
      const semi = rec.indexOf(";");
      const seq = Number(rec.slice(0, semi).split(",")[1]);
      if (seq > afterSeq) out.push({ seq, message: rec.slice(semi + 1).split("\n")[0] ?? "" });
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

export function lastKmsgSeq(): number {
  const all = readKmsg();
  return all.length ? all[all.length - 1]!.seq : -1;
}
