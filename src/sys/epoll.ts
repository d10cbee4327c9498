/**
 * epoll(7): an owned epoll instance. `wait()` blocks the calling thread (use small timeouts);
 * `waitAsync()` runs epoll_wait on koffi's worker thread so the event loop stays free.
 */
import { Fd } from "./fd.ts";
import { lastErrno, libcBinding, libcFunc, throwErrno } from "./libc.ts";

const epollCreate1 = libcFunc<(flags: number) => number>("int epoll_create1(int flags)");
const epollCtl = libcFunc<(epfd: number, op: number, fd: number, event: Uint8Array | null) => number>(
  "int epoll_ctl(int epfd, int op, int fd, void *event)",
);
type WaitFn = ((epfd: number, events: Uint8Array, max: number, timeout: number) => number) & {
  async: (
    epfd: number,
    events: Uint8Array,
    max: number,
    timeout: number,
    cb: (err: unknown, r: number) => void,
  ) => void;
};
const epollWait = libcBinding<WaitFn>("int epoll_wait(int epfd, void *events, int max, int timeout)");
const eventfd = libcFunc<(init: number, flags: number) => number>(
  "int eventfd(unsigned int initval, int flags)",
);
const writeFd = libcFunc<(fd: number, buf: Uint8Array, n: number) => number>(
  "long write(int fd, void *buf, unsigned long n)",
);
const readFd = libcFunc<(fd: number, buf: Uint8Array, n: number) => number>(
  "long read(int fd, void *buf, unsigned long n)",
);

export const EPOLLIN = 0x1;
const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EVENT_SIZE = 12; // struct epoll_event is packed on x86-64: u32 events, u64 data
const EINTR = 4;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
/** The tag of the wake-up eventfd; its events are not reported. */
const WAKE_TAG = 0xffffffff;

export interface EpollEvent {
  events: number;
  /** The `data` registered with add() (a 32-bit tag). */
  tag: number;
}

export class Epoll implements Disposable {
  readonly #fd: Fd;
  readonly #events: Uint8Array;
  readonly #view: DataView;
  readonly #max: number;
  #wakeFd: Fd | undefined;
  /** waitAsync calls still sleeping on the worker thread; close() waits for them (see close). */
  #pending = 0;
  #closing = false;
  readonly #counter = new Uint8Array(8);

  constructor(maxEvents = 64) {
    const fd = epollCreate1(EPOLL_CLOEXEC);
    if (fd < 0) throwErrno("epoll_create1", lastErrno());
    this.#fd = new Fd(fd, "epoll");
    this.#max = maxEvents;
    this.#events = new Uint8Array(new ArrayBuffer(maxEvents * EVENT_SIZE));
    this.#view = new DataView(this.#events.buffer);
  }

  get fd(): number {
    return this.#fd.value;
  }

  /** Watches `fd` for `events` (EPOLLIN by default); `tag` comes back in wait results. */
  add(fd: number, tag: number, events = EPOLLIN): void {
    const ev = new Uint8Array(EVENT_SIZE);
    const v = new DataView(ev.buffer);
    v.setUint32(0, events, true);
    v.setUint32(4, tag >>> 0, true);
    if (epollCtl(this.#fd.value, EPOLL_CTL_ADD, fd, ev) < 0)
      throwErrno("epoll_ctl(EPOLL_CTL_ADD)", lastErrno());
  }

  remove(fd: number): void {
    if (epollCtl(this.#fd.value, EPOLL_CTL_DEL, fd, null) < 0)
      throwErrno("epoll_ctl(EPOLL_CTL_DEL)", lastErrno());
  }

  /**
   * Makes a pending or the next wait return (from any code on this thread, e.g. close() or an abort
   * handler while waitAsync sleeps on the worker thread). Backed by an eventfd created at first use.
   */
  wake(): void {
    if (this.#fd.closed || this.#closing) return;
    if (!this.#wakeFd) {
      const fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (fd < 0) throwErrno("eventfd", lastErrno());
      this.#wakeFd = new Fd(fd, "epoll wake-up eventfd");
      this.add(fd, WAKE_TAG);
    }
    const one = new Uint8Array(8);
    one[0] = 1;
    writeFd(this.#wakeFd.value, one, 8);
  }

  /** Blocks up to timeoutMs (-1: forever, 0: just check); returns the ready fds' tags. EINTR → []. */
  wait(timeoutMs: number): EpollEvent[] {
    const n = epollWait()(this.#fd.value, this.#events, this.#max, timeoutMs);
    if (n < 0) {
      const e = lastErrno();
      if (e === EINTR) return [];
      throwErrno("epoll_wait", e);
    }
    return this.#decode(this.#events, n);
  }

  /** epoll_wait on a worker thread; resolves with the ready tags. */
  waitAsync(timeoutMs: number): Promise<EpollEvent[]> {
    const out = new Uint8Array(new ArrayBuffer(this.#max * EVENT_SIZE));
    const fd = this.#fd.value;
    this.#pending++;
    return new Promise((resolve, reject) => {
      epollWait().async(fd, out, this.#max, timeoutMs, (err, n) => {
        if (--this.#pending === 0 && this.#closing) this.#closeNow();
        if (err) return reject(err);
        if (this.#closing) return resolve([]);
        if (n < 0) return resolve([]); // EINTR (errno is not reliable across threads)
        resolve(this.#decode(out, n));
      });
    });
  }

  #decode(buf: Uint8Array, n: number): EpollEvent[] {
    const v = buf === this.#events ? this.#view : new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const out: EpollEvent[] = [];
    for (let i = 0; i < n; i++) {
      const tag = v.getUint32(i * EVENT_SIZE + 4, true);
      if (tag === WAKE_TAG) {
        if (this.#wakeFd && !this.#wakeFd.closed) readFd(this.#wakeFd.value, this.#counter, 8); // re-arm
        continue;
      }
      out.push({ events: v.getUint32(i * EVENT_SIZE, true), tag });
    }
    return out;
  }

  /**
   * Closes the epoll fd. A waitAsync still sleeping on the worker thread is woken first and the fds are
   * closed when it returns: closing them under it could drop the wake-up and leave it asleep forever.
   */
  close(): void {
    if (this.#pending > 0) {
      this.wake();
      this.#closing = true;
      return;
    }
    this.#closeNow();
  }

  #closeNow(): void {
    this.#wakeFd?.close();
    this.#fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
