/**
 * perf_event_open(2): `struct perf_event_attr` encoding for the tracepoint, kprobe, uprobe and software
 * PMUs, and the sysfs lookups that dynamic PMUs (kprobe, uprobe) need.
 */
import { readFileSync } from "node:fs";
import { Attr, attrEnd } from "./attr.ts";
import { Fd } from "./fd.ts";
import { koffi, lastErrno, libcFunc, SYS_PERF_EVENT_OPEN, throwErrno } from "./libc.ts";
import { PERF_EVENT_ATTR, PERF_SAMPLE } from "./uapi.generated.ts";

const syscallPerf = libcFunc<
  (nr: number, attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number) => number
>("long syscall(long nr, void *attr, long pid, long cpu, long group_fd, unsigned long flags)");

/** enum perf_type_id, perf_sw_ids, perf_event_type: generated from BTF (src/sys/uapi.generated.ts). */
export { PERF_COUNT_SW, PERF_RECORD, PERF_TYPE } from "./uapi.generated.ts";
export const PERF_SAMPLE_RAW = PERF_SAMPLE.RAW;
/** A #define, not in BTF. */
export const PERF_FLAG_FD_CLOEXEC = 1 << 3;
/**
 * sizeof(struct perf_event_attr) up to config3 (PERF_ATTR_SIZE_VER8, Linux 6.3): the kernel accepts any size it
 * knows, and a larger one with a zero tail.
 */
export const PERF_ATTR_SIZE = attrEnd(PERF_EVENT_ATTR, "config3");

export interface PerfEventAttrOptions {
  type: number;
  config?: number | bigint;
  /** config1: kprobe_func / uprobe_path as a pointer (bigint address). */
  config1?: bigint;
  /** config2: kprobe_addr / probe_offset. */
  config2?: bigint;
  samplePeriod?: number;
  /** Samples per second instead of a period (sets the `freq` bit; shares the field with samplePeriod). */
  sampleFreq?: number;
  sampleType?: number;
  disabled?: boolean;
  /** Wake the reader after this many events (or bytes with `watermark`). */
  wakeupEvents?: number;
  watermark?: boolean;
}

/** Encodes a `struct perf_event_attr` on the layout generated from BTF (src/sys/uapi.generated.ts). */
export function encodePerfEventAttr(o: PerfEventAttrOptions): Uint8Array {
  const a = new Attr(PERF_EVENT_ATTR, PERF_ATTR_SIZE)
    .set("type", o.type)
    .set("size", PERF_ATTR_SIZE)
    .set("config", o.config ?? 0)
    // sample_freq shares the field; the `freq` bit says which
    .set("sample_period", o.sampleFreq ?? o.samplePeriod ?? 0)
    .set("sample_type", o.sampleType ?? 0)
    .bit("disabled", o.disabled ?? false)
    .bit("watermark", o.watermark ?? false)
    .bit("freq", o.sampleFreq !== undefined)
    .set("wakeup_events", o.wakeupEvents ?? 0)
    .set("config1", o.config1 ?? 0n)
    .set("config2", o.config2 ?? 0n);
  return a.bytes;
}

/**
 * perf_event_open(attr, pid, cpu, group_fd, PERF_FLAG_FD_CLOEXEC) → owned Fd. `what` names the event in
 * errors ("perf_event_open(tracepoint syscalls/sys_enter_getpid)").
 */
export function perfEventOpen(attr: Uint8Array, pid: number, cpu: number, what: string, groupFd = -1): Fd {
  const fd = syscallPerf(SYS_PERF_EVENT_OPEN, attr, pid, cpu, groupFd, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) throwErrno(`perf_event_open(${what})`, lastErrno());
  return new Fd(fd, what);
}

/** Like {@link perfEventOpen} but returns -errno instead of throwing (for fallbacks). */
export function perfEventOpenRaw(attr: Uint8Array, pid: number, cpu: number, groupFd = -1): number {
  const fd = syscallPerf(SYS_PERF_EVENT_OPEN, attr, pid, cpu, groupFd, PERF_FLAG_FD_CLOEXEC);
  return fd < 0 ? -lastErrno() : fd;
}

const EVENT_SOURCE = "/sys/bus/event_source/devices";

/** The dynamic PMU type of `kprobe`/`uprobe`, or undefined when the kernel has no such PMU. */
export function pmuType(pmu: "kprobe" | "uprobe"): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(`${EVENT_SOURCE}/${pmu}/type`, "utf8").trim(), 10);
    return Number.isNaN(n) ? undefined : n;
  } catch {
    return undefined;
  }
}

/**
 * A kprobe/uprobe perf event on the probe PMU `pmu` (libbpf perf_event_open_probe): config1 points to the
 * function name (kprobe) or the binary's path (uprobe), config2 is the offset.
 */
export function openProbePmuEvent(
  probe: "kprobe" | "uprobe",
  pmu: number,
  o: { retprobe: boolean; name: string; offset: number; pid: number; cpu: number; what: string },
): Fd {
  const name = cString(o.name);
  const attr = encodePerfEventAttr({
    type: pmu,
    config: o.retprobe ? 1n << BigInt(retprobeBit(probe)) : 0n,
    config1: name.address,
    config2: BigInt(o.offset),
    samplePeriod: 1,
    wakeupEvents: 1,
  });
  return withPinned([name.bytes], () => perfEventOpen(attr, o.pid, o.cpu, o.what));
}

/** The config bit that selects a return probe on the kprobe/uprobe PMU ("config:0" → 0). */
export function retprobeBit(pmu: "kprobe" | "uprobe"): number {
  try {
    const s = readFileSync(`${EVENT_SOURCE}/${pmu}/format/retprobe`, "utf8").trim();
    const m = /^config:(\d+)$/.exec(s);
    if (m) return Number(m[1]);
  } catch {
    // the documented default below
  }
  return 0;
}

/** A NUL-terminated string in memory that never moves, for attr fields that hold a pointer. */
export function cString(s: string): { bytes: Uint8Array; address: bigint } {
  const enc = new TextEncoder().encode(s);
  const bytes = new Uint8Array(new ArrayBuffer(Math.max(enc.length + 1, 72)));
  bytes.set(enc);
  return { bytes, address: addressOf(bytes) };
}

const pinned = new Set<object>();

/**
 * Runs `fn` while `objects` are strongly referenced: buffers whose addresses sit inside an attr (names,
 * pointer arrays) must outlive the syscall that reads them.
 */
export function withPinned<T>(objects: object[], fn: () => T): T {
  for (const o of objects) pinned.add(o);
  try {
    return fn();
  } finally {
    for (const o of objects) pinned.delete(o);
  }
}

/** Address of a buffer's first byte (the buffer must be off-heap: created from an ArrayBuffer). */
export function addressOf(bytes: Uint8Array): bigint {
  return koffi().address(bytes);
}

const mountFn = libcFunc<
  (source: string, target: string, fstype: string, flags: number, data: null) => number
>(
  "int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data)",
);

/** mount -t tracefs nodev <target> (tracepoint ids, kprobe_events and trace_pipe live in tracefs). */
export function mountTracefs(target: string): void {
  if (mountFn("nodev", target, "tracefs", 0, null) < 0)
    throwErrno(`mount(tracefs on ${target})`, lastErrno());
}
