/**
 * The ring buffer's consume loop (libbpf's ringbuf_process_ring), compiled once per ring buffer and consumer
 * kind. The loop keeps the consumer and producer positions in locals for a whole pass and reads the record
 * headers through one typed array of the data pages: the shape of the fastest JS loop measured here
 * (bench/ringbuf-floor.ts; a consumer whose position lives in an object field between records is slower).
 *
 * Why compiled per ring buffer: V8 inlines a callback only while the call site has seen one function. A
 * loop shared by every ring buffer of the process has one call site for all of them, so a second consumer
 * (another ring buffer, the skeleton's typed path, a test) makes it polymorphic and every record pays a
 * real call (about half the rate in bench/ringbuf.ts). `new Function` gives each ring buffer and kind a loop of its own, with
 * its own call-site feedback. The sources below are fixed strings of this file: nothing from the object or
 * the caller is compiled.
 *
 * Memory order, as libbpf: the producer position is read with Atomics.load (acquire) once per pass; a
 * record's header is read before its bytes (x86-64 does not reorder loads with loads, and V8 keeps loads
 * of one typed array in program order); a BUSY header ends the pass, a DISCARD one is skipped; the data
 * area is mapped twice, so a pass of at most `size` bytes from `start < size` needs no masking. The
 * consumer position is stored with Atomics.store (release and more) every `chunk` bytes, at a BUSY record,
 * at the end of each pass, when the callback stops the loop (returns false) and when it throws: so the
 * producer never sees a position older than `chunk` bytes of the current pass, and a record is handed out
 * at most once. libbpf stores it after every record; a seq-cst store per record would cost more than the
 * rest of the loop. A callback that throws has consumed its record (as libbpf's callback returning an
 * error has): the position stored is past it, and the error propagates.
 */
import { BPF_RINGBUF } from "../sys/constants.ts";

/** One kind of consumer: `setup` runs once per call (locals from `arg`), `perRecord` once per record. */
export interface LoopSpec {
  /** Names the kind; one compiled loop per ring buffer and key. */
  readonly key: string;
  /**
   * Statements run once per call. In scope: `data` (the data area, 2 × size bytes), `cb`, `arg`.
   * Declares the locals `perRecord` uses; the loop's own names (`cons`, `prod`, `lens`, `size`, `chunk`,
   * `count`, `base`, `start`, `end`, `p`, `publish`, `stop`, `len`, `q`) are taken.
   */
  readonly setup: string;
  /**
   * Statements run per committed record. In scope, besides setup's locals: `at` (where the record's bytes
   * start in `data`), `n` (its length), `cb`, `arg`. Sets `stop = true` and `break`s to end the loop
   * after this record.
   */
  readonly perRecord: string;
}

/** The compiled loop: returns how many records were handed to `cb`. */
export type ConsumeLoop = (
  cons: Uint32Array,
  prod: Uint32Array,
  lens: Int32Array,
  data: Uint8Array,
  size: number,
  chunk: number,
  cb: unknown,
  arg: unknown,
) => number;

const BUSY = BPF_RINGBUF.BUSY_BIT >>> 0;
const DISCARD = BPF_RINGBUF.DISCARD_BIT >>> 0;
const LEN_MASK = ~(BPF_RINGBUF.BUSY_BIT | BPF_RINGBUF.DISCARD_BIT) >>> 0;
const HDR = BPF_RINGBUF.HDR_SZ;

/** Compiles `spec` into a loop of its own (call once per ring buffer and kind; cache the result). */
export function compileLoop(spec: LoopSpec): ConsumeLoop {
  // a source of its own each time: V8 caches `new Function` by source, and a cached compile would share
  // the call-site feedback this is meant to separate
  return new Function(loopSource(spec, ++compiled))() as ConsumeLoop;
}
let compiled = 0;

