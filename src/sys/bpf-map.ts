/** Map commands: MAP_CREATE, element ops (pre-encoded for hot paths), FREEZE. */

import { SyscallError } from "../errors.ts";
import { Attr, addressOf } from "./attr.ts";
import { BPF_CMD, bpf, bpfRaw } from "./bpf.ts";
import { addressNumber, bpfAt, offHeap } from "./bpf-fast.ts";
import { ERRNO, errnoName } from "./errno.ts";
import { Fd } from "./fd.ts";
import { MAP_BATCH_ATTR, MAP_CREATE_ATTR, MAP_ELEM_ATTR } from "./uapi.generated.ts";

/** Element attrs are whole `MAP_ELEM_ATTR`s; the update op rewrites `flags` in place. */
const ELEM_SIZE = MAP_ELEM_ATTR.size;
const ELEM_FLAGS = MAP_ELEM_ATTR.fields.flags.off;

export interface MapCreateAttr {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  name?: string;
  innerMapFd?: number;
  numaNode?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  btfVmlinuxValueTypeId?: number;
  mapExtra?: bigint | number;
}

/** BPF_MAP_CREATE → an owned fd. The attr is sized to the last field set (map_extra, else the BTF ids, else the name). */
export function mapCreate(a: MapCreateAttr): Fd {
  const last = a.mapExtra
    ? "map_extra"
    : a.btfFd || a.btfVmlinuxValueTypeId
      ? "btf_vmlinux_value_type_id"
      : "map_ifindex";
  const attr = Attr.upTo(MAP_CREATE_ATTR, last)
    .set("map_type", a.type)
    .set("key_size", a.keySize)
    .set("value_size", a.valueSize)
    .set("max_entries", a.maxEntries)
    .set("map_flags", a.flags ?? 0)
    .set("inner_map_fd", a.innerMapFd ?? 0)
    .set("numa_node", a.numaNode ?? 0);
  if (a.name) attr.str("map_name", a.name);
  if (last !== "map_ifindex") {
    attr
      .set("btf_fd", a.btfFd ?? 0)
      .set("btf_key_type_id", a.btfKeyTypeId ?? 0)
      .set("btf_value_type_id", a.btfValueTypeId ?? 0)
      .set("btf_vmlinux_value_type_id", a.btfVmlinuxValueTypeId ?? 0);
  }
  if (last === "map_extra") attr.set("map_extra", a.mapExtra ?? 0);
  return new Fd(bpf(BPF_CMD.MAP_CREATE, attr.bytes), `map '${a.name ?? ""}'`);
}

export function mapFreeze(fd: number): void {
  bpf(BPF_CMD.MAP_FREEZE, Attr.upTo(MAP_ELEM_ATTR, "map_fd").set("map_fd", fd).bytes);
}

/**
 * Pre-encoded element operations for one map: owns a key, a next-key and a value buffer whose addresses are
 * written once into four attrs. Callers fill `key`/`value` and call the op: no allocation, no BigInt per call.
 * Ops return false for ENOENT and throw SyscallError for anything else.
 */
export class MapElemOps {
  readonly key: Uint8Array;
  readonly nextKey: Uint8Array;
  readonly value: Uint8Array;
  readonly #lookup: Uint8Array;
  readonly #lookupAddr: number;
  readonly #update: Uint8Array;
  readonly #updateView: DataView;
  readonly #delete: Uint8Array;
  readonly #next: Uint8Array;
  readonly #first: Uint8Array;
  readonly #lookupDelete: Uint8Array;
  readonly #what: string;

  constructor(fd: number, keySize: number, valueSize: number, what: string) {
    // Queue/stack maps have key_size 0: one spare byte keeps the pointer non-null harmlessly.
    this.key = offHeap(Math.max(keySize, 1));
    this.nextKey = offHeap(Math.max(keySize, 1));
    this.value = offHeap(Math.max(valueSize, 1));
    this.#what = what;
    const mk = (key: Uint8Array | null, val: Uint8Array | null) => {
      const a = new Attr(MAP_ELEM_ATTR).set("map_fd", fd);
      a.set("key", keySize === 0 ? 0n : addressOf(key));
      a.set("value", addressOf(val));
      return a.bytes;
    };
    this.#lookup = mk(this.key, this.value);
    this.#lookupAddr = addressNumber(this.#lookup);
    this.#update = mk(this.key, this.value);
    this.#updateView = new DataView(this.#update.buffer);
    this.#delete = mk(this.key, null);
    this.#next = mk(this.key, this.nextKey);
    this.#first = mk(null, this.nextKey);
    this.#lookupDelete = mk(this.key, this.value);
  }

