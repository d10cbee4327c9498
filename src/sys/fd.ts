import { closeFd, lastErrno, libcFunc, throwErrno } from "./libc.ts";

const fcntl3 = libcFunc<(fd: number, cmd: number, arg: number) => number>(
  "int fcntl(int fd, int cmd, int arg)",
);
const F_DUPFD_CLOEXEC = 1030;

const leakRegistry = new FinalizationRegistry<{ fd: number; what: string }>((held) => {
  process.emitWarning(`kfunc-kit: fd ${held.fd} (${held.what}) was garbage-collected without close()`);
});

/**
 * An owned file descriptor. Rejects negatives, moves 0–2 above stdio (the BPF UAPI treats 0 as "no fd"),
 * `close()` is idempotent, `disown()` hands the raw fd over. GC only warns about a leak; it never closes.
 */
export class Fd implements Disposable {
  #fd: number;
  readonly what: string;

  constructor(raw: number, what: string) {
    if (!Number.isInteger(raw) || raw < 0) throw new RangeError(`invalid fd ${raw} for ${what}`);
    if (raw <= 2) {
      const dup = fcntl3(raw, F_DUPFD_CLOEXEC, 3);
      const err = lastErrno();
      closeFd(raw);
      if (dup < 0) throwErrno(`fcntl(F_DUPFD_CLOEXEC) for ${what}`, err);
      raw = dup;
    }
    this.#fd = raw;
    this.what = what;
    leakRegistry.register(this, { fd: raw, what }, this);
  }

  /** The raw fd; throws after close. */
  get value(): number {
    if (this.#fd < 0) throw new Error(`${this.what}: fd used after close`);
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  close(): void {
    if (this.#fd < 0) return;
    leakRegistry.unregister(this);
    closeFd(this.#fd);
    this.#fd = -1;
  }

  /** Gives up ownership: the caller now owns the raw fd. */
  disown(): number {
    const fd = this.value;
    leakRegistry.unregister(this);
    this.#fd = -1;
    return fd;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
