/**
 * A BPF_MAP_TYPE_RINGBUF consumer (libbpf ringbuf.c semantics): the consumer page mapped read-write, the
 * producer page and the data pages read-only, the data area mapped twice back to back by the kernel so a
 * record that wraps is contiguous. Records are handed out as zero-copy views, valid until the consumer
 * moves on (the next record, or the callback returning). Discarded records are skipped; a record whose
 * BUSY bit is set is not committed yet, so consumption stops there until the next wake-up.
 */

import { type BtfValue, codecFor } from "../btf/codec.ts";
import type { Btf } from "../btf/index.ts";
import { UsageError } from "../errors.ts";
import { BPF_RINGBUF } from "../sys/constants.ts";
import { Epoll } from "../sys/epoll.ts";
import { type Mapping, mmapFd, PROT_READ, PROT_WRITE, pageSize } from "../sys/mmap.ts";
import {
  BYTES_LOOP,
  type ConsumeLoop,
  type CursorSpec,
  compileCursor,
  compileLoop,
  type LoopSpec,
  RAW_CURSOR,
  RAW_LOOP,
  type RingWalker,
  VIEW_LOOP,
} from "./ringbuf-loop.ts";

// the record header's bits (generated from BTF), as plain consts for the consume loops
const BUSY_BIT = BPF_RINGBUF.BUSY_BIT;
const DISCARD_BIT = BPF_RINGBUF.DISCARD_BIT;
const HDR_SZ = BPF_RINGBUF.HDR_SZ;
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

/**
 * One batch of committed records, handed to {@link RingBuffer.consumeBatch}: record `i` is
 * `data[offsets[i] .. offsets[i] + lengths[i])` (the data area is mapped twice, so a record that wraps is
 * contiguous). The object and its arrays are reused: valid only during the callback.
 */
export interface RecordBatch {
  /** The whole data area (2 × size bytes). */
  readonly data: Uint8Array;
  /** A DataView over the same bytes (offsets are the same). */
  readonly view: DataView;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  /** Records in this batch (entries past it are stale). */
  readonly count: number;
}

/**
 * The record {@link RingBuffer.consumeView} is at: one object, moved from record to record (no allocation per
 * record). `offset`/`length` locate it in `data`; the accessors read fields at a byte offset inside it.
 */
export class RecordView {
  readonly data: Uint8Array;
  readonly view: DataView;
  offset = 0;
  /** The data as 64-bit words (a ring's data area is page-aligned): an aligned u64 is one load and a bigint. */
  readonly #words: BigUint64Array | undefined;

  constructor(data: Uint8Array) {
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.#words =
      data.byteOffset % 8 === 0
        ? new BigUint64Array(data.buffer, data.byteOffset, data.byteLength >>> 3)
        : undefined;
  }

  /** The record's length, from its header (read when asked: one store less per record). */
  get length(): number {
    return this.view.getUint32(this.offset - HDR_SZ, true) & 0x3fffffff;
  }
  u8(at: number): number {
    return this.data[this.offset + at]!;
  }
  u16(at: number): number {
    return this.view.getUint16(this.offset + at, true);
  }
  u32(at: number): number {
    return this.view.getUint32(this.offset + at, true);
  }
  i32(at: number): number {
    return this.view.getInt32(this.offset + at, true);
  }
  u64(at: number): bigint {
    const o = this.offset + at;
    const w = this.#words;
    return (o & 7) === 0 && w !== undefined ? w[o >>> 3]! : this.view.getBigUint64(o, true);
  }
  /** A u64 as a number (exact below 2^53). */
  u64n(at: number): number {
    return (
      this.view.getUint32(this.offset + at, true) +
      this.view.getUint32(this.offset + at + 4, true) * 0x1_0000_0000
    );
  }
  /** A zero-copy view of the record, valid as long as the record is. */
  bytes(): Uint8Array {
    return new Uint8Array(this.data.buffer, this.data.byteOffset + this.offset, this.length);
  }
  /** A copy of the record, to keep. */
  copy(): Uint8Array {
    return this.data.slice(this.offset, this.offset + this.length);
  }
}

const BATCH_MAX = 4096;
/** How far a consumer reads before it publishes the consumer position: 64 KiB, or a quarter of a smaller ring. */
function publishEvery(size: number): number {
  return Math.min(64 * 1024, size >>> 2);
}

