/**
 * The runtime's address space: one flat heap with a permission byte per heap byte. Regions (ctx, stack
 * frames, map values, packet, ring buffers) are carved out of it with unmapped guard bytes between them, so
 * an access is valid only when both its first and its last byte carry the permission: a load or store that
 * runs off one region faults even when another region lies beyond the guard.
 *
 * Addresses are `BASE + offset` and always below 2^31, so a valid pointer has hi = 0 and a non-negative lo.
 */
import { WA, type WasmMemory } from "./wasm-api.ts";

export const BASE = 0x100000;
export const PERM_READ = 1;
export const PERM_WRITE = 2;
export const PERM_RW = 3;
const GUARD = 16;
const HEAP_AT = BASE;
/** The largest heap (bounds the address arithmetic in the bounds check; see jit.ts). */
export const MAX_HEAP = 1 << 29;

export interface Region {
  readonly name: string;
  /** Address as the program sees it. */
  readonly addr: number;
  /** Offset into the heap. */
  readonly off: number;
  readonly size: number;
  /** A zero-copy view of the region's bytes. */
  readonly bytes: Uint8Array;
}

export class Memory {
  readonly heap: Uint8Array;
  readonly dv: DataView;
  /** One permission byte per heap byte, plus 8 zero bytes so `perm[o + n - 1]` never reads past the end. */
  readonly perm: Uint8Array;
  readonly regions: Region[] = [];
  private used = GUARD;

  /** The WebAssembly memory holding heap, permission bytes and the call scratch area (the Wasm JIT's). */
  readonly wasm: WasmMemory;
  /**
   * Offset in `wasm` of the heap: BASE, so that a program's address is its byte's offset in the Wasm memory
   * (the Wasm JIT's loads take the address's low half as their index; the megabyte below is never touched).
   */
  readonly heapAt = HEAP_AT;
  /** Offset of the permission bytes in `wasm` (heap offset o's permission is at permBase + o). */
  readonly permBase: number;
  /**
   * Offset of the 128-byte scratch area: compiled code passes r1..r5 / r0 to helpers in its first 80 bytes;
   * the Wasm JIT keeps the budget left at +96 (wasm.ts, BUDGET_AT).
   */
  readonly scratch: number;

  constructor(capacity: number) {
    if (capacity > MAX_HEAP) throw new RangeError(`uvm: heap of ${capacity} bytes exceeds ${MAX_HEAP}`);
    this.capacity = (capacity + 7) & ~7;
    this.permBase = HEAP_AT + this.capacity;
    this.scratch = this.permBase + this.capacity + 16;
    this.wasm = new WA.Memory({ initial: Math.ceil((this.scratch + 128) / 65536) });
    this.heap = new Uint8Array(this.wasm.buffer, HEAP_AT, this.capacity);
    this.dv = new DataView(this.wasm.buffer, HEAP_AT, this.capacity);
    this.perm = new Uint8Array(this.wasm.buffer, this.permBase, this.capacity + 8);
  }
  readonly capacity: number;

  /** Bytes a region of `size` needs in the heap (alignment and guard included): for sizing a Memory. */
  static footprint(size: number): number {
    return ((size + 7) & ~7) + GUARD;
  }

  alloc(name: string, size: number, perm: number = PERM_RW): Region {
    const off = this.used;
    const need = Memory.footprint(size);
    if (off + need > this.capacity)
      throw new RangeError(`uvm: out of runtime memory allocating ${size} bytes for ${name}`);
    this.used = off + need;
    this.perm.fill(perm, off, off + size);
    const r: Region = { name, addr: BASE + off, off, size, bytes: this.heap.subarray(off, off + size) };
    this.regions.push(r);
    return r;
  }

  /** The region holding `addr`, for error messages and helpers that take a pointer. */
  regionAt(addr: number): Region | undefined {
    for (const r of this.regions) if (addr >= r.addr && addr < r.addr + r.size) return r;
    return undefined;
  }

  /** Heap offset of [addr, addr+len) when every byte of it has `perm`, else -1. */
  check(lo: number, hi: number, len: number, perm: number): number {
    if (hi !== 0) return -1;
    const o = (lo - BASE) | 0;
    if (len === 0) return o >>> 0 <= this.capacity ? o : -1;
    if (o < 0 || o + len > this.capacity) return -1;
    for (let i = o; i < o + len; i++) if ((this.perm[i]! & perm) === 0) return -1;
    return o;
  }
}
