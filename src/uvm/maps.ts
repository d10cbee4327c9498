import { NotSupportedError } from "../errors.ts";
import type { MapSpec } from "../object/types.ts";
import { MAP_TYPE, mapTypeName } from "../object/uapi.ts";
import { type Memory, PERM_READ, PERM_RW, type Region } from "./memory.ts";

/** Map "pointers" (lddw of a map) live outside the heap: dereferencing one is a wild access. */
export const MAP_HANDLE_BASE = 0x50000000;
const E2BIG = 7;
const ENOENT = 2;
const EEXIST = 17;
const EINVAL = 22;
const BPF_NOEXIST = 1;
const BPF_EXIST = 2;

const round8 = (n: number) => (n + 7) & ~7;

/** A map in the runtime's memory. Keys and values are bytes; values live in the heap (lookup returns them). */
export abstract class UvmMap {
  readonly handle: number;
  constructor(
    readonly spec: MapSpec,
    readonly index: number,
  ) {
    this.handle = MAP_HANDLE_BASE + index * 16;
  }
  get name(): string {
    return this.spec.name;
  }
  /** The value's address in runtime memory, or 0. */
  abstract lookupAddr(key: Uint8Array): number;
  /** 0 or a negative errno (what the helper returns). */
  abstract update(key: Uint8Array, value: Uint8Array, flags: number): number;
  abstract delete(key: Uint8Array): number;
  /** A view of the value (shared with the program), or undefined. */
  abstract lookup(key: Uint8Array): Uint8Array | undefined;
  abstract keys(): Uint8Array[];
}

function u32(key: Uint8Array): number {
  return new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
}

/**
 * The maps a program cannot read or write by key (ring buffer, perf event array, prog array): no value
 * address, no lookup, update -EINVAL, no keys to list.
 */
abstract class KeylessMap extends UvmMap {
  lookupAddr(): number {
    return 0;
  }
  lookup(): undefined {
    return undefined;
  }
  update(): number {
    return -EINVAL;
  }
  delete(_key: Uint8Array): number {
    return -EINVAL;
  }
  keys(): Uint8Array[] {
    return [];
  }
}

/** ARRAY, PERCPU_ARRAY (one CPU) and the global data sections. */
export class ArrayMap extends UvmMap {
  readonly region: Region;
  readonly stride: number;
  constructor(
    spec: MapSpec,
    index: number,
    mem: Memory,
    readonly readonlyProg = false,
    initial?: Uint8Array,
  ) {
    super(spec, index);
    this.stride = round8(spec.valueSize);
    this.region = mem.alloc(
      `map '${spec.name}'`,
      this.stride * spec.maxEntries,
      readonlyProg ? PERM_READ : PERM_RW,
    );
    if (initial) this.region.bytes.set(initial.subarray(0, spec.valueSize));
  }
  /** The whole value area (for global data: the section's bytes, readable and writable from TS). */
  get bytes(): Uint8Array {
    return this.region.bytes;
  }
  lookupAddr(key: Uint8Array): number {
    const i = u32(key);
    return i < this.spec.maxEntries ? this.region.addr + i * this.stride : 0;
  }
  lookup(key: Uint8Array): Uint8Array | undefined {
    const i = u32(key);
    if (i >= this.spec.maxEntries) return undefined;
    return this.region.bytes.subarray(i * this.stride, i * this.stride + this.spec.valueSize);
  }
  update(key: Uint8Array, value: Uint8Array, flags: number): number {
    const i = u32(key);
    if (i >= this.spec.maxEntries) return -E2BIG;
    if (flags === BPF_NOEXIST) return -EEXIST;
    this.region.bytes.set(value.subarray(0, this.spec.valueSize), i * this.stride);
    return 0;
  }
  delete(): number {
    return -EINVAL;
  }
  keys(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < this.spec.maxEntries; i++) {
      const k = new Uint8Array(4);
      new DataView(k.buffer).setUint32(0, i, true);
      out.push(k);
    }
    return out;
  }
}

/** HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH: preallocated value slots, like the kernel's default. */
export class HashMap extends UvmMap {
  readonly region: Region;
  readonly stride: number;
  private readonly slots = new Map<string, { key: Uint8Array; slot: number }>();
  private readonly free: number[] = [];
  private readonly lru: boolean;
  constructor(spec: MapSpec, index: number, mem: Memory) {
    super(spec, index);
    this.stride = round8(spec.valueSize);
    this.region = mem.alloc(`map '${spec.name}'`, this.stride * spec.maxEntries, PERM_RW);
    for (let i = spec.maxEntries - 1; i >= 0; i--) this.free.push(i);
    this.lru = spec.type.id === MAP_TYPE.LRU_HASH || spec.type.id === MAP_TYPE.LRU_PERCPU_HASH;
  }
  private k(key: Uint8Array): string {
    let s = "";
    for (let i = 0; i < this.spec.keySize; i++) s += String.fromCharCode(key[i]!);
    return s;
  }
  lookupAddr(key: Uint8Array): number {
    const e = this.slots.get(this.k(key));
    return e ? this.region.addr + e.slot * this.stride : 0;
  }
  lookup(key: Uint8Array): Uint8Array | undefined {
    const e = this.slots.get(this.k(key));
    return e
      ? this.region.bytes.subarray(e.slot * this.stride, e.slot * this.stride + this.spec.valueSize)
      : undefined;
  }
  update(key: Uint8Array, value: Uint8Array, flags: number): number {
    const k = this.k(key);
    let e = this.slots.get(k);
    if (e && flags === BPF_NOEXIST) return -EEXIST;
    if (!e && flags === BPF_EXIST) return -ENOENT;
    if (!e) {
      let slot = this.free.pop();
      if (slot === undefined) {
        if (!this.lru) return -E2BIG;
        const [oldest, victim] = this.slots.entries().next().value as [string, { slot: number }];
        this.slots.delete(oldest);
        slot = victim.slot;
      }
      e = { key: key.slice(0, this.spec.keySize), slot };
      this.slots.set(k, e);
    }
    this.region.bytes.set(value.subarray(0, this.spec.valueSize), e.slot * this.stride);
    return 0;
  }
  delete(key: Uint8Array): number {
    const k = this.k(key);
    const e = this.slots.get(k);
    if (!e) return -ENOENT;
    this.slots.delete(k);
    this.free.push(e.slot);
    return 0;
  }
  keys(): Uint8Array[] {
    return [...this.slots.values()].map((e) => e.key);
  }
}

/**
 * BPF_MAP_TYPE_RINGBUF. Records are reserved in a data area of max_entries bytes; submitted ones are
 * handed to `consume(cb)` in order, the same shape as the kernel RingBuffer's consume (a view per record;
 * return false to stop).
 */
