/**
 * The one place koffi is loaded. Everything that reaches the OS ABI goes through the functions bound here;
 * other files in src/sys add their own bindings with `libc.func(...)`.
 */
import koffi from "koffi";
import { SyscallError } from "../errors.ts";
import { errnoName } from "./errno.ts";

export const libc = koffi.load("libc.so.6");

/** `long syscall(long nr, long a, void *b, unsigned long c)`: the fixed 3-argument shape works on x86-64. */
export const syscall3 = libc.func("long syscall(long nr, long a, void *b, unsigned long c)") as (
  nr: number,
  a: number,
  b: Uint8Array | Buffer | null,
  c: number,
) => number;

export const closeFd = libc.func("int close(int fd)") as (fd: number) => number;

export function lastErrno(): number {
  return koffi.errno();
}

/** Throws a SyscallError for the current errno. */
export function throwErrno(call: string, errno = lastErrno()): never {
  throw new SyscallError(call, errno, errnoName(errno));
}

export const SYS_BPF = 321;
export const SYS_PERF_EVENT_OPEN = 298;
