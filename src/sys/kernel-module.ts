/** Loading and unloading kernel modules with finit_module(2) / delete_module(2): no kmod or busybox needed. */
import { closeSync, openSync } from "node:fs";
import { SyscallError } from "../errors.ts";
import { errnoName } from "./errno.ts";
import { lastErrno, libcFunc } from "./libc.ts";

const SYS_FINIT_MODULE = 313;
const SYS_DELETE_MODULE = 176;
const O_NONBLOCK = 0o4000;

const syscallStr = libcFunc<(nr: number, a: number, b: string, c: number) => number>(
  "long syscall(long nr, long a, const char *b, long c)",
);
const syscallNameFlags = libcFunc<(nr: number, a: string, b: number) => number>(
  "long syscall(long nr, const char *a, long b)",
);

/** Loads a module from a .ko file (`params` like "a=1 b=x"). */
export function finitModule(path: string, params = ""): void {
  const fd = openSync(path, "r");
  try {
    if (syscallStr(SYS_FINIT_MODULE, fd, params, 0) < 0) {
      const e = lastErrno();
      throw new SyscallError(`finit_module('${path}')`, e, errnoName(e));
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Unloads a module by name. Without `wait` the kernel refuses with EAGAIN/EWOULDBLOCK while the module is in use
 * (e.g. a loaded BPF program still references its kfunc).
 */
export function deleteModule(name: string): void {
  if (syscallNameFlags(SYS_DELETE_MODULE, name, O_NONBLOCK) < 0) {
    const e = lastErrno();
    throw new SyscallError(`delete_module('${name}')`, e, errnoName(e));
  }
}
