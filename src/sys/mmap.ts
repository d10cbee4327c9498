/**
 * mmap(2)/munmap(2) exposed as zero-copy ArrayBuffer views over the mapping (koffi.view). A `Mapping` owns
 * its pages: after `close()` its views must not be touched (the memory is gone).
 */
import { koffi, lastErrno, libcFunc, throwErrno } from "./libc.ts";

const mmapFn = libcFunc<
  (addr: null, len: number, prot: number, flags: number, fd: number, off: number) => unknown
>("void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)");
const munmapFn = libcFunc<(addr: unknown, len: number) => number>("int munmap(void *addr, size_t len)");

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;

const MAP_FAILED = 0xffffffffffffffffn;

let cachedPageSize: number | undefined;
const sysconf = libcFunc<(name: number) => number>("long sysconf(int name)");
const _SC_PAGESIZE = 30;

export function pageSize(): number {
  cachedPageSize ??= sysconf(_SC_PAGESIZE);
  return cachedPageSize;
}

export class Mapping implements Disposable {
  #ptr: unknown;
  readonly length: number;
  /** Zero-copy view of the mapped bytes; invalid after close(). */
  readonly buffer: ArrayBuffer;
  readonly address: bigint;

  constructor(ptr: unknown, length: number) {
    this.#ptr = ptr;
    this.length = length;
    this.buffer = koffi().view(ptr, length);
    this.address = koffi().address(ptr);
  }

  get closed(): boolean {
    return this.#ptr === undefined;
  }

  close(): void {
    if (this.#ptr === undefined) return;
    munmapFn(this.#ptr, this.length);
    this.#ptr = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** mmap(NULL, length, prot, MAP_SHARED, fd, offset); `what` names the mapping in errors. */
export function mmapFd(fd: number, length: number, prot: number, offset: number, what: string): Mapping {
  const ptr = mmapFn(null, length, prot, MAP_SHARED, fd, offset);
  if (ptr === null || koffi().address(ptr) === MAP_FAILED) throwErrno(`mmap(${what})`, lastErrno());
  return new Mapping(ptr, length);
}

/**
 * A read-only private mapping of a whole file (`length` bytes from offset 0), e.g. /sys/kernel/btf/vmlinux
 * (Linux ≥ 6.16 maps it; the kernel refuses writable or shared mappings). Writing to its view faults.
 */
export function mmapReadOnly(fd: number, length: number, what: string): Mapping {
  const ptr = mmapFn(null, length, PROT_READ, MAP_PRIVATE, fd, 0);
  if (ptr === null || koffi().address(ptr) === MAP_FAILED) throwErrno(`mmap(${what})`, lastErrno());
  return new Mapping(ptr, length);
}
