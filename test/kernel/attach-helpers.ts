/**
 * Helpers for the attach/stream tests. Fixtures load through the product path (`loadCollectionSync`, the
 * loader users get), so a loader regression shows up here too; the rest reads and writes the fixtures'
 * maps and makes the syscalls the probes count.
 */
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import koffi from "koffi";
import { type Collection, loadCollectionSync } from "../../src/kernel/index.ts";
import { parseObject } from "../../src/object/index.ts";
import { mapLookup, mapUpdate } from "../../src/sys/bpf-map.ts";

export type TestObject = Collection;

/** Parses and loads a clang-compiled fixture (all programs, or `only`) with kfunc-kit's loader. */
export function loadFixture(path: string, only?: string[]): Collection {
  const spec = parseObject(readFileSync(path), path);
  return loadCollectionSync(spec, only ? { programs: only } : {});
}

/** Writes u32 `value` at key 0 of an array map (the fixtures' `config`). */
export function setU32(mapFd: number, value: number, key = 0): void {
  const k = new Uint8Array(4);
  new DataView(k.buffer).setUint32(0, key, true);
  const v = new Uint8Array(4);
  new DataView(v.buffer).setUint32(0, value, true);
  mapUpdate(mapFd, k, v);
}

/** Reads u64 slot `key` of an array map (the fixtures' `hits`). */
export function getU64(mapFd: number, key: number): number {
  const k = new Uint8Array(4);
  new DataView(k.buffer).setUint32(0, key, true);
  const v = new Uint8Array(8);
  if (!mapLookup(mapFd, k, v)) throw new Error(`no slot ${key}`);
  return Number(new DataView(v.buffer).getBigUint64(0, true));
}

/** Open fds of this process. */
export function openFdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/** n failing openat() calls on unique paths under `prefix` (ENOENT, nothing is created). */
export function openMissing(prefix: string, n: number, tag = ""): void {
  for (let i = 0; i < n; i++) {
    try {
      closeSync(openSync(`${prefix}${tag}${i}`, "r"));
    } catch {
      // ENOENT is the point
    }
  }
}

/** Sets the attach-streams fixture's config: this process, paths starting with `prefix`. */
export function setStreamConfig(mapFd: number, prefix: string): void {
  const cfg = new Uint8Array(40);
  const v = new DataView(cfg.buffer);
  v.setUint32(0, process.pid, true);
  v.setUint32(4, prefix.length, true);
  cfg.set(new TextEncoder().encode(prefix), 8);
  mapUpdate(mapFd, new Uint8Array(4), cfg);
}

/** struct event of attach-streams.bpf.c: {u32 pid, u32 seq, u64 cookie, char path[64]} */
export function decodeEvent(d: Uint8Array): { pid: number; seq: number; cookie: bigint; path: string } {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const end = d.indexOf(0, 16);
  return {
    pid: v.getUint32(0, true),
    seq: v.getUint32(4, true),
    cookie: v.getBigUint64(8, true),
    path: new TextDecoder().decode(d.subarray(16, end < 0 ? 80 : end)),
  };
}

const libc = koffi.load("libc.so.6");
const setAffinity = libc.func("int sched_setaffinity(int pid, size_t size, const uint8_t *mask)") as (
  pid: number,
  size: number,
  mask: Uint8Array,
) => number;
const getAffinity = libc.func("int sched_getaffinity(int pid, size_t size, _Out_ uint8_t *mask)") as (
  pid: number,
  size: number,
  mask: Uint8Array,
) => number;

/** Runs `fn` with the calling thread pinned to `cpu` (per-CPU ring tests need one producer CPU). */
export function onCpu<T>(cpu: number, fn: () => T): T {
  const old = new Uint8Array(128);
  if (getAffinity(0, old.byteLength, old) !== 0) throw new Error("sched_getaffinity failed");
  const mask = new Uint8Array(128);
  mask[cpu >> 3] = 1 << (cpu & 7);
  if (setAffinity(0, mask.byteLength, mask) !== 0) throw new Error(`sched_setaffinity(${cpu}) failed`);
  try {
    return fn();
  } finally {
    setAffinity(0, old.byteLength, old);
  }
}
