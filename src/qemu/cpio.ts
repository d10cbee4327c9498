/** One entry of a newc cpio archive. Directories need no data; files carry bytes; symlinks their target. */
export interface CpioEntry {
  name: string;
  /** File type and permission bits, e.g. 0o100755 (file) or 0o040755 (dir). */
  mode: number;
  data?: Uint8Array;
}

const enc = new TextEncoder();

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

/** Pads to a multiple of 4 bytes (newc aligns headers+names and file data to 4). */
function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/**
 * Writes a "newc" (SVR4, no CRC) cpio archive, the format the kernel unpacks as initramfs. Entries are
 * written in order (parents first); the archive ends with TRAILER!!!.
 */
export function writeCpio(entries: CpioEntry[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let ino = 1;
  const add = (name: string, mode: number, data: Uint8Array) => {
    const nameBytes = enc.encode(`${name}\0`);
    const fields = [
      ino++, // ino
      mode,
      0, // uid
      0, // gid
      1, // nlink
      0, // mtime
      data.length,
      0, // devmajor
      0, // devminor
      0, // rdevmajor
      0, // rdevminor
      nameBytes.length,
      0, // check
    ];
    const header = enc.encode(`070701${fields.map(hex8).join("")}`);
    chunks.push(header, nameBytes, new Uint8Array(pad4(header.length + nameBytes.length)));
    chunks.push(data, new Uint8Array(pad4(data.length)));
  };
  for (const e of entries) add(e.name.replace(/^\/+/, ""), e.mode, e.data ?? new Uint8Array(0));
  add("TRAILER!!!", 0, new Uint8Array(0));
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

export const DIR = 0o040755;
export const FILE = 0o100644;
export const EXEC = 0o100755;
/** A symlink: `data` is the target. */
export const SYMLINK = 0o120777;