export class RingBufMap extends KeylessMap {
  readonly region: Region;
  private head = 0;
  private readonly records: { off: number; len: number; state: "busy" | "ready" | "discarded" }[] = [];
  constructor(
    spec: MapSpec,
    index: number,
    private readonly mem: Memory,
  ) {
    super(spec, index);
    this.region = mem.alloc(`ring buffer '${spec.name}'`, spec.maxEntries, 0);
  }
  /** Address of a reserved record, or 0 when it does not fit. */
  reserve(size: number): number {
    const need = round8(size);
    const used = this.records.reduce((n, r) => n + round8(r.len), 0);
    if (size === 0 || used + need > this.spec.maxEntries) return 0;
    if (this.head + need > this.spec.maxEntries) {
      if (this.records.length > 0) return 0; // a wrapped record must stay contiguous: wait for the consumer
      this.head = 0;
    }
    const off = this.head;
    this.head += need;
    this.records.push({ off, len: size, state: "busy" });
    this.region.bytes.fill(0, off, off + size);
    // the program may write exactly the reserved bytes
    this.setPerm(off, size, PERM_RW);
    return this.region.addr + off;
  }
  private setPerm(off: number, len: number, p: number): void {
    this.mem.perm.fill(p, this.region.off + off, this.region.off + off + len);
  }
  /** Submits (or discards) the record at `addr`; false when addr is not a reserved record. */
  commit(addr: number, discard: boolean): boolean {
    const off = addr - this.region.addr;
    const r = this.records.find((x) => x.off === off && x.state === "busy");
    if (!r) return false;
    r.state = discard ? "discarded" : "ready";
    this.setPerm(off, r.len, 0);
    return true;
  }
  output(data: Uint8Array): number {
    const a = this.reserve(data.byteLength);
    if (!a) return -11; // EAGAIN, as the kernel's ENOSPC path reports to bpf_ringbuf_output
    this.region.bytes.set(data, a - this.region.addr);
    this.commit(a, false);
    return 0;
  }
  /** Bytes produced and not consumed yet. */
  get available(): number {
    return this.records.reduce((n, r) => n + round8(r.len) + 8, 0);
  }
  consume(cb: (data: Uint8Array) => unknown): number {
    let n = 0;
    while (this.records.length > 0 && this.records[0]!.state !== "busy") {
      const r = this.records.shift()!;
      if (r.state === "ready") {
        n++;
        const stop = cb(this.region.bytes.slice(r.off, r.off + r.len)) === false;
        if (stop) break;
      }
    }
    if (this.records.length === 0) this.head = 0;
    return n;
  }
}

/** PERF_EVENT_ARRAY: bpf_perf_event_output appends a copy; `read()` drains them. */
export class PerfEventMap extends KeylessMap {
  readonly events: Uint8Array[] = [];
  read(): Uint8Array[] {
    return this.events.splice(0);
  }
}

/** PROG_ARRAY: slot → program name, for bpf_tail_call. */
export class ProgArrayMap extends KeylessMap {
  readonly slots = new Map<number, string>();
  override delete(key: Uint8Array): number {
    return this.slots.delete(u32(key)) ? 0 : -ENOENT;
  }
}

/** Heap bytes a map needs (sizing the runtime's memory before creating it). */
export function mapFootprint(spec: MapSpec): number {
  switch (spec.type.id) {
    case MAP_TYPE.ARRAY:
    case MAP_TYPE.PERCPU_ARRAY:
    case MAP_TYPE.HASH:
    case MAP_TYPE.PERCPU_HASH:
    case MAP_TYPE.LRU_HASH:
    case MAP_TYPE.LRU_PERCPU_HASH:
      return round8(spec.valueSize) * spec.maxEntries + 64;
    case MAP_TYPE.RINGBUF:
      return spec.maxEntries + 64;
    default:
      return 0;
  }
}

/** `initial`: a global data map's contents (its data section's bytes). */
export function createMap(spec: MapSpec, index: number, mem: Memory, initial?: Uint8Array): UvmMap {
  switch (spec.type.id) {
    case MAP_TYPE.ARRAY:
    case MAP_TYPE.PERCPU_ARRAY:
      return new ArrayMap(
        spec,
        index,
        mem,
        spec.dataSection !== undefined && (spec.flags & 0x80) !== 0,
        initial,
      );
    case MAP_TYPE.HASH:
    case MAP_TYPE.PERCPU_HASH:
    case MAP_TYPE.LRU_HASH:
    case MAP_TYPE.LRU_PERCPU_HASH:
      return new HashMap(spec, index, mem);
    case MAP_TYPE.RINGBUF:
      return new RingBufMap(spec, index, mem);
    case MAP_TYPE.PERF_EVENT_ARRAY:
      return new PerfEventMap(spec, index);
    case MAP_TYPE.PROG_ARRAY:
      return new ProgArrayMap(spec, index);
    default:
      throw new NotSupportedError(
        "the userspace runtime",
        undefined,
        `map '${spec.name}': ${mapTypeName(spec.type.id)} is not supported by the userspace runtime`,
        {
          hint: "supported: array, percpu array, hash, percpu/LRU hash, ring buffer, perf event array, prog array",
        },
      );
  }
}
