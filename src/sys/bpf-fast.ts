/**
 * Hot-path bpf(2): the attr is passed as a plain address (a number) instead of a typed array, which saves
 * koffi's per-call buffer handling. Only for attrs in stable off-heap memory that outlive the call
 * (see {@link offHeap}); x86-64 user addresses fit in a double exactly.
 */
import { koffi, lastErrno, libcBinding, SYS_BPF } from "./libc.ts";

const syscallAddr = libcBinding<(nr: number, cmd: number, attr: number, size: number) => number>(
  "long syscall(long nr, long cmd, intptr_t attr, unsigned long size)",
);

/** A zeroed buffer whose backing store is off the V8 heap (its address never moves). */
export function offHeap(size: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(Math.max(size, 1)), 0, size);
}

/** The address of an off-heap buffer as a number. */
export function addressNumber(buf: Uint8Array): number {
  return Number(koffi().address(buf));
}

/** bpf(cmd, attr at `addr`, size) → result or -errno. */
export function bpfAt(cmd: number, addr: number, size: number): number {
  const r = syscallAddr()(SYS_BPF, cmd, addr, size);
  return r < 0 ? -lastErrno() : r;
}

type AsyncSyscall = {
  async: (nr: number, cmd: number, attr: number, size: number, cb: (err: unknown, r: number) => void) => void;
};

/**
 * bpf(cmd, attr at `addr`, size) on koffi's worker thread, for commands that block (a long test run);
 * resolves with the result, or -1 on failure (errno does not cross threads reliably).
 */
export function bpfAtAsync(cmd: number, addr: number, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    (syscallAddr() as unknown as AsyncSyscall).async(SYS_BPF, cmd, addr, size, (err, r) =>
      err ? reject(err) : resolve(r),
    );
  });
}
