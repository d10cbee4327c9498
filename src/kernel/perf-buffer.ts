/**
 * A BPF_MAP_TYPE_PERF_EVENT_ARRAY reader (libbpf perf_buffer semantics): one
 * perf_event_open(PERF_COUNT_SW_BPF_OUTPUT) per online CPU, its fd stored in the map at the CPU's index,
 * a 1 + 2^n page ring per CPU mapped read-write, one epoll for all. Samples arrive as zero-copy views (a
 * sample that wraps the ring's end is copied into a scratch buffer); PERF_RECORD_LOST counts are summed.
 */
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.ts";
import { bpfRaw } from "../sys/bpf.ts";
import { mapUpdate } from "../sys/bpf-map.ts";
import { Epoll } from "../sys/epoll.ts";
import type { Fd } from "../sys/fd.ts";
import { ioctl, PERF_EVENT_IOC } from "../sys/ioctl.ts";
import { type Mapping, mmapFd, PROT_READ, PROT_WRITE, pageSize } from "../sys/mmap.ts";
import {
  addressOf,
  encodePerfEventAttr,
  PERF_COUNT_SW,
  PERF_SAMPLE_RAW,
  PERF_TYPE,
  perfEventOpen,
} from "../sys/perf.ts";

const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;
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

  #readRing(r: CpuRing, cb: SampleCallback): { count: number; stop: boolean } {
    const ctl = r.ctl;
    const head = Atomics.load(ctl, DATA_HEAD / 4) + Atomics.load(ctl, DATA_HEAD / 4 + 1) * 0x1_0000_0000;
    let tail = ctl[DATA_TAIL / 4]! + ctl[DATA_TAIL / 4 + 1]! * 0x1_0000_0000;
    const mask = this.#dataSize - 1;
    let count = 0;
    let stop = false;
    while (tail < head && !stop) {
      const off = tail % this.#dataSize;
      let rec: Uint8Array;
      let v: DataView;
      let base: number;
      // header fields may straddle the end: read them bytewise through the mask
      const size = r.data[(off + 6) & mask]! | (r.data[(off + 7) & mask]! << 8);
      const type = r.data[off]! | (r.data[(off + 1) & mask]! << 8);
      if (size === 0) break;
      if (off + size <= this.#dataSize) {
        rec = r.data;
        v = r.view;
        base = off;
      } else {
        if (this.#scratch.byteLength < size) this.#scratch = new Uint8Array(size * 2);
        const first = this.#dataSize - off;
        this.#scratch.set(r.data.subarray(off), 0);
        this.#scratch.set(r.data.subarray(0, size - first), first);
        rec = this.#scratch;
        v = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
        base = 0;
      }
      if (type === PERF_RECORD_SAMPLE) {
        const n = v.getUint32(base + 8, true);
        count++;
        stop = cb(r.cpu, rec.subarray(base + 12, base + 12 + n)) === false;
      } else if (type === PERF_RECORD_LOST) {
        this.#lost += Number(v.getBigUint64(base + 16, true));
      }
      tail += size;
    }
    Atomics.store(ctl, DATA_TAIL / 4, tail >>> 0);
    Atomics.store(ctl, DATA_TAIL / 4 + 1, Math.floor(tail / 0x1_0000_0000));
    return { count, stop };
  }

  /** Reads every ring once without waiting. */
  consume(cb: SampleCallback): number {
    this.#check();
    let total = 0;
    for (const r of this.#rings) {
      const { count, stop } = this.#readRing(r, cb);
      total += count;
      if (stop) break;
    }
    return total;
  }

  /** Waits up to timeoutMs for any CPU's ring, then reads the ready ones. Blocks the thread. */
  poll(timeoutMs: number, cb: SampleCallback): number {
    this.#check();
    const ready = this.#epoll.wait(timeoutMs);
    let total = 0;
    for (const ev of ready) {
      const { count, stop } = this.#readRing(this.#rings[ev.tag]!, cb);
      total += count;
      if (stop) break;
    }
    return total;
  }

  /** Async iteration over samples ({cpu, data}: data is a view valid until the next one is requested). */
  async *samples(
    options: { signal?: AbortSignal; pollMs?: number } = {},
  ): AsyncGenerator<{ cpu: number; data: Uint8Array }> {
    const pollMs = options.pollMs ?? 100;
    while (!this.#closed && !options.signal?.aborted) {
      const batch: Array<{ cpu: number; data: Uint8Array }> = [];
      this.consume((cpu, data) => {
        batch.push({ cpu, data: data.slice() });
      });
      for (const s of batch) yield s;
      if (batch.length === 0) await this.#epoll.waitAsync(pollMs);
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
  const k = new Uint8Array(new ArrayBuffer(72));
  k.set(key);
  const attr = new Uint8Array(new ArrayBuffer(16));
  const v = new DataView(attr.buffer);
  v.setUint32(0, mapFd, true);
  v.setBigUint64(8, addressOf(k), true);
  bpfRaw(3, attr);
  k[0] = k[0]!;
}
