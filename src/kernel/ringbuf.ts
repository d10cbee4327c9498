/**
 * A BPF_MAP_TYPE_RINGBUF consumer (libbpf ringbuf.c semantics): the consumer page mapped read-write, the
 * producer page and the data pages read-only, the data area mapped twice back to back by the kernel so a
 * record that wraps is contiguous. Records are handed out as zero-copy views, valid until the consumer
 * moves on (the next record, or the callback returning). Discarded records are skipped; a record whose
 * BUSY bit is set is not committed yet, so consumption stops there until the next wake-up.
 */
import type { Btf } from "../btf/index.ts";
import { UsageError } from "../errors.ts";
import { Epoll } from "../sys/epoll.ts";
import { type Mapping, mmapFd, PROT_READ, PROT_WRITE, pageSize } from "../sys/mmap.ts";
import { type BtfValue, codecFor } from "./btf-codec.ts";

const BUSY_BIT = 0x80000000;
const DISCARD_BIT = 0x40000000;
const HDR_SZ = 8;
const RINGBUF_MAP_TYPE = 27;

/** What the ring buffer needs to know about its map; the loader's BpfMap satisfies it. */
export interface RingBufferMap {
  readonly name: string;
  readonly fd: number;
  readonly maxEntries: number;
  readonly type?: number;
  readonly btf?: Btf | undefined;
}

export interface RingBufferOptions {
  /** Decode records as this BTF type (a struct id in `btf`, by default the map's BTF). */
  typeId?: number;
  btf?: Btf;
}

/** Called per record: `data` is a zero-copy view, valid only during the call. Return false to stop. */
export type RecordCallback = (data: Uint8Array) => unknown;

export class RingBuffer implements Disposable {
  readonly map: RingBufferMap;
  readonly #consumer: Mapping;
  readonly #producer: Mapping;
  readonly #epoll: Epoll;
  /** Consumer position, lo/hi 32-bit words (x86-64: plain 32-bit stores are atomic). */
  readonly #cons: Uint32Array;
  readonly #prod: Uint32Array;
  /** The data area (2 × size bytes: the kernel maps it twice). */
  readonly #data: Uint8Array;
  readonly #lens: Int32Array;
  readonly #mask: number;
  readonly #decode: ((b: Uint8Array) => BtfValue) | undefined;
  #closed = false;

