/**
 * A BPF_MAP_TYPE_PERF_EVENT_ARRAY reader (libbpf perf_buffer semantics): one
 * perf_event_open(PERF_COUNT_SW_BPF_OUTPUT) per online CPU, its fd stored in the map at the CPU's index,
 * a 1 + 2^n page ring per CPU mapped read-write, one epoll for all. Samples arrive as zero-copy views (a
 * sample that wraps the ring's end is copied into a scratch buffer); PERF_RECORD_LOST counts are summed.
 */
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.ts";
import { mapDeleteRaw, mapUpdate } from "../sys/bpf-map.ts";
import { Epoll } from "../sys/epoll.ts";
import type { Fd } from "../sys/fd.ts";
import { ioctl, PERF_EVENT_IOC } from "../sys/ioctl.ts";
import { type Mapping, mmapFd, PROT_READ, PROT_WRITE, pageSize } from "../sys/mmap.ts";
import {
  encodePerfEventAttr,
  PERF_COUNT_SW,
  PERF_RECORD,
  PERF_SAMPLE_RAW,
  PERF_TYPE,
  perfEventOpen,
} from "../sys/perf.ts";

const PERF_RECORD_LOST = PERF_RECORD.LOST;
const PERF_RECORD_SAMPLE = PERF_RECORD.SAMPLE;
const PERF_EVENT_ARRAY = 4;
const DATA_HEAD = 1024;
const DATA_TAIL = 1032;

export interface PerfBufferMap {
  readonly name: string;
  readonly fd: number;
  readonly maxEntries: number;
  readonly type?: number;
}

export interface PerfBufferOptions {
  /** Data pages per CPU (a power of 2; default 8). */
  pagesPerCpu?: number;
  /** Wake up after this many samples (default 1: every sample). */
  wakeupEvents?: number;
}

/** `data` is a zero-copy view valid only during the call. Return false to stop. */
export type SampleCallback = (cpu: number, data: Uint8Array) => unknown;

/** The sample is `data[offset .. offset + length)`, valid only during the call. Return false to stop. */
export type RawSampleCallback = (cpu: number, data: Uint8Array, offset: number, length: number) => unknown;

interface CpuRing {
  cpu: number;
  fd: Fd;
  map: Mapping;
  ctl: Uint32Array;
  data: Uint8Array;
  view: DataView;
}

/** Online CPU indices from /sys/devices/system/cpu/online ("0-3,6"). */
export function onlineCpuList(): number[] {
  const out: number[] = [];
  for (const part of readFileSync("/sys/devices/system/cpu/online", "utf8").trim().split(",")) {
    if (!part) continue;
    const [a, b] = part.split("-").map((x) => Number.parseInt(x, 10));
    for (let c = a!; c <= (b ?? a!); c++) out.push(c);
  }
  return out;
}

export class PerfBuffer implements Disposable {
  readonly map: PerfBufferMap;
  readonly #rings: CpuRing[] = [];
  readonly #epoll: Epoll;
  readonly #dataSize: number;
  #scratch = new Uint8Array(256);
  #scratchView = new DataView(this.#scratch.buffer);
  #lost = 0;
  #closed = false;