/**
 * A reading position in a ring buffer, moved record by record with {@link next}: the fastest consumer (no
 * callback, no object per record). After `next()` returns true, the record is `data[offset .. offset +
 * length)`, valid until the next call. Like libbpf, the producer position is read once per batch (not per
 * record); unlike libbpf, which stores the consumer position after every record, it is published once per
 * 64 KiB read (a quarter of a smaller ring) and when `next()` returns false. After leaving the loop early, call {@link release}, or the
 * records after the last published position are handed out again by the next cursor.
 *
 * Between two reads of the producer position at most `size` bytes are available, and they start before
 * `size` in a data area the kernel maps twice: so within one batch record positions are plain offsets into
 * `data`, with no masking and no 64-bit arithmetic per record.
 */
export class RingCursor {
  /** The whole data area (mapped twice, so a record that wraps is contiguous). */
  readonly data: Uint8Array;
  /** A DataView over `data` (same offsets). */
  readonly view: DataView;
  /** Where the current record's bytes start in `data`. */
  offset = 0;
  length = 0;
  /** Moves to the next committed record; false when there is none (everything read is then released). */
  readonly next: () => boolean;
  readonly #walker: RingWalker;

  /** @internal created by {@link RingBuffer.cursor} and {@link RingBuffer.newCursor} */
  constructor(ring: RingBuffer) {
    const data = ring.data;
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.#walker = ring.walker(RAW_CURSOR, this);
    this.next = this.#walker.next;
  }

  /** Starts at the consumer position (what {@link RingBuffer.cursor} does). */
  reset(): this {
    this.#walker.reset();
    return this;
  }

  /** True when the last `next()` stopped at a record the producer has reserved but not committed yet. */
  get busy(): boolean {
    return this.#walker.busy();
  }

  /** Releases everything read so far, the current record included. */
  release(): void {
    this.#walker.release();
  }
}

interface Batch {
  data: Uint8Array;
  view: DataView;
  offsets: Int32Array;
  lengths: Int32Array;
  /** Bytes from the batch's start position to the end of record i (its consumer position). */
  ends: Int32Array;
  count: number;
  /** Set when the fill stopped at a reserved, uncommitted record. */
  busy: boolean;
}

/**
 * The batch's records from data offset `start` on (up to `avail` bytes, `cap` records): sets `b.count` (and
 * `b.busy`), returns the bytes walked. A function of its own, not a method: as a private method reading its
 * arrays from `this`, V8's code for this loop ran at ~11 ns a record, this one at ~4.6 (an empty callback per batch).
 */
function fillBatch(
  b: Batch,
  lens: Int32Array,
  mask: number,
  start: number,
  avail: number,
  cap: number,
): number {
  const offsets = b.offsets;
  const lengths = b.lengths;
  const ends = b.ends;
  let done = 0;
  let n = 0;
  while (done < avail && n < cap) {
    const off = (start + done) & mask;
    // The header is written last by the producer (release); reading it before the record's bytes is all
    // x86-64 needs (loads are not reordered with loads; V8 does not move loads across the calls below).
    const len = lens[off >> 2]!;
    if (len & BUSY_BIT) {
      b.busy = true;
      break;
    }
    done += ((len & 0x3fffffff) + 15) & ~7;
    if ((len & DISCARD_BIT) === 0) {
      offsets[n] = off + HDR_SZ;
      lengths[n] = len & 0x3fffffff;
      ends[n] = done;
      n++;
    }
  }
  b.count = n;
  return done;
}

