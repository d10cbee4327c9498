/** A created eBPF map: owns its fd; raw (Uint8Array) and typed (BTF-decoded) element access. */

import { type BtfValue, mapCodec, type ValueCodec } from "../btf/codec.ts";
import type { Btf } from "../btf/index.ts";
import { UsageError } from "../errors.ts";
import { batchUnsupported, MapBatchOps, MapElemOps, mapFreeze } from "../sys/bpf-map.ts";
import { type MapInfo, mapInfo } from "../sys/bpf-obj.ts";
import { BPF_MAP_TYPE, mapTypeName } from "../sys/constants.ts";
import { possibleCpus } from "../sys/cpus.ts";
import type { Fd } from "../sys/fd.ts";
import { KernelObject } from "./kernel-object.ts";

export interface BpfMapProps {
  name: string;
  /** BPF_MAP_TYPE_* */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** BTF the key/value type ids refer to (the object's), if any. */
  btf?: Btf | undefined;
  keyTypeId?: number;
  valueTypeId?: number;
  /** Where it is pinned, if it is. */
  pinnedPath?: string | undefined;
}

const PERCPU = new Set<number>([
  BPF_MAP_TYPE.PERCPU_HASH,
  BPF_MAP_TYPE.PERCPU_ARRAY,
  BPF_MAP_TYPE.LRU_PERCPU_HASH,
  BPF_MAP_TYPE.PERCPU_CGROUP_STORAGE,
]);

export type MapKey = BtfValue;

function batchUnsupportedReason(errno: number): string {
  return batchUnsupported(errno) ?? `BPF_MAP_LOOKUP_BATCH failed with errno ${errno}`;
}

export class BpfMap extends KernelObject {
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly pinnedPath: string | undefined;
  readonly btf: Btf | undefined;
  readonly keyTypeId: number;
  readonly valueTypeId: number;
  /** Per-CPU maps hold one value per possible CPU, each padded to 8 bytes. */
  readonly percpu: boolean;
  #ops: MapElemOps | undefined;
  #batch: MapBatchOps | undefined;
  #batchFallback: string | undefined;
  #keyCodec: ValueCodec | undefined;
  #valueCodec: ValueCodec | undefined;

  /** Takes ownership of `fd`. */
  constructor(fd: Fd, props: BpfMapProps) {
    super(fd);
    this.name = props.name;
    this.type = props.type;
    this.keySize = props.keySize;
    this.valueSize = props.valueSize;
    this.maxEntries = props.maxEntries;
    this.flags = props.flags;
    this.pinnedPath = props.pinnedPath;
    this.btf = props.btf;
    this.keyTypeId = props.keyTypeId ?? 0;
    this.valueTypeId = props.valueTypeId ?? 0;
    this.percpu = PERCPU.has(props.type);
  }

  get typeName(): string {
    return mapTypeName(this.type);
  }

  /** Bytes of one value as user space sees it (per-CPU: rounded to 8 × possible CPUs). */
  get userValueSize(): number {
    return this.percpu ? Math.ceil(this.valueSize / 8) * 8 * possibleCpus() : this.valueSize;
  }

  /**
   * Pre-encoded element operations (hot paths): fill `ops.key`, call `ops.lookup()`, read `ops.value`.
   * Created on first use and reused for the map's lifetime.
   */
  get ops(): MapElemOps {
    this.#ops ??= new MapElemOps(this.fd, this.keySize, this.userValueSize, `map '${this.name}'`);
    return this.#ops;
  }

  /** Batch operations (BPF_MAP_*_BATCH) with their key/value arrays; created on first use. */
  get batchOps(): MapBatchOps {
    this.#batch ??= new MapBatchOps(this.fd, this.keySize, this.userValueSize, `map '${this.name}'`);
    return this.#batch;
  }

