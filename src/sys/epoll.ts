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

export const EPOLLIN = 0x1;
const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EVENT_SIZE = 12; // struct epoll_event is packed on x86-64: u32 events, u64 data
const EINTR = 4;

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
    return new Promise((resolve, reject) => {
      epollWait().async(fd, out, this.#max, timeoutMs, (err, n) => {
        if (err) return reject(err);
        if (n < 0) return resolve([]); // EINTR (errno is not reliable across threads)
        resolve(this.#decode(out, n));
      });
    });
  }

  #decode(buf: Uint8Array, n: number): EpollEvent[] {
    const v = buf === this.#events ? this.#view : new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const out: EpollEvent[] = [];
    for (let i = 0; i < n; i++) {
      out.push({ events: v.getUint32(i * EVENT_SIZE, true), tag: v.getUint32(i * EVENT_SIZE + 4, true) });
    }
    return out;
  }

  close(): void {
    this.#fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
