/** A created eBPF map: owns its fd; raw (Uint8Array) and typed (BTF-decoded) element access. */
import type { Btf } from "../btf/index.ts";
import { UsageError } from "../errors.ts";
import { MapElemOps, mapFreeze } from "../sys/bpf-map.ts";
import { type MapInfo, mapInfo } from "../sys/bpf-obj.ts";
import { BPF_MAP_TYPE, mapTypeName } from "../sys/constants.ts";
import { possibleCpus } from "../sys/cpus.ts";
import type { Fd } from "../sys/fd.ts";
import { type BtfValue, mapCodec, type ValueCodec } from "./btf-codec.ts";
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

  *entriesRaw(): Generator<[Uint8Array, Uint8Array]> {
    for (const k of this.keysRaw()) {
      const v = this.lookupRaw(k);
      if (v) yield [k, v];
    }
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

  #encodeKey(key: MapKey): void {
    const ops = this.ops;
    const c = this.keyCodec;
    // Scalar keys overwrite every byte; structs may leave padding, which must be zero for hash maps.
    if (typeof key === "object") ops.key.fill(0);
    c.encode(key, ops.key, 0);
  }

  #decodeValue(buf: Uint8Array): BtfValue {
    if (!this.percpu) return this.valueCodec.decode(buf, 0);
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const out: BtfValue[] = [];
    for (let cpu = 0; cpu < possibleCpus(); cpu++) out.push(this.valueCodec.decode(buf, cpu * stride));
    return out;
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

  *entries(): Generator<[BtfValue, BtfValue]> {
    for (const [k, v] of this.entriesRaw()) yield [this.keyCodec.decode(k, 0), this.#decodeValue(v)];
  }

  /** Makes the map read-only for user space (BPF_MAP_FREEZE); programs may still write unless RDONLY_PROG. */
  freeze(): void {
    mapFreeze(this.fd);
  }

  info(): MapInfo {
    return mapInfo(this.fd);
  }
}