function newBatch(data: Uint8Array): Batch {
  return {
    data,
    view: new DataView(data.buffer, data.byteOffset, data.byteLength),
    offsets: new Int32Array(BATCH_MAX),
    lengths: new Int32Array(BATCH_MAX),
    ends: new Int32Array(BATCH_MAX),
    count: 0,
    busy: false,
  };
}

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
  #batch: Batch | undefined;
  #record: RecordView | undefined;
  #cursor: RingCursor | undefined;
  /** This ring buffer's own consume loops (ringbuf-loop.ts: one call site per ring buffer and kind). */
  readonly #loops = new Map<string, ConsumeLoop>();
  #walkers: WeakRef<RingWalker>[] = [];
  readonly #chunk: number;
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
    this.#chunk = publishEvery(size);
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

  /** The data area (2 × size bytes: the kernel maps it twice), what the consumers' offsets index. */
  get data(): Uint8Array {
    return this.#data;
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
   * records handed to `cb`. Stops early when `cb` returns false. For rates that matter, use
   * {@link consumeRaw} or {@link consumeView}, which allocate nothing per record. Positions and errors as
   * {@link consumeRaw}.
   */
  consume(cb: RecordCallback): number {
    return this.consumeWith(BYTES_LOOP, cb);
  }

  /**
   * The reused {@link RingCursor} of this ring buffer, at the consumer position:
   * `for (const c = rb.cursor(); c.next(); ) use(c.data, c.offset, c.length)`.
   */
  cursor(): RingCursor {
    this.#check();
    this.#cursor ??= new RingCursor(this);
    return this.#cursor.reset();
  }

  /**
   * @internal A reading position of its own, compiled for `spec` (src/kernel/ringbuf-loop.ts): what
   * {@link cursor} and the skeleton's typed cursor move. Not yet reset.
   */
  walker(spec: CursorSpec, arg: unknown): RingWalker {
    this.#check();
    const w = compileCursor(spec, this.#cons, this.#prod, this.#lens, this.#mask + 1, this.#chunk, arg);
    // held weakly: close() stops the walkers still alive, so a cursor kept past close() throws
    this.#walkers = this.#walkers.filter((r) => r.deref() !== undefined);
    this.#walkers.push(new WeakRef(w));
    return w;
  }

  /**
   * Like {@link consume}, but `cb` always gets the same {@link RecordView}, moved to each record in turn: no
   * object per record. The view is valid only during the call. Positions and errors as {@link consumeRaw}.
   */
  consumeView(cb: (record: RecordView) => unknown): number {
    this.#check();
    this.#record ??= new RecordView(this.#data);
    return this.consumeWith(VIEW_LOOP, cb, this.#record);
  }

  /**
   * @internal Runs this ring buffer's own consume loop for `spec` (src/kernel/ringbuf-loop.ts), compiled on
   * first use: consumeRaw, consumeView, consume and the skeleton's typed consumers each get a loop, and a
   * callback call site, of their own.
   */
  consumeWith(spec: LoopSpec, cb: unknown, arg?: unknown): number {
    this.#check();
    let loop = this.#loops.get(spec.key);
    if (!loop) {
      loop = compileLoop(spec);
      this.#loops.set(spec.key, loop);
    }
    return loop(this.#cons, this.#prod, this.#lens, this.#data, this.#mask + 1, this.#chunk, cb, arg);
  }

  /**
   * A new cursor of its own (call `reset()` on it before each loop), for a consumer that must not share the
   * one {@link cursor} hands out; two cursors must not be used at the same time.
   */
  newCursor(): RingCursor {
    this.#check();
    return new RingCursor(this);
  }

  /**
   * Hands out every committed record in batches of up to `max` (default 4096): one call per batch with the
   * records' offsets and lengths in reused arrays. The consumer position moves past a batch only after
   * `cb` returns, so every record of the batch stays intact during the call. Returns the number of
   * records; stops after a batch for which `cb` returns false.
   */
  consumeBatch(cb: (batch: RecordBatch) => unknown, max = BATCH_MAX): number {
    this.#check();
    const cap = Math.max(1, Math.min(max, BATCH_MAX));
    let total = 0;
    this.#batch ??= newBatch(this.#data);
    const b = this.#batch;
    for (;;) {
      const base = this.#consumerPos();
      const done = this.#fill(b, base, cap);
      const n = b.count;
      if (n > 0) {
        total += n;
        const stop = cb(b) === false;
        b.count = 0;
        this.#storeConsumer(base + done);
        if (stop) return total;
      } else if (done > 0) {
        this.#storeConsumer(base + done);
      }
      if (b.busy || done === 0) return total;
    }
  }

  /**
   * Collects up to `cap` committed records from consumer position `base` into the batch; returns the bytes
   * they (and discarded records among them) take. Sets `b.busy` when it stopped at an uncommitted record.
   * Does not move the consumer position.
   */
  #fill(b: Batch, base: number, cap: number): number {
    const avail = Math.min(this.#producerPos() - base, 0x3fffffff) | 0;
    b.count = 0;
    b.busy = false;
    return avail <= 0 ? 0 : fillBatch(b, this.#lens, this.#mask, (base % (this.#mask + 1)) | 0, avail, cap);
  }

  /**
   * The fastest path: like {@link consume}, but `cb(data, offset, length)` gets the whole data area and
   * where the record is in it, so no view object is created per record. One loop per call that keeps the
   * positions in locals (src/kernel/ringbuf-loop.ts), compiled for this ring buffer alone so that V8 can
   * inline `cb` (keep one callback per ring buffer for that). The producer position is read once per pass
   * (at most `size` bytes); the consumer position is published every 64 KiB read (a quarter of a smaller
   * ring), at the end, when `cb` returns false (that record included) and when `cb` throws (that record
   * included: it was handed out; the error propagates).
   */
  consumeRaw(cb: (data: Uint8Array, offset: number, length: number) => unknown): number {
    return this.consumeWith(RAW_LOOP, cb);
  }

  /** Waits up to timeoutMs (-1: forever) for data, then consumes. Blocks the thread: use short timeouts. */
  poll(timeoutMs: number, cb: RecordCallback): number {
    this.#check();
    if (this.available === 0) this.#epoll.wait(timeoutMs);
    return this.consume(cb);
  }

  /**
   * Async iteration over batches of records ({@link RecordBatch}, reused: valid until the next one is
   * requested). Sleeps in epoll_wait on a worker thread until the kernel signals data (no timer, no
   * spinning); ends when `signal` aborts or the ring buffer is closed. `pollMs` bounds one wait (default:
   * none; the abort or close wakes it).
   */
  async *batches(
    options: { signal?: AbortSignal; pollMs?: number; max?: number } = {},
  ): AsyncGenerator<RecordBatch> {
    const cap = Math.max(1, Math.min(options.max ?? BATCH_MAX, BATCH_MAX));
    const signal = options.signal;
    const onAbort = () => this.#epoll.wake();
    signal?.addEventListener("abort", onAbort, { once: true });
    const b = newBatch(this.#data);
    try {
      while (!this.#closed && !signal?.aborted) {
        const base = this.#consumerPos();
        const done = this.#fill(b, base, cap);
        if (b.count > 0) {
          try {
            yield b;
          } finally {
            b.count = 0;
            if (!this.#closed) this.#storeConsumer(base + done);
          }
          continue;
        }
        if (done > 0) this.#storeConsumer(base + done);
        await this.#idle(b, options.pollMs);
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Waits for the kernel to signal data (or a wake-up from close/abort); `b`: the batch last filled. */
  async #idle(b: Batch, pollMs: number | undefined): Promise<void> {
    // a reserved, uncommitted record: epoll reports the ring readable at once, so give the producer a
    // moment instead of spinning on it
    if (b.busy) await new Promise((r) => setTimeout(r, 1));
    else if (!this.#closed) await this.#epoll.waitAsync(pollMs ?? -1);
  }

  /**
   * Async iteration over records (zero-copy views, each valid until the next one is requested). Waits like
   * {@link batches}; ends when `signal` aborts or the ring buffer is closed.
   */
  async *records(options: { signal?: AbortSignal; pollMs?: number } = {}): AsyncGenerator<Uint8Array> {
    const signal = options.signal;
    const onAbort = () => this.#epoll.wake();
    signal?.addEventListener("abort", onAbort, { once: true });
    const buf = this.#data.buffer;
    const byteOffset = this.#data.byteOffset;
    const b = newBatch(this.#data);
    try {
      while (!this.#closed && !signal?.aborted) {
        const base = this.#consumerPos();
        const done = this.#fill(b, base, BATCH_MAX);
        const n = b.count;
        for (let i = 0; i < n; i++) {
          try {
            yield new Uint8Array(buf, byteOffset + b.offsets[i]!, b.lengths[i]!);
          } finally {
            // the caller is done with record i (next record, break or return): release it
            if (!this.#closed) this.#storeConsumer(base + (i === n - 1 ? done : b.ends[i]!));
          }
          if (this.#closed || signal?.aborted) return;
        }
        if (done > 0 && !this.#closed) this.#storeConsumer(base + done);
        if (n === 0) await this.#idle(b, options.pollMs);
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
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
    for (const r of this.#walkers) r.deref()?.stop(`ring buffer '${this.map.name}': used after close`);
    this.#walkers = [];
    this.#epoll.close(); // wakes an async iterator sleeping in epoll_wait
    this.#producer.close();
    this.#consumer.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
