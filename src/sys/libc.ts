/**
 * The one place koffi is loaded, and only on first use: importing kfunc-kit (any entry point) loads no
 * native code and dlopens nothing, so the pure layers work where koffi cannot load. Everything that reaches
 * the OS ABI goes through here; other files in src/sys bind their functions with {@link libcFunc}.
 */
import { createRequire } from "node:module";
import type * as Koffi from "koffi";
import { SyscallError } from "../errors.ts";
import { errnoName } from "./errno.ts";

let koffiModule: typeof Koffi | undefined;
let libcHandle: Koffi.LibraryHandle | undefined;

/** The koffi module, loaded on first call. */
export function koffi(): typeof Koffi {
  koffiModule ??= createRequire(import.meta.url)("koffi") as typeof Koffi;
  return koffiModule;
}

/** libc.so.6, opened on first call. */
export function libc(): Koffi.LibraryHandle {
  libcHandle ??= koffi().load("libc.so.6");
  return libcHandle;
}

/**
 * A libc function declared by its C prototype and bound on first call. `F` is the JS signature the
 * caller promises matches the prototype.
 */
export function libcFunc<F extends (...args: any[]) => any>(prototype: string): F {
  let bound: F | undefined;
  return ((...args: any[]) => {
    bound ??= libc().func(prototype) as unknown as F;
    return bound(...args);
  }) as F;
}

/** The koffi function itself, bound on first call (for its `.async`, or a hot path without the wrapper). */
export function libcBinding<F>(prototype: string): () => F {
  let bound: F | undefined;
  return () => {
    bound ??= libc().func(prototype) as unknown as F;
    return bound;
  };
}

type Syscall3 = (nr: number, a: number, b: Uint8Array | Buffer | null, c: number) => number;
const syscall3Binding = libcBinding<Syscall3>("long syscall(long nr, long a, void *b, unsigned long c)");

/** `long syscall(long nr, long a, void *b, unsigned long c)`: the fixed 3-argument shape works on x86-64. */
export function syscall3(nr: number, a: number, b: Uint8Array | Buffer | null, c: number): number {
  return syscall3Binding()(nr, a, b, c);
}

export const closeFd = libcFunc<(fd: number) => number>("int close(int fd)");

export function lastErrno(): number {
  return koffi().errno();
}

/** Throws a SyscallError for the current errno. */
export function throwErrno(call: string, errno = lastErrno()): never {
  throw new SyscallError(call, errno, errnoName(errno));
}

export const SYS_BPF = 321;
export const SYS_PERF_EVENT_OPEN = 298;