  #check(r: number, call: string): boolean {
    if (r >= 0) return true;
    if (r === -ERRNO.ENOENT) return false;
    throw new SyscallError(`${this.#what}: ${call}`, -r, errnoName(-r));
  }

  /** key → value; false when absent. */
  lookup(): boolean {
    return this.#check(bpfAt(BPF_CMD.MAP_LOOKUP_ELEM, this.#lookupAddr, ELEM_SIZE), "BPF_MAP_LOOKUP_ELEM");
  }

  /** Raw lookup result: 0 or -errno. For callers counting misses in a loop. */
  lookupRaw(): number {
    return bpfAt(BPF_CMD.MAP_LOOKUP_ELEM, this.#lookupAddr, ELEM_SIZE);
  }

  update(flags = 0): void {
    this.#updateView.setUint32(ELEM_FLAGS, flags, true);
    const r = bpfRaw(BPF_CMD.MAP_UPDATE_ELEM, this.#update);
    if (r < 0) throw new SyscallError(`${this.#what}: BPF_MAP_UPDATE_ELEM`, -r, errnoName(-r));
  }

  delete(): boolean {
    return this.#check(bpfRaw(BPF_CMD.MAP_DELETE_ELEM, this.#delete), "BPF_MAP_DELETE_ELEM");
  }

  /** Writes the key after `key` (or the first key when `first`) into `nextKey`; false at the end. */
  next(first: boolean): boolean {
    return this.#check(
      bpfRaw(BPF_CMD.MAP_GET_NEXT_KEY, first ? this.#first : this.#next),
      "BPF_MAP_GET_NEXT_KEY",
    );
  }

  /** Pop for queue/stack maps (key unused). */
  lookupAndDelete(): boolean {
    return this.#check(
      bpfRaw(BPF_CMD.MAP_LOOKUP_AND_DELETE_ELEM, this.#lookupDelete),
      "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
    );
  }
}

/** One-shot update with caller buffers (setup paths, not hot loops). */
export function mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags = 0): void {
  const a = new Attr(MAP_ELEM_ATTR).set("map_fd", fd).ptr("key", key).ptr("value", value).set("flags", flags);
  bpf(BPF_CMD.MAP_UPDATE_ELEM, a.bytes);
}

/** One-shot BPF_MAP_DELETE_ELEM; returns 0 or -errno (callers tearing down ignore a map already gone). */
export function mapDeleteRaw(fd: number, key: Uint8Array): number {
  // off-heap copy: the kernel reads the key through its address
  const k = new Uint8Array(new ArrayBuffer(Math.max(key.byteLength, 8)));
  k.set(key);
  return bpfRaw(BPF_CMD.MAP_DELETE_ELEM, new Attr(MAP_ELEM_ATTR).set("map_fd", fd).ptr("key", k).bytes);
}

/** One-shot lookup into `value`; false when absent. */
export function mapLookup(fd: number, key: Uint8Array, value: Uint8Array): boolean {
  const a = new Attr(MAP_ELEM_ATTR).set("map_fd", fd).ptr("key", key).ptr("value", value);
  const r = bpfRaw(BPF_CMD.MAP_LOOKUP_ELEM, a.bytes);
  if (r === -ERRNO.ENOENT) return false;
  if (r < 0) throw new SyscallError("BPF_MAP_LOOKUP_ELEM", -r, errnoName(-r));
  return true;
}

/** The `batch` member of union bpf_attr, written in place on every call (offsets read once from the layout). */
const BATCH_ATTR = MAP_BATCH_ATTR.size;
const B = MAP_BATCH_ATTR.fields;

/** Why a map cannot use BPF_MAP_*_BATCH, from the errno of the first batch call; undefined if it can. */
export function batchUnsupported(errno: number): string | undefined {
  if (errno === ERRNO.EINVAL)
    return "the kernel refused BPF_MAP_*_BATCH with EINVAL (kernels before 5.6 do not have it)";
  if (errno === ERRNO.ENOTSUPP || errno === ERRNO.EOPNOTSUPP)
    return `this map type has no batch operations (${errnoName(errno)})`;
  return undefined;
}

/**
 * Batch element operations for one map (BPF_MAP_LOOKUP_BATCH / UPDATE_BATCH / DELETE_BATCH): owns off-heap
 * key and value arrays for `capacity` elements and the batch cursor, so a whole map is read in a few calls.
 * `valueSize` is the user-space value size (per-CPU maps: all CPUs' values).
 */
export class MapBatchOps {
  readonly keySize: number;
  readonly valueSize: number;
  #capacity = 0;
  keys: Uint8Array = offHeap(1);
  values: Uint8Array = offHeap(1);
  readonly #fd: number;
  readonly #what: string;
  /** Opaque cursor: the kernel writes out_batch, the next call passes it as in_batch. */
  readonly #inBatch: Uint8Array;
  readonly #outBatch: Uint8Array;
  readonly #attr = offHeap(BATCH_ATTR);
  readonly #attrAddr = addressNumber(this.#attr);
  readonly #view = new DataView(this.#attr.buffer);
  #started = false;
  #ended = false;