  constructor(map: PerfBufferMap, options: PerfBufferOptions = {}) {
    if (map.type !== undefined && map.type !== PERF_EVENT_ARRAY) {
      throw new UsageError(`map '${map.name}' is not a BPF_MAP_TYPE_PERF_EVENT_ARRAY (type ${map.type})`, {
        hint: "for BPF_MAP_TYPE_RINGBUF use RingBuffer",
      });
    }
    const pages = options.pagesPerCpu ?? 8;
    if (pages <= 0 || (pages & (pages - 1)) !== 0) {
      throw new UsageError(`perf buffer '${map.name}': pagesPerCpu ${pages} is not a power of 2`);
    }
    this.map = map;
    const page = pageSize();
    this.#dataSize = pages * page;
    this.#epoll = new Epoll(64);
    try {
      const attr = encodePerfEventAttr({
        type: PERF_TYPE.SOFTWARE,
        config: PERF_COUNT_SW.BPF_OUTPUT,
        sampleType: PERF_SAMPLE_RAW,
        samplePeriod: 1,
        wakeupEvents: options.wakeupEvents ?? 1,
      });
      for (const cpu of onlineCpuList()) {
        if (cpu >= map.maxEntries) {
          throw new UsageError(`perf buffer '${map.name}': max_entries ${map.maxEntries} < CPU ${cpu + 1}`, {
            hint: "leave max_entries unset (the loader sizes it to the CPU count)",
          });
        }
        const fd = perfEventOpen(attr, -1, cpu, `bpf output, CPU ${cpu}`);
        let m: Mapping;
        try {
          m = mmapFd(
            fd.value,
            page + this.#dataSize,
            PROT_READ | PROT_WRITE,
            0,
            `perf buffer '${map.name}' CPU ${cpu}`,
          );
        } catch (e) {
          fd.close();
          throw e;
        }
        const data = new Uint8Array(m.buffer, page, this.#dataSize);
        this.#rings.push({
          cpu,
          fd,
          map: m,
          ctl: new Uint32Array(m.buffer, 0, page / 4),
          data,
          view: new DataView(m.buffer, page, this.#dataSize),
        });
        const key = new Uint8Array(4);
        const value = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, cpu, true);
        new DataView(value.buffer).setUint32(0, fd.value, true);
        mapUpdate(map.fd, key, value);
        ioctl(fd.value, PERF_EVENT_IOC.ENABLE, 0);
        this.#epoll.add(fd.value, this.#rings.length - 1);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** PERF_RECORD_LOST totals seen so far (samples the kernel dropped because a ring was full). */
  get lost(): number {
    return this.#lost;
  }

  get cpus(): number[] {
    return this.#rings.map((r) => r.cpu);
  }

  #stop = false;

  /**
   * Reads one CPU's ring from tail to head: `cb(cpu, data, offset, length)` per sample (a sample that wraps
   * the ring's end is copied to a scratch buffer: then `data` is that buffer). Sets #stop when cb returns
   * false; the tail moves past what was read once the loop ends, or when cb throws (past that sample).
   */
  #readRing(r: CpuRing, cb: RawSampleCallback): number {
    const ctl = r.ctl;
    const head = Atomics.load(ctl, DATA_HEAD / 4) + Atomics.load(ctl, DATA_HEAD / 4 + 1) * 0x1_0000_0000;
    let tail = ctl[DATA_TAIL / 4]! + ctl[DATA_TAIL / 4 + 1]! * 0x1_0000_0000;
    const dataSize = this.#dataSize;
    const mask = dataSize - 1;
    const data = r.data;
    let count = 0;
    this.#stop = false;
    // like the ring buffer: the head is read once per batch, the tail written once after it, and the loop
    // keeps small integers (bytes left and the masked offset), not the 64-bit positions
    let left = Math.min(head - tail, dataSize) | 0;
    let off = (tail % dataSize) | 0;
    // the tail is written in `finally`: a callback that throws has consumed its sample (the error propagates)
    try {
      while (left > 0) {
        // header fields may straddle the end: read them bytewise through the mask
        const size = data[(off + 6) & mask]! | (data[(off + 7) & mask]! << 8);
        const type = data[off]! | (data[(off + 1) & mask]! << 8);
        if (size === 0) break;
        let rec = data;
        let v = r.view;
        let base = off;
        if (off + size > dataSize) {
          if (this.#scratch.byteLength < size) {
            this.#scratch = new Uint8Array(size * 2);
            this.#scratchView = new DataView(this.#scratch.buffer);
          }
          const first = dataSize - off;
          this.#scratch.set(data.subarray(off), 0);
          this.#scratch.set(data.subarray(0, size - first), first);
          rec = this.#scratch;
          v = this.#scratchView;
          base = 0;
        }
        left -= size;
        off = (off + size) & mask;
        tail += size;
        if (type === PERF_RECORD_SAMPLE) {
          count++;
          if (cb(r.cpu, rec, base + 12, v.getUint32(base + 8, true)) === false) {
            this.#stop = true;
            break;
          }
        } else if (type === PERF_RECORD_LOST) {
          this.#lost += v.getUint32(base + 16, true) + v.getUint32(base + 20, true) * 0x1_0000_0000;
        }
      }
    } finally {
      Atomics.store(ctl, DATA_TAIL / 4, tail >>> 0);
      Atomics.store(ctl, DATA_TAIL / 4 + 1, Math.floor(tail / 0x1_0000_0000));
    }
    return count;
  }

  /**
   * The allocation-free path: `cb(cpu, data, offset, length)` per sample, where the sample is
   * `data[offset .. offset + length)` (the CPU's ring, or a scratch copy for a sample that wraps), valid only
   * during the call. Return false to stop. Returns the number of samples.
   */
  consumeRaw(cb: RawSampleCallback): number {
    this.#check();
    let total = 0;
    for (const r of this.#rings) {
      total += this.#readRing(r, cb);
      if (this.#stop) break;
    }
    return total;
  }

  /** Reads every ring once without waiting; `cb` gets a zero-copy view per sample. */
  consume(cb: SampleCallback): number {
    return this.consumeRaw((cpu, d, off, len) => cb(cpu, new Uint8Array(d.buffer, d.byteOffset + off, len)));
  }

  /** Waits up to timeoutMs for any CPU's ring, then reads the ready ones. Blocks the thread. */
  poll(timeoutMs: number, cb: SampleCallback): number {
    this.#check();
    const ready = this.#epoll.wait(timeoutMs);
    const raw: RawSampleCallback = (cpu, d, off, len) =>
      cb(cpu, new Uint8Array(d.buffer, d.byteOffset + off, len));
    let total = 0;
    for (const ev of ready) {
      total += this.#readRing(this.#rings[ev.tag]!, raw);
      if (this.#stop) break;
    }
    return total;
  }

  /**
   * Async iteration over samples ({cpu, data}: a copy of the sample). Sleeps in epoll_wait on a worker
   * thread until a ring has data (no timer); ends when `signal` aborts or the buffer is closed. `pollMs`
   * bounds one wait (default: none).
   */
  async *samples(
    options: { signal?: AbortSignal; pollMs?: number } = {},
  ): AsyncGenerator<{ cpu: number; data: Uint8Array }> {
    const signal = options.signal;
    const onAbort = () => this.#epoll.wake();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      while (!this.#closed && !signal?.aborted) {
        const batch: Array<{ cpu: number; data: Uint8Array }> = [];
        this.consumeRaw((cpu, d, off, len) => {
          batch.push({ cpu, data: d.slice(off, off + len) });
        });
        for (const s of batch) yield s;
        if (batch.length === 0 && !this.#closed) await this.#epoll.waitAsync(options.pollMs ?? -1);
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  #check(): void {
    if (this.#closed) throw new Error(`perf buffer '${this.map.name}': used after close`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const r of this.#rings) {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, r.cpu, true);
      mapDeleteQuiet(this.map.fd, key);
      r.map.close();
      r.fd.close();
    }
    this.#epoll.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** BPF_MAP_DELETE_ELEM, ignoring errors (the map may be gone already). */
function mapDeleteQuiet(mapFd: number, key: Uint8Array): void {
  mapDeleteRaw(mapFd, key);
}
