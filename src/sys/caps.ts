/**
 * The calling thread's capability sets with capget(2) / capset(2) (v3 ABI: 64 bits in two 32-bit words).
 * kfunc test's unprivileged runs clear bits of the effective set and put them back, as the kernel
 * selftests' cap_helpers.c does. Capabilities are per thread: the BPF syscalls that must see the change
 * run synchronously on this thread.
 */
import { SyscallError } from "../errors.ts";
import { errnoName } from "./errno.ts";
import { lastErrno, libcFunc } from "./libc.ts";

const SYS_CAPGET = 125;
const SYS_CAPSET = 126;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

const capSyscall = libcFunc<(nr: number, hdr: Buffer, data: Buffer) => number>(
  "long syscall(long nr, void *hdr, void *data)",
);

export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

function header(): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  h.writeInt32LE(0, 4);
  return h;
}

const word = (d: Buffer, set: number) =>
  BigInt(d.readUInt32LE(set * 4)) | (BigInt(d.readUInt32LE(12 + set * 4)) << 32n);

export function capGet(): CapSets {
  const data = Buffer.alloc(24);
  if (capSyscall(SYS_CAPGET, header(), data) < 0) {
    const e = lastErrno();
    throw new SyscallError("capget", e, errnoName(e));
  }
  return { effective: word(data, 0), permitted: word(data, 1), inheritable: word(data, 2) };
}

export function capSet(c: CapSets): void {
  const data = Buffer.alloc(24);
  [c.effective, c.permitted, c.inheritable].forEach((v, set) => {
    data.writeUInt32LE(Number(v & 0xffffffffn), set * 4);
    data.writeUInt32LE(Number((v >> 32n) & 0xffffffffn), 12 + set * 4);
  });
  if (capSyscall(SYS_CAPSET, header(), data) < 0) {
    const e = lastErrno();
    throw new SyscallError("capset", e, errnoName(e));
  }
}

/** Clears `mask` from the effective set; returns the effective set before (for {@link restoreEffective}). */
export function disableEffective(mask: bigint): bigint {
  const c = capGet();
  capSet({ ...c, effective: c.effective & ~mask });
  return c.effective;
}

export function restoreEffective(effective: bigint): void {
  const c = capGet();
  capSet({ ...c, effective });
}