  /**
   * Why reading this map last fell back to one syscall per element (the kernel or the map type has no
   * BPF_MAP_LOOKUP_BATCH), or undefined when batches worked.
   */
  get batchFallback(): string | undefined {
    return this.#batchFallback;
  }

  // ---- raw bytes ---------------------------------------------------------------------------------

  #setKey(key: Uint8Array): void {
    if (key.byteLength !== this.keySize)
      throw new UsageError(`map '${this.name}': key is ${key.byteLength} bytes, expected ${this.keySize}`);
    this.ops.key.set(key);
  }

  /** A copy of the value for `key`, or undefined. */
  lookupRaw(key: Uint8Array): Uint8Array | undefined {
    this.#setKey(key);
    return this.ops.lookup() ? this.ops.value.slice(0, this.userValueSize) : undefined;
  }

  updateRaw(key: Uint8Array, value: Uint8Array, flags = 0): void {
    this.#setKey(key);
    if (value.byteLength !== this.userValueSize)
      throw new UsageError(
        `map '${this.name}': value is ${value.byteLength} bytes, expected ${this.userValueSize}`,
      );
    this.ops.value.set(value);
    this.ops.update(flags);
  }

  deleteRaw(key: Uint8Array): boolean {
    this.#setKey(key);
    return this.ops.delete();
  }

  /** Every key (copies). Safe against deletion while iterating only as far as the kernel allows. */
  *keysRaw(): Generator<Uint8Array> {
    const ops = this.ops;
    let first = true;
    while (ops.next(first)) {
      first = false;
      const k = ops.nextKey.slice(0, this.keySize);
      ops.key.set(k);
      yield k;
      ops.key.set(k);
    }
  }

