/**
 * A ring buffer mapped by hand, for the benches' "no library" floors (bench/ringbuf-floor.ts,
 * bench/skeleton.ts): the consumer page and the doubly mapped data pages as typed arrays, and the two ends
 * of the hand-written loop around them (where the committed records are, and publishing the position).
 */
import { mmapFd, PROT_READ, PROT_WRITE, pageSize } from "../src/sys/mmap.ts";

export interface HandRing extends Disposable {
  readonly size: number;
  readonly cons: Uint32Array;
  readonly prod: Uint32Array;
  /** The data area (2 × size bytes) as 32-bit words, bytes and 64-bit words. */
  readonly lens: Int32Array;
  readonly data: Uint8Array;
  readonly q: BigUint64Array;
}

export function mapRingByHand(map: { fd: number; maxEntries: number }): HandRing {
  const size = map.maxEntries;
  const page = pageSize();
  const consPage = mmapFd(map.fd, page, PROT_READ | PROT_WRITE, 0, "ring buffer consumer page");
  let dataPages: ReturnType<typeof mmapFd>;
  try {
    dataPages = mmapFd(map.fd, page + 2 * size, PROT_READ, page, "ring buffer data");
  } catch (e) {
    consPage.close();
    throw e;
  }
  return {
    size,
    cons: new Uint32Array(consPage.buffer, 0, 2),
    prod: new Uint32Array(dataPages.buffer, 0, 2),
    lens: new Int32Array(dataPages.buffer, page, (2 * size) / 4),
    data: new Uint8Array(dataPages.buffer, page, 2 * size),
    q: new BigUint64Array(dataPages.buffer, page, (2 * size) / 8),
    [Symbol.dispose]() {
      dataPages.close();
      consPage.close();
    },
  };
}

/** The committed bytes from the consumer position: one pass of at most `size` bytes, no masking. */
export function handSpan(h: HandRing): { base: number; start: number; end: number } {
  const base = Atomics.load(h.cons, 0) + Atomics.load(h.cons, 1) * 0x1_0000_0000;
  const avail = Math.min(Atomics.load(h.prod, 0) + Atomics.load(h.prod, 1) * 0x1_0000_0000 - base, h.size);
  const start = (base % h.size) | 0;
  return { base, start, end: start + avail };
}

/** Publishes the consumer position after a pass that stopped at data offset `p`. */
export function handRelease(h: HandRing, span: { base: number; start: number }, p: number): void {
  const q = span.base + (p - span.start);
  Atomics.store(h.cons, 0, q >>> 0);
  Atomics.store(h.cons, 1, Math.floor(q / 0x1_0000_0000));
}
