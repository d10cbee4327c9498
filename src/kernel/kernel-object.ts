/** What a loaded program and a created map share: one owned fd, pinning, close/dispose, exit-time cleanup. */
import { objPin } from "../sys/bpf-obj.ts";
import type { Fd } from "../sys/fd.ts";
import { track, untrack } from "./registry.ts";

export abstract class KernelObject implements Disposable {
  readonly #fd: Fd;

  /** Takes ownership of `fd`. */
  constructor(fd: Fd) {
    this.#fd = fd;
    track(this);
  }

  /** The raw fd (throws after close). */
  get fd(): number {
    return this.#fd.value;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  /** Pins the object at a bpffs path. */
  pin(path: string): void {
    objPin(this.fd, path);
  }

  /** Idempotent. */
  close(): void {
    untrack(this);
    this.#fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
