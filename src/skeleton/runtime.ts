/**
 * What a generated skeleton (`kfunc gen skeleton`) runs on: `openSkeleton(descriptor, object)` parses the
 * object and returns typed views whose static types the generated file supplies as type arguments. The
 * values follow the typed codec (src/btf/value-codec.ts: 64-bit integers and pointers are bigint), which is
 * what the generated types were printed from, so they agree by construction.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Btf } from "../btf/index.ts";
import {
  pointRecordView,
  type RecordView,
  type RecordViewClass,
  type RecordViewData,
  type RecordViewState,
  recordViewClass,
  recordViewData,
  type TypedCodec,
  typedCodecFor,
  typedSizeCodec,
  type WordsReader,
} from "../btf/value-codec.ts";
import { isKfuncKitError, KfuncKitError, type KfuncKitErrorOptions, UsageError } from "../errors.ts";
import { attachAll } from "../kernel/attach/attach-all.ts";
import { type Collection, type LoadOptions, loadCollection } from "../kernel/collection.ts";
import { closeAll, type Link } from "../kernel/links.ts";
import type { BpfMap } from "../kernel/map.ts";
import {
  type PerfBuffer,
  PerfBuffer as PerfBufferClass,
  type PerfBufferOptions,
} from "../kernel/perf-buffer.ts";
import type { Program } from "../kernel/program.ts";
import { RingBuffer } from "../kernel/ringbuf.ts";
import type { CursorSpec, LoopSpec, RingWalker } from "../kernel/ringbuf-loop.ts";
import { namedVariables } from "../object/globals.ts";
import { parseObject } from "../object/index.ts";
import type { DataSectionKind, DataVariableSpec, ObjectSpec } from "../object/types.ts";
import { possibleCpus } from "../sys/cpus.ts";

/** What the generated file knows about its object; everything else is read from the object itself. */
export interface SkeletonDescriptor {
  /** The skeleton's name (`--name`, default the object's file name without `.bpf.o`). */
  name: string;
  /** SHA-256 (hex) of the object the skeleton was generated from; checked when the object is read from a path. */
  sha256: string;
  /** Record type ids (in the object's BTF) of ring/perf buffer maps, by map name. */
  records: Record<string, number>;
  /** Global variables the skeleton leaves out (the record-type anchors of KFUNC_KIT_RECORD). */
  hidden: string[];
}

export interface SkeletonMaps {
  [name: string]: unknown;
}

/** A loaded map typed by its key and value (per-CPU maps: `V` is the array of every CPU's value). */
export class SkeletonMap<K, V> {
  readonly map: BpfMap;
  readonly #ops: BpfMap["ops"];
  readonly #key: TypedCodec;
  readonly #value: TypedCodec;
  readonly #keyView: DataView;
  readonly #valueView: DataView;
  readonly #zeroKey: boolean;
  readonly #percpu: number;
  readonly #stride: number;

  constructor(map: BpfMap, btf: Btf | undefined) {
    this.map = map;
    this.#key = codecOf(btf, map.keyTypeId, map.keySize, `map '${map.name}' key`);
    this.#value = codecOf(btf, map.valueTypeId, map.valueSize, `map '${map.name}' value`);
    const ops = map.ops;
    this.#ops = ops;
    this.#keyView = new DataView(ops.key.buffer, ops.key.byteOffset, ops.key.byteLength);
    this.#valueView = new DataView(ops.value.buffer, ops.value.byteOffset, ops.value.byteLength);
    // struct keys may have padding the codec does not write: hash maps compare every byte
    this.#zeroKey = this.#key.shape.kind === "struct" || this.#key.shape.kind === "tuple";
    this.#percpu = map.percpu ? possibleCpus() : 0;
    this.#stride = Math.ceil(map.valueSize / 8) * 8;
  }

  get name(): string {
    return this.map.name;
  }