  constructor(fd: number, keySize: number, valueSize: number, what: string, capacity = 1024) {
    this.#fd = fd;
    this.keySize = keySize;
    this.valueSize = valueSize;
    this.#what = what;
    // hash maps keep a u32 bucket index in the cursor, arrays a key
    this.#inBatch = offHeap(Math.max(keySize, 8));
    this.#outBatch = offHeap(Math.max(keySize, 8));
    this.#resize(capacity);
  }

  get capacity(): number {
    return this.#capacity;
  }

  #resize(capacity: number): void {
    this.#capacity = capacity;
    this.keys = offHeap(Math.max(capacity * this.keySize, 1));
    this.values = offHeap(Math.max(capacity * this.valueSize, 1));
  }

  #encode(inBatch: boolean, count: number, elemFlags: number): void {
    const v = this.#view;
    v.setBigUint64(B.in_batch.off, inBatch ? BigInt(addressNumber(this.#inBatch)) : 0n, true);
    v.setBigUint64(B.out_batch.off, BigInt(addressNumber(this.#outBatch)), true);
    v.setBigUint64(B.keys.off, BigInt(addressNumber(this.keys)), true);
    v.setBigUint64(B.values.off, BigInt(addressNumber(this.values)), true);
    v.setUint32(B.count.off, count, true);
    v.setUint32(B.map_fd.off, this.#fd, true);
    v.setBigUint64(B.elem_flags.off, BigInt(elemFlags), true);
    v.setBigUint64(B.flags.off, 0n, true);
  }

  /** Starts a new pass over the map (the next {@link lookupNext} reads from the beginning). */
  rewind(): void {
    this.#started = false;
    this.#ended = false;
  }

  /**
   * Reads the next batch of elements into `keys`/`values`; returns how many (0 when the pass is over).
   * A bucket larger than the arrays (ENOSPC) grows them and retries. Returns -errno for a first call the
   * kernel refuses with EINVAL/ENOTSUPP/EOPNOTSUPP (see {@link batchUnsupported}); throws otherwise.
   */
  lookupNext(): number {
    if (this.#ended) return 0;
    for (;;) {
      this.#encode(this.#started, this.#capacity, 0);
      const r = bpfAt(BPF_CMD.MAP_LOOKUP_BATCH, this.#attrAddr, BATCH_ATTR);
      const n = this.#view.getUint32(B.count.off, true);
      if (r === -ERRNO.ENOSPC && n === 0 && this.#capacity < 1 << 20) {
        this.#resize(this.#capacity * 4);
        continue;
      }
      if (r < 0 && r !== -ERRNO.ENOENT) {
        if (!this.#started && batchUnsupported(-r)) return r;
        throw new SyscallError(`${this.#what}: BPF_MAP_LOOKUP_BATCH`, -r, errnoName(-r));
      }
      // ENOENT: the end of the map; `count` still says how many elements this last call returned
      if (r === -ERRNO.ENOENT) this.#ended = true;
      this.#started = true;
      this.#inBatch.set(this.#outBatch);
      return n;
    }
  }

  /** Writes `count` elements from `keys`/`values` (BPF_MAP_UPDATE_BATCH); returns how many the kernel took. */
  update(count: number, elemFlags = 0): number {
    this.#ensure(count);
    this.#encode(false, count, elemFlags);
    const r = bpfAt(BPF_CMD.MAP_UPDATE_BATCH, this.#attrAddr, BATCH_ATTR);
    if (r < 0) return this.#fail("BPF_MAP_UPDATE_BATCH", r);
    return this.#view.getUint32(B.count.off, true);
  }

  /** Deletes the `count` keys in `keys` (BPF_MAP_DELETE_BATCH); returns how many were deleted. */
  delete(count: number): number {
    this.#ensure(count);
    this.#encode(false, count, 0);
    const r = bpfAt(BPF_CMD.MAP_DELETE_BATCH, this.#attrAddr, BATCH_ATTR);
    if (r < 0) return this.#fail("BPF_MAP_DELETE_BATCH", r);
    return this.#view.getUint32(B.count.off, true);
  }

  /** Makes room for `count` elements (contents are not kept). */
  ensure(count: number): void {
    this.#ensure(count);
  }

  #ensure(count: number): void {
    if (count > this.#capacity) this.#resize(count);
  }

  #fail(call: string, r: number): never {
    const done = this.#view.getUint32(B.count.off, true);
    const why = -r === ERRNO.EINVAL ? undefined : batchUnsupported(-r);
    throw new SyscallError(
      `${this.#what}: ${call}${why ? ` (${why})` : ""} after ${done} element(s)`,
      -r,
      errnoName(-r),
    );
  }
}