  constructor(map: RingBufferMap, options: RingBufferOptions = {}) {
    if (map.type !== undefined && map.type !== RINGBUF_MAP_TYPE) {
      throw new UsageError(`map '${map.name}' is not a BPF_MAP_TYPE_RINGBUF (type ${map.type})`, {
        hint: "declare it with __uint(type, BPF_MAP_TYPE_RINGBUF); for BPF_MAP_TYPE_PERF_EVENT_ARRAY use PerfBuffer",
      });
    }
    const size = map.maxEntries;
    if (size <= 0 || (size & (size - 1)) !== 0 || size % pageSize() !== 0) {
      throw new UsageError(
        `ring buffer '${map.name}': max_entries ${size} is not a power-of-2 multiple of the page size`,
      );
    }
    this.map = map;
    this.#mask = size - 1;
    const page = pageSize();
    this.#consumer = mmapFd(
      map.fd,
      page,
      PROT_READ | PROT_WRITE,
      0,
      `ring buffer '${map.name}' consumer page`,
    );
    try {
      this.#producer = mmapFd(map.fd, page + 2 * size, PROT_READ, page, `ring buffer '${map.name}' data`);
    } catch (e) {
      this.#consumer.close();
      throw e;
    }
    try {
      this.#epoll = new Epoll(1);
      this.#epoll.add(map.fd, 0);
    } catch (e) {
      this.#consumer.close();
      this.#producer.close();
      throw e;
    }
    this.#cons = new Uint32Array(this.#consumer.buffer, 0, 2);
    this.#prod = new Uint32Array(this.#producer.buffer, 0, 2);
    this.#data = new Uint8Array(this.#producer.buffer, page, 2 * size);
    this.#lens = new Int32Array(this.#producer.buffer, page, (2 * size) / 4);
    const btf = options.btf ?? map.btf;
    if (options.typeId !== undefined) {
      if (!btf) throw new UsageError(`ring buffer '${map.name}': a record type needs BTF`);
      const codec = codecFor(btf, options.typeId);
      this.#decode = (b) => codec.decode(b, 0);
    }
  }

  /** Bytes of the ring (max_entries). */
  get size(): number {
    return this.#mask + 1;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #consumerPos(): number {
    return Atomics.load(this.#cons, 0) + Atomics.load(this.#cons, 1) * 0x1_0000_0000;
  }

  #producerPos(): number {
    const lo = Atomics.load(this.#prod, 0);
    const hi = Atomics.load(this.#prod, 1);
    return lo + hi * 0x1_0000_0000;
  }

  #storeConsumer(pos: number): void {
    // low word first: a torn read sees an older (smaller) position, which only under-reports free space
    Atomics.store(this.#cons, 0, pos >>> 0);
    Atomics.store(this.#cons, 1, Math.floor(pos / 0x1_0000_0000));
  }

  /** Bytes produced and not consumed yet. */
  get available(): number {
    return this.#producerPos() - this.#consumerPos();
  }

  /**
   * Consumes every committed record without waiting; `cb` gets a zero-copy view. Returns the number of
   * records handed to `cb`. Stops early when `cb` returns false.
   */
  consume(cb: RecordCallback): number {
    this.#check();
    let cons = this.#consumerPos();
    let count = 0;
    const lens = this.#lens;
    const data = this.#data;
    for (;;) {
      let progressed = false;
      const prod = this.#producerPos();
      while (cons < prod) {
        const off = cons & this.#mask;
        const len = Atomics.load(lens, off >>> 2);
        if (len & BUSY_BIT) {
          this.#storeConsumer(cons);
          return count;
        }
        progressed = true;
        const n = len & 0x3fffffff;
        cons += (n + HDR_SZ + 7) & ~7;
        if ((len & DISCARD_BIT) === 0) {
          count++;
          const stop = cb(data.subarray(off + HDR_SZ, off + HDR_SZ + n)) === false;
          this.#storeConsumer(cons);
          if (stop) return count;
        } else {
          this.#storeConsumer(cons);
        }
      }
      if (!progressed) return count;
    }
  }

  /**
   * The fastest path: like {@link consume}, but `cb(data, offset, length)` gets the whole data area and
   * where the record is in it, so no view object is created per record. The consumer position is
   * published every 64 records and at the end.
   */
  consumeRaw(cb: (data: Uint8Array, offset: number, length: number) => unknown): number {
    this.#check();
    const base = this.#consumerPos();
    const avail = this.#producerPos() - base;
    if (avail <= 0) return 0;
    const lens = this.#lens;
    const data = this.#data;
    const mask = this.#mask;
    // small integers in the loop: where in the ring (`start + done` masked) and how far we got
    const start = base % (mask + 1);
    let limit = Math.min(avail, 0x3fffffff);
    let done = 0;
    let count = 0;
    for (;;) {
      while (done < limit) {
        const off = (start + done) & mask;
        const len = lens[off >> 2]!;
        if (len & BUSY_BIT) {
          this.#storeConsumer(base + done);
          return count;
        }
        done += ((len & 0x3fffffff) + 15) & ~7;
        if ((len & DISCARD_BIT) === 0) {
          count++;
          if (cb(data, off + HDR_SZ, len & 0x3fffffff) === false) {
            this.#storeConsumer(base + done);
            return count;
          }
          if ((count & 255) === 0) this.#storeConsumer(base + done);
        }
      }
      this.#storeConsumer(base + done);
      const more = this.#producerPos() - base;
      if (more <= done || done >= 0x3fffffff) return count;
      limit = Math.min(more, 0x3fffffff);
    }
  }

  /** Waits up to timeoutMs (-1: forever) for data, then consumes. Blocks the thread: use short timeouts. */
  poll(timeoutMs: number, cb: RecordCallback): number {
    this.#check();
    if (this.available === 0) this.#epoll.wait(timeoutMs);
    return this.consume(cb);
  }

  /**
   * Async iteration over records (zero-copy views, each valid until the next one is requested). Waits on a
   * worker thread; ends when `signal` aborts or the ring buffer is closed.
   */
  async *records(options: { signal?: AbortSignal; pollMs?: number } = {}): AsyncGenerator<Uint8Array> {
    const pollMs = options.pollMs ?? 100;
    while (!this.#closed && !options.signal?.aborted) {
      let cons = this.#consumerPos();
      const prod = this.#producerPos();
      if (cons >= prod) {
        await this.#epoll.waitAsync(pollMs);
        continue;
      }
      while (cons < prod && !this.#closed) {
        const off = cons & this.#mask;
        const len = Atomics.load(this.#lens, off >>> 2);
        if (len & BUSY_BIT) break;
        const n = len & 0x3fffffff;
        cons += (n + HDR_SZ + 7) & ~7;
        if ((len & DISCARD_BIT) === 0) yield this.#data.subarray(off + HDR_SZ, off + HDR_SZ + n);
        if (this.#closed) return;
        this.#storeConsumer(cons);
      }
      if (cons < prod) await this.#epoll.waitAsync(Math.min(pollMs, 5)); // a busy record: let it commit
    }
  }

  /** {@link records} decoded with the BTF type given at open (`typeId`). */
  async *values(options: { signal?: AbortSignal; pollMs?: number } = {}): AsyncGenerator<BtfValue> {
    const decode = this.#decode;
    if (!decode) {
      throw new UsageError(`ring buffer '${this.map.name}': no record type given`, {
        hint: "open it with { typeId } (the BTF id of the record struct), or iterate records()",
      });
    }
    for await (const r of this.records(options)) yield decode(r);
  }

  /** Decodes one record with the record type given at open. */
  decode(record: Uint8Array): BtfValue {
    if (!this.#decode) throw new UsageError(`ring buffer '${this.map.name}': no record type given`);
    return this.#decode(record);
  }

  #check(): void {
    if (this.#closed) throw new Error(`ring buffer '${this.map.name}': used after close`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#epoll.close();
    this.#producer.close();
    this.#consumer.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