/** The source {@link compileLoop} compiles. */
function loopSource(spec: LoopSpec, id = 0): string {
  return `"use strict";
return function consume_${spec.key.replace(/[^A-Za-z0-9_]/g, "_")}_${id}(cons, prod, lens, data, size, chunk, cb, arg) {
  ${spec.setup}
  let count = 0;
  let base = Atomics.load(cons, 0) + Atomics.load(cons, 1) * 4294967296;
  for (;;) {
    const avail = Math.min(Atomics.load(prod, 0) + Atomics.load(prod, 1) * 4294967296 - base, size);
    if (avail <= 0) return count;
    const start = (base % size) | 0;
    const end = start + avail;
    let p = start;
    let publish = start + chunk;
    let stop = false;
    try {
      while (p < end) {
        const len = lens[p >>> 2];
        if (len & ${BUSY}) { stop = true; break; }
        const at = p + ${HDR};
        const n = len & ${LEN_MASK};
        p += (n + 15) & ~7;
        if ((len & ${DISCARD}) === 0) {
          count++;
          ${spec.perRecord}
        }
        if (p >= publish) {
          const q = base + (p - start);
          Atomics.store(cons, 0, q >>> 0);
          Atomics.store(cons, 1, Math.floor(q / 4294967296));
          publish = p + chunk;
        }
      }
    } finally {
      const q = base + (p - start);
      Atomics.store(cons, 0, q >>> 0);
      Atomics.store(cons, 1, Math.floor(q / 4294967296));
    }
    if (stop) return count;
    base += p - start;
  }
};`;
}

/** `cb(data, at, n)` per record (RingBuffer.consumeRaw). */
export const RAW_LOOP: LoopSpec = {
  key: "raw",
  setup: "",
  perRecord: "if (cb(data, at, n) === false) { stop = true; break; }",
};

/** `cb(view)` with one reused view moved to each record (RingBuffer.consumeView; `arg` is the view). */
export const VIEW_LOOP: LoopSpec = {
  key: "view",
  setup: "const view = arg;",
  perRecord: "view.offset = at; if (cb(view) === false) { stop = true; break; }",
};

/** `cb(bytes)` with a new zero-copy Uint8Array per record (RingBuffer.consume). */
export const BYTES_LOOP: LoopSpec = {
  key: "bytes",
  setup: "const buf = data.buffer; const off = data.byteOffset;",
  perRecord: "if (cb(new Uint8Array(buf, off + at, n)) === false) { stop = true; break; }",
};

/**
 * What a cursor does at each committed record it moves to. `setup` runs once, when the cursor is compiled
 * (locals from `arg`, constant for the cursor's life); `onReset` each time it restarts at the consumer
 * position; `perRecord` at each record, with `at` (where its bytes start in `data`) and `n` (its length)
 * in scope. The walker's own names (`cons`, `prod`, `lens`, `size`, `chunk`, `base`, `start`, `pos`, `end`,
 * `avail`, `busy`, `stopped`, `rebase`, `release`, `refill`, `slow`, `p`, `len`, `q`, `read`) are taken.
 */
export interface CursorSpec {
  readonly key: string;
  readonly setup: string;
  readonly onReset: string;
  readonly perRecord: string;
}

/** A compiled reading position (see {@link compileCursor}). */
export interface RingWalker {
  /** Moves to the next committed record (and runs `perRecord`); false when there is none. */
  readonly next: () => boolean;
  /** Restarts at the consumer position. */
  readonly reset: () => void;
  /** Publishes the consumer position past the current record. */
  readonly release: () => void;
  /** True when the last `next()` stopped at a reserved, uncommitted record. */
  readonly busy: () => boolean;
  /**
   * Ends the walker for good (the ring buffer is closing): every later `next()`, `reset()` or `release()`
   * throws an Error with `message` instead of touching the unmapped pages. Costs `next()` nothing: the
   * positions are set so that the hot path falls through to the slow one, which checks.
   */
  readonly stop: (message: string) => void;
}