  /** Every element (copies), read in batches (BPF_MAP_LOOKUP_BATCH) where the kernel has them. */
  *entriesRaw(): Generator<[Uint8Array, Uint8Array]> {
    const ks = this.keySize;
    const vs = this.userValueSize;
    const batched = this.#batches((keys, values, n) => {
      const out: Array<[Uint8Array, Uint8Array]> = [];
      for (let i = 0; i < n; i++)
        out.push([keys.slice(i * ks, (i + 1) * ks), values.slice(i * vs, (i + 1) * vs)]);
      return out;
    });
    if (batched) {
      yield* batched;
      return;
    }
    yield* this.entriesRawByElement();
  }

  /** Every element, one BPF_MAP_GET_NEXT_KEY + BPF_MAP_LOOKUP_ELEM per element (what batches replace). */
  *entriesRawByElement(): Generator<[Uint8Array, Uint8Array]> {
    for (const k of this.keysRaw()) {
      const v = this.lookupRaw(k);
      if (v) yield [k, v];
    }
  }

  /**
   * Reads the whole map with BPF_MAP_LOOKUP_BATCH: `cb(keys, values, count)` once per batch, element i at
   * `keys[i × keySize]` and `values[i × userValueSize]` (reused arrays, valid during the call). Returns the
   * number of elements, or a string saying why the kernel has no batch lookup for this map.
   */
  lookupBatchRaw(cb: (keys: Uint8Array, values: Uint8Array, count: number) => void): number | string {
    const b = this.batchOps;
    b.rewind();
    let total = 0;
    for (;;) {
      const n = b.lookupNext();
      if (n < 0) return batchUnsupportedReason(-n);
      if (n === 0) return total;
      total += n;
      cb(b.keys, b.values, n);
    }
  }

  /** Batches of `decode(keys, values, count)` results, or undefined (with #batchFallback set) without batches. */
  #batches<T>(decode: (keys: Uint8Array, values: Uint8Array, n: number) => T[]): Generator<T> | undefined {
    const b = this.batchOps;
    b.rewind();
    const first = b.lookupNext();
    if (first < 0) {
      this.#batchFallback = batchUnsupportedReason(-first);
      return undefined;
    }
    this.#batchFallback = undefined;
    return (function* () {
      let n = first;
      while (n > 0) {
        // decode before the next call overwrites the arrays
        yield* decode(b.keys, b.values, n);
        n = b.lookupNext();
      }
    })();
  }

  /**
   * Writes `count` elements from `keys` (count × keySize bytes) and `values` (count × userValueSize) in one
   * BPF_MAP_UPDATE_BATCH; returns how many the kernel wrote (it stops at the first failing element).
   */
  updateBatchRaw(keys: Uint8Array, values: Uint8Array, count: number, flags = 0): number {
    const b = this.batchOps;
    b.ensure(count);
    this.#checkBatch(keys, count * this.keySize, "keys");
    this.#checkBatch(values, count * this.userValueSize, "values");
    b.keys.set(keys.subarray(0, count * this.keySize));
    b.values.set(values.subarray(0, count * this.userValueSize));
    return b.update(count, flags);
  }

  /** Deletes `count` keys (count × keySize bytes) in one BPF_MAP_DELETE_BATCH; returns how many. */
  deleteBatchRaw(keys: Uint8Array, count: number): number {
    const b = this.batchOps;
    b.ensure(count);
    this.#checkBatch(keys, count * this.keySize, "keys");
    b.keys.set(keys.subarray(0, count * this.keySize));
    return b.delete(count);
  }

  #checkBatch(buf: Uint8Array, need: number, what: string): void {
    if (buf.byteLength < need)
      throw new UsageError(
        `map '${this.name}': ${what} are ${buf.byteLength} bytes, a batch of this size needs ${need}`,
      );
  }

  // ---- typed (BTF) -------------------------------------------------------------------------------

  get keyCodec(): ValueCodec {
    this.#keyCodec ??= mapCodec(this.btf, this.keyTypeId, this.keySize);
    return this.#keyCodec;
  }

  get valueCodec(): ValueCodec {
    this.#valueCodec ??= mapCodec(this.btf, this.valueTypeId, this.valueSize);
    return this.#valueCodec;
  }

  /** Set when keys are 4-byte integers (u32/s32/enum, or no BTF): a number key is written directly. */
  #u32Key: DataView | null | undefined;

  #u32KeyView(): DataView | null {
    if (this.#u32Key !== undefined) return this.#u32Key;
    let plain = this.keySize === 4;
    if (plain && this.btf && this.keyTypeId) {
      const t = this.btf.resolve(this.keyTypeId);
      plain = (t.kind === "INT" || t.kind === "ENUM") && this.btf.sizeof(this.keyTypeId) === 4;
    }
    const key = this.ops.key;
    this.#u32Key = plain ? new DataView(key.buffer, key.byteOffset, 4) : null;
    return this.#u32Key;
  }

  #encodeKey(key: MapKey): void {
    // the hot case (array indexes, u32 hash keys): what the int codec does, minus its dispatch
    if (typeof key === "number" && Number.isInteger(key)) {
      const v = this.#u32Key === undefined ? this.#u32KeyView() : this.#u32Key;
      if (v) {
        v.setUint32(0, key >>> 0, true);
        return;
      }
    }
    const ops = this.ops;
    const c = this.keyCodec;
    // Scalar keys overwrite every byte; structs may leave padding, which must be zero for hash maps.
    if (typeof key === "object") ops.key.fill(0);
    c.encode(key, ops.key, 0);
  }

  #decodeValue(buf: Uint8Array, at = 0): BtfValue {
    if (!this.percpu) return this.valueCodec.decode(buf, at);
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const out: BtfValue[] = [];
    for (let cpu = 0; cpu < possibleCpus(); cpu++) out.push(this.valueCodec.decode(buf, at + cpu * stride));
    return out;
  }

  /** Encodes a value (per-CPU: an array, or one value for every CPU) at `at`; `buf` must be zeroed there. */
  #encodeValue(value: BtfValue, buf: Uint8Array, at: number): void {
    if (!this.percpu) {
      this.valueCodec.encode(value, buf, at);
      return;
    }
    const stride = Math.ceil(this.valueSize / 8) * 8;
    for (let cpu = 0; cpu < possibleCpus(); cpu++) {
      const v = Array.isArray(value) ? value[cpu] : value;
      if (v !== undefined) this.valueCodec.encode(v, buf, at + cpu * stride);
    }
  }

  /** The decoded value for `key` (per-CPU maps: an array with one value per possible CPU), or undefined. */
  get(key: MapKey): BtfValue | undefined {
    this.#encodeKey(key);
    return this.ops.lookup() ? this.#decodeValue(this.ops.value) : undefined;
  }

  /** Sets `key` to `value` (per-CPU maps: an array, or one value written to every CPU). */
  set(key: MapKey, value: BtfValue, flags = 0): void {
    this.#encodeKey(key);
    const buf = this.ops.value;
    buf.fill(0);
    if (this.percpu) {
      const stride = Math.ceil(this.valueSize / 8) * 8;
      for (let cpu = 0; cpu < possibleCpus(); cpu++) {
        const v = Array.isArray(value) ? value[cpu] : value;
        if (v !== undefined) this.valueCodec.encode(v, buf, cpu * stride);
      }
    } else {
      this.valueCodec.encode(value, buf, 0);
    }
    this.ops.update(flags);
  }

  delete(key: MapKey): boolean {
    this.#encodeKey(key);
    return this.ops.delete();
  }

  *keys(): Generator<BtfValue> {
    for (const k of this.keysRaw()) yield this.keyCodec.decode(k, 0);
  }

  /**
   * Every element, decoded. Read in batches (BPF_MAP_LOOKUP_BATCH) and decoded straight from the batch
   * arrays; where the kernel has no batches, element by element ({@link batchFallback} says why).
   */
  *entries(): Generator<[BtfValue, BtfValue]> {
    const ks = this.keySize;
    const vs = this.userValueSize;
    const kc = this.keyCodec;
    const batched = this.#batches((keys, values, n) => {
      const out: Array<[BtfValue, BtfValue]> = [];
      for (let i = 0; i < n; i++) out.push([kc.decode(keys, i * ks), this.#decodeValue(values, i * vs)]);
      return out;
    });
    if (batched) {
      yield* batched;
      return;
    }
    for (const [k, v] of this.entriesRawByElement()) yield [kc.decode(k, 0), this.#decodeValue(v)];
  }

  /** The whole map decoded, as an array (see {@link entries}). */
  lookupBatch(): Array<[BtfValue, BtfValue]> {
    return [...this.entries()];
  }

  /** Writes many elements in one BPF_MAP_UPDATE_BATCH; returns how many were written. */
  updateBatch(entries: Iterable<readonly [MapKey, BtfValue]>, flags = 0): number {
    const list = [...entries];
    const ks = this.keySize;
    const vs = this.userValueSize;
    const keys = new Uint8Array(list.length * ks);
    const values = new Uint8Array(list.length * vs);
    for (const [i, [k, v]] of list.entries()) {
      this.keyCodec.encode(k, keys, i * ks);
      this.#encodeValue(v, values, i * vs);
    }
    return this.updateBatchRaw(keys, values, list.length, flags);
  }

  /** Deletes many keys with BPF_MAP_DELETE_BATCH; returns how many were deleted. */
  deleteBatch(keys: Iterable<MapKey>): number {
    const list = [...keys];
    const ks = this.keySize;
    const buf = new Uint8Array(list.length * ks);
    for (const [i, k] of list.entries()) this.keyCodec.encode(k, buf, i * ks);
    return this.deleteBatchRaw(buf, list.length);
  }

  /** Makes the map read-only for user space (BPF_MAP_FREEZE); programs may still write unless RDONLY_PROG. */
  freeze(): void {
    mapFreeze(this.fd);
  }

  info(): MapInfo {
    return mapInfo(this.fd);
  }
}