  #putKey(key: K): void {
    const ops = this.#ops;
    if (this.#zeroKey) ops.key.fill(0);
    this.#key.write(key, this.#keyView, ops.key, 0);
  }

  #readValue(buf: Uint8Array, view: DataView): V {
    if (!this.#percpu) return this.#value.read(view, buf, 0) as V;
    const out: unknown[] = new Array(this.#percpu);
    for (let cpu = 0; cpu < this.#percpu; cpu++) out[cpu] = this.#value.read(view, buf, cpu * this.#stride);
    return out as V;
  }

  /** The value for `key`, or undefined when there is none. */
  get(key: K): V | undefined {
    this.#putKey(key);
    const ops = this.#ops;
    return ops.lookup() ? this.#readValue(ops.value, this.#valueView) : undefined;
  }

  /** Sets `key` to `value` (per-CPU maps: one value per possible CPU). `flags`: BPF_ANY/NOEXIST/EXIST. */
  set(key: K, value: V, flags = 0): void {
    this.#putKey(key);
    const ops = this.#ops;
    ops.value.fill(0);
    if (this.#percpu) {
      if (!Array.isArray(value) || value.length !== this.#percpu)
        throw new UsageError(`per-CPU map '${this.name}': expected an array of ${this.#percpu} values`);
      for (let cpu = 0; cpu < this.#percpu; cpu++)
        this.#value.write(value[cpu], this.#valueView, ops.value, cpu * this.#stride);
    } else this.#value.write(value, this.#valueView, ops.value, 0);
    ops.update(flags);
  }

  /** Deletes `key`; false when it was not there. */
  delete(key: K): boolean {
    this.#putKey(key);
    return this.#ops.delete();
  }

  *keys(): Generator<K> {
    for (const k of this.map.keysRaw()) yield this.#key.decode(k, 0) as K;
  }

  *entries(): Generator<[K, V]> {
    for (const [k, v] of this.map.entriesRaw())
      yield [
        this.#key.decode(k, 0) as K,
        this.#readValue(v, new DataView(v.buffer, v.byteOffset, v.byteLength)),
      ];
  }

  [Symbol.iterator](): Generator<[K, V]> {
    return this.entries();
  }
}

function codecOf(btf: Btf | undefined, typeId: number, size: number, what: string): TypedCodec {
  if (btf && typeId) {
    const c = typedCodecFor(btf, typeId, what);
    if (c.size === size) return c;
  }
  return typedSizeCodec(size, what);
}

interface StreamOptions {
  signal?: AbortSignal;
  pollMs?: number;
}

/**
 * A cursor over a ring buffer's records read in place as `T`: `record` is one reused {@link RecordView} moved
 * from record to record by {@link next}, its getters reading the current record (no object per record, a
 * 64-bit field a bigint only when read). Valid until the next `next()`; `record.toObject()` keeps one.
 */
export class TypedRingCursor<T> {
  readonly record: RecordView<T>;
  /** Moves `record` to the next committed record; false when there is none (all read is then released). */
  readonly next: () => boolean;
  readonly #walker: RingWalker;
  readonly #placer: ViewPlacer;
  readonly #ring: RingBuffer;

  /** @internal made by {@link SkeletonRingBuffer.cursor} */
  constructor(ring: RingBuffer, View: RecordViewClass, size: number) {
    this.#ring = ring;
    this.#placer = new ViewPlacer(View, size);
    this.record = this.#placer.record as RecordView<T>;
    // compiled for this cursor, with its view and placer as constants: one `next` shared by every record
    // type of the process would store the offset into all their views from one site (a polymorphic store)
    this.#walker = ring.walker(TYPED_CURSOR, this.#placer);
    this.next = this.#walker.next;
  }

  /** @internal starts at the ring's consumer position */
  reset(): this {
    this.#placer.reset(this.#ring);
    this.#walker.reset();
    return this;
  }

  /** Releases everything read so far (after leaving a loop early). */
  release(): void {
    this.#walker.release();
  }

  /** True when the last `next()` stopped at a reserved, uncommitted record. */
  get busy(): boolean {
    return this.#walker.busy();
  }
}

/**
 * The typed cursor's step (`arg` is a {@link ViewPlacer}): the view moved to the record; a record shorter than
 * the struct goes through `place` (a zero-padded copy), and after one every record does until the view is
 * back on the ring.
 */
const TYPED_CURSOR: CursorSpec = {
  key: "typed_cursor",
  setup: "const view = arg.view; var min = arg.size;",
  onReset: "min = arg.size;",
  perRecord: 'view["#at"] = at; if (n < min) min = arg.place(at, n);',
};

/**
 * What {@link SkeletonRingBuffer.consumeView}'s loop and {@link TypedRingCursor} move: the view, pointed at the ring, or at a zero-padded
 * copy (behind a copy of its header) for a record shorter than the struct, so a getter never reads past it.
 */
class ViewPlacer {
  readonly view: RecordViewState;
  readonly record: unknown;
  readonly size: number;
  #ring: RecordViewData;
  #scratch: RecordViewData | undefined;

  constructor(View: RecordViewClass, size: number) {
    const v = new View(new Uint8Array(0));
    this.view = v;
    this.record = v;
    this.size = size;
    this.#ring = recordViewData(v["#data"], v["#dv"]);
  }

  /** Points the view at the ring's data area. */
  reset(ring: RingBuffer): void {
    this.point(ring.data);
  }

  /** Points the view at `data` (the ring's data area). */
  point(data: Uint8Array): void {
    if (data !== this.#ring["#data"]) this.#ring = recordViewData(data);
    pointRecordView(this.view, this.#ring);
  }

  /** Called for a record of `n` bytes at `at` when it may need the copy; returns the next threshold. */
  place(at: number, n: number): number {
    const s = this.view;
    if (n < this.size) {
      this.#scratch ??= recordViewData(new Uint8Array(8 + this.size + ((8 - (this.size % 8)) % 8)));
      const scratch = this.#scratch["#data"];
      scratch.fill(0);
      this.#scratch["#dv"].setUint32(0, n, true);
      scratch.set(this.#ring["#data"].subarray(at, at + n), 8);
      pointRecordView(s, this.#scratch);
      s["#at"] = 8;
      return Number.POSITIVE_INFINITY;
    }
    pointRecordView(s, this.#ring);
    return this.size;
  }
}

/** The skeleton's typed view consumer: the view moved per record (`arg` is a {@link ViewPlacer}). */
const TYPED_VIEW_LOOP: LoopSpec = {
  key: "typed_view",
  setup: "const view = arg.view; const record = arg.record; let min = arg.size;",
  perRecord:
    'view["#at"] = at; if (n < min) min = arg.place(at, n); if (cb(record) === false) { stop = true; break; }',
};

/**
 * The skeleton's decoded-copy consumer: `read(dv, data, at, q, qs)` per record (`arg.words`: the ring's data
 * as DataView and 64-bit words, made once per data area), a padded copy for short ones.
 */
const TYPED_COPY_LOOP: LoopSpec = {
  key: "typed_copy",
  setup:
    'const read = arg.read; const recSize = arg.size; const w = arg.words === undefined || arg.words["#data"] !== data ? (arg.words = arg.wordsOf(data)) : arg.words; const dv = w["#dv"]; const q = w["#q"]; const qs = w["#qs"];',
  perRecord:
    "if (cb(n < recSize ? arg.padded(data, at, n) : read(dv, data, at, q, qs)) === false) { stop = true; break; }",
};

/** A ring buffer whose records decode as `T`: copies (`consume`, `records`) or in place (`cursor`, `consumeView`). */
export class SkeletonRingBuffer<T> {
  readonly map: BpfMap;
  readonly #codec: TypedCodec | undefined;
  #ring: RingBuffer | undefined;
  #cursor: TypedRingCursor<T> | undefined;
  #viewPlacer: ViewPlacer | undefined;
  #copyArgs:
    | {
        read: WordsReader;
        size: number;
        words: RecordViewData | undefined;
        wordsOf: (data: Uint8Array) => RecordViewData;
        padded: (d: Uint8Array, at: number, n: number) => unknown;
      }
    | undefined;

  constructor(map: BpfMap, btf: Btf | undefined, recordTypeId: number | undefined) {
    this.map = map;
    this.#codec =
      btf && recordTypeId ? typedCodecFor(btf, recordTypeId, `ring buffer '${map.name}' record`) : undefined;
  }

  /** The underlying consumer (mapped on first use). */
  get ring(): RingBuffer {
    this.#ring ??= new RingBuffer(this.map);
    return this.#ring;
  }

  #decoder(): TypedCodec {
    return this.#codec ?? noRecordType(`ring buffer '${this.map.name}'`);
  }

  #viewClass(): RecordViewClass {
    return recordViewClass(this.#decoder(), `ring buffer '${this.map.name}' record`);
  }

  /** Decodes one record (the bytes `ring.consume` hands out). */
  decode(bytes: Uint8Array): T {
    return this.#decoder().decode(bytes, 0) as T;
  }

  /**
   * The fastest typed consumer: `for (const c = rb.cursor(); c.next(); ) use(c.record.pid)`. One reused
   * cursor per ring buffer, at the consumer position; see {@link TypedRingCursor}.
   */
  cursor(): TypedRingCursor<T> {
    this.#cursor ??= new TypedRingCursor<T>(this.ring, this.#viewClass(), this.#decoder().size);
    return this.#cursor.reset();
  }

  /**
   * Like {@link consume}, but `cb` always gets the same {@link RecordView}, moved to each record: no object
   * per record, fields read when their getter is called. Valid only during the call (`toObject()` keeps
   * one). Returns how many records `cb` got; stops when it returns false.
   */
  consumeView(cb: (record: RecordView<T>) => unknown): number {
    // one loop of the ring's own with the positions in locals (src/kernel/ringbuf-loop.ts); the view is
    // this consumer's own, apart from cursor()'s (cb may use that)
    this.#viewPlacer ??= new ViewPlacer(this.#viewClass(), this.#decoder().size);
    const ring = this.ring;
    this.#viewPlacer.reset(ring);
    return ring.consumeWith(TYPED_VIEW_LOOP, cb, this.#viewPlacer);
  }

  /**
   * Consumes every committed record without waiting, each decoded into a new value; returns how many.
   * Stops when `cb` returns false; positions and errors as `RingBuffer.consumeRaw`.
   */
  consume(cb: (record: T) => unknown): number {
    const c = this.#decoder();
    const size = c.size;
    const ring = this.ring;
    this.#copyArgs ??= {
      read: c.readWords ?? c.read,
      size,
      words: undefined,
      wordsOf: (data: Uint8Array) => recordViewData(data),
      // a record shorter than its type (a truncated output): decode a zero-padded copy
      padded: (d: Uint8Array, at: number, n: number) => {
        const padded = new Uint8Array(size);
        padded.set(d.subarray(at, at + n));
        return c.decode(padded, 0);
      },
    };
    return ring.consumeWith(TYPED_COPY_LOOP, cb, this.#copyArgs);
  }

  /** Waits up to `timeoutMs` for records, then consumes them (blocks the thread: keep it short). */
  poll(timeoutMs: number, cb: (record: T) => unknown): number {
    const c = this.#decoder();
    return this.ring.poll(timeoutMs, (b) => cb(c.decode(b, 0) as T));
  }

  /** Every record as it arrives, until `signal` aborts or the skeleton is closed. */
  async *records(options: StreamOptions = {}): AsyncGenerator<T> {
    const c = this.#decoder();
    let n = 0;
    for await (const r of this.ring.records(options)) {
      yield c.decode(r, 0) as T;
      if ((++n & 63) === 0) await turn();
      if (options.signal?.aborted) return;
    }
  }

  close(): void {
    this.#ring?.close();
  }
}

/**
 * One trip through the event loop. A stream that always has data would otherwise resolve only microtasks,
 * and timers (AbortSignal.timeout) and signal handlers would never run.
 */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A perf event array whose samples decode as `T`. */
export class SkeletonPerfBuffer<T> {
  readonly map: BpfMap;
  readonly #codec: TypedCodec | undefined;
  #buffer: PerfBuffer | undefined;
  readonly #options: PerfBufferOptions;

  constructor(
    map: BpfMap,
    btf: Btf | undefined,
    recordTypeId: number | undefined,
    options: PerfBufferOptions = {},
  ) {
    this.map = map;
    this.#options = options;
    this.#codec =
      btf && recordTypeId ? typedCodecFor(btf, recordTypeId, `perf buffer '${map.name}' record`) : undefined;
  }

  /** The underlying reader (perf events opened on first use). */
  get buffer(): PerfBuffer {
    this.#buffer ??= new PerfBufferClass(this.map, this.#options);
    return this.#buffer;
  }

  #decoder(): TypedCodec {
    return this.#codec ?? noRecordType(`perf buffer '${this.map.name}'`);
  }

  #decode(b: Uint8Array): T {
    const c = this.#decoder();
    if (b.byteLength >= c.size) return c.decode(b, 0) as T;
    const padded = new Uint8Array(c.size);
    padded.set(b);
    return c.decode(padded, 0) as T;
  }

  consume(cb: (record: T, cpu: number) => unknown): number {
    return this.buffer.consume((cpu, b) => cb(this.#decode(b), cpu));
  }

  poll(timeoutMs: number, cb: (record: T, cpu: number) => unknown): number {
    return this.buffer.poll(timeoutMs, (cpu, b) => cb(this.#decode(b), cpu));
  }

  async *records(options: StreamOptions = {}): AsyncGenerator<T> {
    let n = 0;
    for await (const s of this.buffer.samples(options)) {
      yield this.#decode(s.data);
      if ((++n & 63) === 0) await turn();
      if (options.signal?.aborted) return;
    }
  }

  close(): void {
    this.#buffer?.close();
  }
}

/** The links `attach()` made; closing them detaches every program. */
export class SkeletonLinks implements Disposable {
  readonly links: Link[];
  /** Programs attach() left alone (xdp, syscall…), with why. */
  readonly skipped: Array<{ name: string; section: string; reason: string }>;

  constructor(links: Link[], skipped: SkeletonLinks["skipped"]) {
    this.links = links;
    this.skipped = skipped;
  }

  close(): void {
    closeAll(this.links);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The typed global variables of one kind of section, as properties (getters and setters). */
type Globals = Record<string, unknown>;

function varCodec(spec: ObjectSpec, v: DataVariableSpec): TypedCodec {
  return codecOf(spec.btf, v.typeId, v.size, `global '${v.name}'`);
}

/** Before load: variables read from and written to the spec's section bytes (the initial values). */
function specGlobals(
  spec: ObjectSpec,
  kind: DataSectionKind,
  hidden: Set<string>,
  writable: boolean,
): Globals {
  const obj: Globals = {};
  for (const { ds, v } of namedVariables(spec, kind, hidden)) {
    const c = varCodec(spec, v);
    Object.defineProperty(obj, v.name, {
      enumerable: true,
      get: () => c.decode(ds.bytes, v.offset),
      set: writable
        ? (value: unknown) => {
            const buf = new Uint8Array(v.size);
            buf.set(ds.bytes.subarray(v.offset, v.offset + v.size));
            c.encode(value, buf, 0);
            ds.bytes.set(buf, v.offset);
          }
        : () => {
            throw new UsageError(`${spec.source}: '${v.name}' (${ds.name}) is set by the loader`, {
              hint: "kconfig values come from the running kernel's config at load",
            });
          },
    });
  }
  return obj;
}

/** After load: variables read from and written to the kernel's copy (mmapped when the kernel allows). */
function loadedGlobals(
  spec: ObjectSpec,
  coll: Collection,
  kind: DataSectionKind,
  hidden: Set<string>,
): Globals {
  const obj: Globals = {};
  for (const { v } of namedVariables(spec, kind, hidden)) {
    const variable = coll.variables.get(v.name);
    if (!variable) continue;
    const c = varCodec(spec, v);
    Object.defineProperty(obj, v.name, {
      enumerable: true,
      get: () => c.decode(variable.getRaw(), 0),
      set: (value: unknown) => {
        if (variable.readonly)
          throw new UsageError(`${spec.source}: '${v.name}' is read-only after load`, {
            hint: "set .rodata variables on the skeleton returned by open(), before load()",
          });
        const buf = variable.getRaw();
        c.encode(value, buf, 0);
        variable.setRaw(buf);
      },
    });
  }
  return obj;
}

/** A kfunc the running kernel does not have: load() throws this, naming it. */
export class KfuncMissingError extends KfuncKitError {
  override readonly name = "KfuncMissingError";
  readonly kfunc: string;
  constructor(kfunc: string, message: string, options: KfuncKitErrorOptions = {}) {
    super("KFUNC", message, options);
    this.kfunc = kfunc;
  }
}

export interface OpenSkeletonOptions {
  /** Used in messages (default: the skeleton's name). */
  source?: string;
}

/** The opened (parsed, not loaded) skeleton: set globals, then load(). */
export interface SkeletonSpec<R, D, B, K, L> {
  readonly spec: ObjectSpec;
  /** `.rodata` (`const volatile`) variables: set them before load, they are frozen after. */
  readonly rodata: R;
  readonly data: D;
  readonly bss: B;
  /** `.kconfig` externs: filled from the running kernel's config at load (read-only here). */
  readonly kconfig: Readonly<K>;
  /** Loads every map and program into the running kernel. */
  load(options?: Partial<LoadOptions>): Promise<L>;
}

/** The loaded skeleton: typed programs, maps and globals; `attach()`; closing it closes everything. */
export interface LoadedSkeleton<R, D, B, K, P, M> extends Disposable {
  readonly collection: Collection;
  readonly programs: P;
  readonly maps: M;
  readonly rodata: Readonly<R>;
  readonly data: D;
  readonly bss: B;
  readonly kconfig: Readonly<K>;
  /** Attaches every auto-attachable program (all or nothing); the links are also closed by close(). */
  attach(): SkeletonLinks;
  /** Detaches, then closes every map, program and ring buffer. Idempotent. */
  close(): void;
}

const RINGBUF = 27;
const PERF_EVENT_ARRAY = 4;

/** Reads an object file next to the skeleton (the `--path` variant) and checks it is the one it was made from. */
export function readSkeletonObject(url: URL, descriptor: SkeletonDescriptor): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(url));
  } catch (e) {
    throw new UsageError(`skeleton '${descriptor.name}': cannot read its object ${url.pathname}`, {
      cause: e,
      hint: "build the object first (kfunc build), or regenerate the skeleton with --embed",
    });
  }
  checkObject(bytes, descriptor, url.pathname);
  return bytes;
}

function checkObject(bytes: Uint8Array, d: SkeletonDescriptor, source: string): void {
  const sum = createHash("sha256").update(bytes).digest("hex");
  if (sum !== d.sha256)
    throw new UsageError(`skeleton '${d.name}': ${source} is not the object it was generated from`, {
      hint: `regenerate it: kfunc gen skeleton ${source} …`,
    });
}

/** Decodes the embedded object (base64). */
export function embeddedObject(base64: string): Uint8Array {
  return new Uint8Array(Buffer.from(base64, "base64"));
}

/**
 * Opens a skeleton: parses `object` and returns typed views. The generated file calls this with its
 * own types as the type arguments; use the generated `open()`.
 */
export function openSkeleton<R, D, B, K, P, M>(
  descriptor: SkeletonDescriptor,
  object: Uint8Array,
  options: OpenSkeletonOptions = {},
): SkeletonSpec<R, D, B, K, LoadedSkeleton<R, D, B, K, P, M>> {
  const source = options.source ?? `${descriptor.name}.bpf.o`;
  const spec = parseObject(object, source);
  const hidden = new Set(descriptor.hidden);
  return {
    spec,
    rodata: specGlobals(spec, "rodata", hidden, true) as R,
    data: specGlobals(spec, "data", hidden, true) as D,
    bss: specGlobals(spec, "bss", hidden, true) as B,
    kconfig: specGlobals(spec, "kconfig", hidden, false) as K,
    load: async (loadOptions = {}) => loadSkeleton<R, D, B, K, P, M>(descriptor, spec, hidden, loadOptions),
  };
}

async function loadSkeleton<R, D, B, K, P, M>(
  d: SkeletonDescriptor,
  spec: ObjectSpec,
  hidden: Set<string>,
  options: Partial<LoadOptions>,
): Promise<LoadedSkeleton<R, D, B, K, P, M>> {
  let coll: Collection;
  try {
    coll = await loadCollection(spec, options);
  } catch (e) {
    if (isKfuncKitError(e) && e.code === "KFUNC") {
      const missing = spec.externs.find((x) => x.kind === "kfunc" && e.message.includes(`'${x.name}'`));
      if (missing) throw new KfuncMissingError(missing.name, e.message, { cause: e, hint: e.hint ?? "" });
    }
    throw e;
  }
  const programs: Record<string, Program> = {};
  for (const [name, p] of coll.programs) programs[name] = p;
  const maps: Record<
    string,
    SkeletonMap<unknown, unknown> | SkeletonRingBuffer<unknown> | SkeletonPerfBuffer<unknown>
  > = {};
  const streams: Array<{ close(): void }> = [];
  for (const [name, m] of coll.maps) {
    if (spec.maps.find((s) => s.name === name)?.dataSection) continue;
    if (m.type === RINGBUF) {
      const rb = new SkeletonRingBuffer<unknown>(m, spec.btf, d.records[name]);
      streams.push(rb);
      maps[name] = rb;
    } else if (m.type === PERF_EVENT_ARRAY) {
      const pb = new SkeletonPerfBuffer<unknown>(m, spec.btf, d.records[name]);
      streams.push(pb);
      maps[name] = pb;
    } else maps[name] = new SkeletonMap<unknown, unknown>(m, spec.btf);
  }
  const links: SkeletonLinks[] = [];
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const l of links.reverse()) l.close();
    for (const s of streams) s.close();
    coll.close();
  };
  return {
    collection: coll,
    programs: programs as P,
    maps: maps as M,
    rodata: loadedGlobals(spec, coll, "rodata", hidden) as R,
    data: loadedGlobals(spec, coll, "data", hidden) as D,
    bss: loadedGlobals(spec, coll, "bss", hidden) as B,
    kconfig: loadedGlobals(spec, coll, "kconfig", hidden) as K,
    attach: () => {
      const r = attachAll(coll.programs);
      const l = new SkeletonLinks(r.links, r.skipped);
      links.push(l);
      return l;
    },
    close,
    [Symbol.dispose]: close,
  };
}

/** A typed call on a ring/perf buffer whose map the skeleton has no record type for. */
function noRecordType(what: string): never {
  throw new UsageError(`${what}: the skeleton has no record type for it`, {
    hint: "regenerate with --record MAP=STRUCT, or declare KFUNC_KIT_RECORD(map, struct …) (docs/skeleton.md)",
  });
}