/**
 * The ring buffer's cursor (RingBuffer.cursor, the skeleton's typed cursor), compiled once per cursor: its
 * positions are variables of the closure, not fields of an object. A `next()` whose state lives in object
 * fields loads and checks that object per record; in a /tmp experiment on one filled ring, the closure form
 * took a typed cursor that reads one u32 from 6.1 to 4.0 ns a record. Memory order and publishing as the
 * loop above, with the positions kept between calls: the producer position is read when the chunk is used
 * up, the consumer position stored (plain 32-bit stores, low word first: a torn read by the kernel sees an
 * older, smaller position) at every chunk end, at a BUSY record and by `release()`.
 */
export function compileCursor(
  spec: CursorSpec,
  cons: Uint32Array,
  prod: Uint32Array,
  lens: Int32Array,
  size: number,
  chunk: number,
  arg: unknown,
): RingWalker {
  const make = new Function(cursorSource(spec, ++compiled));
  return make()(cons, prod, lens, size, chunk, arg) as RingWalker;
}

/** The source {@link compileCursor} compiles. */
function cursorSource(spec: CursorSpec, id = 0): string {
  const name = `${spec.key.replace(/[^A-Za-z0-9_]/g, "_")}_${id}`;
  return `"use strict";
return function cursor_${name}(cons, prod, lens, size, chunk, arg) {
  ${spec.setup}
  // var, not let: a let of the closure is checked for its temporal dead zone at every read in next() (a
  // const of setup is not: V8 folds it into next() as a constant)
  var base = 0;
  var start = 0;
  var pos = 0;
  var end = 0;
  var avail = 0;
  var busy = false;
  var stopped = "";
  function rebase(q) {
    base = q;
    start = (q % size) | 0;
    pos = start;
    end = start;
    avail = start;
  }
  function release() {
    if (stopped !== "") throw new Error(stopped);
    const q = base + (pos - start);
    cons[0] = q >>> 0;
    cons[1] = Math.floor(q / 4294967296);
  }
  function refill() {
    release();
    if (pos >= avail) {
      const read = base + (pos - start);
      const q = Atomics.load(prod, 0) + Atomics.load(prod, 1) * 4294967296;
      if (q <= read) return false;
      rebase(read);
      avail = start + Math.min(q - read, size);
    }
    end = Math.min(avail, pos + chunk);
    return true;
  }
  function slow() {
    if (stopped !== "") throw new Error(stopped);
    for (;;) {
      if (pos >= end && !refill()) return false;
      const p = pos;
      const len = lens[p >>> 2];
      if (len & ${BUSY}) {
        busy = true;
        release();
        return false;
      }
      const n = len & ${LEN_MASK};
      pos = p + ((n + 15) & ~7);
      if (len & ${DISCARD}) continue;
      const at = p + ${HDR};
      ${spec.perRecord}
      return true;
    }
  }
  return {
    next: function next_${name}() {
      // the hot path: a committed record inside the current chunk (the header is read before the record's
      // bytes: x86-64 does not reorder loads with loads)
      const p = pos;
      if (p < end) {
        const len = lens[p >>> 2];
        if ((len & ${(BUSY | DISCARD) >>> 0}) === 0) {
          pos = p + ((len + 15) & ~7);
          const at = p + ${HDR};
          const n = len;
          ${spec.perRecord}
          return true;
        }
      }
      return slow();
    },
    reset() {
      if (stopped !== "") throw new Error(stopped);
      rebase(cons[0] + cons[1] * 4294967296);
      busy = false;
      ${spec.onReset}
    },
    release,
    busy: () => busy,
    stop(message) {
      stopped = message;
      rebase(0);
    },
  };
};`;
}

/** RingBuffer.cursor: the record's place stored on the cursor object (`arg`). */
export const RAW_CURSOR: CursorSpec = {
  key: "raw_cursor",
  setup: "const c = arg;",
  onReset: "",
  perRecord: "c.offset = at; c.length = n;",
};
