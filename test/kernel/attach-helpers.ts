/**
 * Test-only helpers for the attach/stream tests: a raw BPF_PROG_LOAD of hand-assembled instructions
 * (for pieces that need no object), and a tiny object loader for clang-compiled fixtures whose maps the
 * test declares itself. The real loader is src/kernel (collection.ts); this exists so the attach tests
 * do not depend on every loader feature.
 */
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import koffi from "koffi";
import { type Btf, parseBtf } from "../../src/btf/index.ts";
import { parseElf } from "../../src/elf/index.ts";
import { bpf } from "../../src/sys/bpf.ts";
import { mapLookup, mapUpdate } from "../../src/sys/bpf-map.ts";
import { Fd } from "../../src/sys/fd.ts";

export const PROG_TYPE = {
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  TRACEPOINT: 5,
  XDP: 6,
  RAW_TRACEPOINT: 17,
  TRACING: 26,
  SYSCALL: 31,
} as const;

export interface RawProgram {
  name: string;
  section: string;
  fd: Fd;
  close(): void;
}

/** One instruction: opcode, dst, src, off, imm → 8 bytes. */
export function insn(code: number, dst: number, src: number, off: number, imm: number): number[] {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, code);
  v.setUint8(1, (src << 4) | dst);
  v.setInt16(2, off, true);
  v.setInt32(4, imm, true);
  return [...b];
}

/** r0 = imm; exit */
export function returnImm(imm: number): Uint8Array {
  return new Uint8Array([...insn(0xb7, 0, 0, 0, imm), ...insn(0x95, 0, 0, 0, 0)]);
}

export interface LoadRawOptions {
  type: number;
  expectedAttachType?: number;
  attachBtfId?: number;
  flags?: number;
  license?: string;
  name?: string;
  section?: string;
}

/** BPF_PROG_LOAD of raw instructions; throws with the verifier log on failure. */
export function loadRaw(insns: Uint8Array, o: LoadRawOptions): RawProgram {
  const insnBuf = new Uint8Array(new ArrayBuffer(Math.max(insns.byteLength, 72)));
  insnBuf.set(insns);
  const lic = new Uint8Array(new ArrayBuffer(72));
  lic.set(new TextEncoder().encode(o.license ?? "GPL"));
  const logBuf = new Uint8Array(new ArrayBuffer(1 << 20));
  const attr = new Uint8Array(new ArrayBuffer(128));
  const v = new DataView(attr.buffer);
  const addr = (b: Uint8Array) => koffiAddress(b);
  v.setUint32(0, o.type, true);
  v.setUint32(4, insns.byteLength / 8, true);
  v.setBigUint64(8, addr(insnBuf), true);
  v.setBigUint64(16, addr(lic), true);
  v.setUint32(24, 1, true);
  v.setUint32(28, logBuf.byteLength, true);
  v.setBigUint64(32, addr(logBuf), true);
  v.setUint32(44, o.flags ?? 0, true);
  const name = (o.name ?? "test").slice(0, 15);
  attr.set(new TextEncoder().encode(name), 48);
  v.setUint32(68, o.expectedAttachType ?? 0, true);
  v.setUint32(108, o.attachBtfId ?? 0, true);
  let fd: number;
  try {
    fd = bpf(5, attr);
  } catch (e) {
    const log = new TextDecoder().decode(logBuf.subarray(0, logBuf.indexOf(0)));
    throw new Error(`BPF_PROG_LOAD '${name}': ${(e as Error).message}\n${log}`, { cause: e });
  }
  keep(insnBuf, lic, logBuf);
  const owned = new Fd(fd, `prog ${name}`);
  return { name, section: o.section ?? "", fd: owned, close: () => owned.close() };
}

function koffiAddress(b: Uint8Array): bigint {
  return koffi.address(b);
}
const kept: unknown[] = [];
function keep(...xs: unknown[]): void {
  kept.push(...xs);
  kept.length = 0;
}

/** BPF_MAP_CREATE(type, key, value, max_entries) → owned Fd. */
export function createMap(
  type: number,
  keySize: number,
  valueSize: number,
  maxEntries: number,
  name = "",
): Fd {
  const attr = new Uint8Array(new ArrayBuffer(72));
  const v = new DataView(attr.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, keySize, true);
  v.setUint32(8, valueSize, true);
  v.setUint32(12, maxEntries, true);
  attr.set(new TextEncoder().encode(name.slice(0, 15)), 28);
  return new Fd(bpf(0, attr), `map ${name}`);
}

export interface FixtureProgram {
  name: string;
  section: string;
  insns: Uint8Array;
  /** insn index → map symbol name for ld_imm64 map relocations */
  mapRelocs: Array<{ index: number; symbol: string }>;
  license: string;
}

/** The programs of a clang-compiled object (one FUNC symbol per program), with their map relocations. */
export function readFixturePrograms(path: string): FixtureProgram[] {
  const elf = parseElf(new Uint8Array(readFileSync(path)), path);
  const license = new TextDecoder()
    .decode(elf.section("license")?.data ?? new Uint8Array())
    .replace(/\0.*$/s, "");
  const out: FixtureProgram[] = [];
  for (const sym of elf.symbols) {
    if (sym.type !== 2 || sym.shndx === 0 || sym.shndx >= elf.sections.length) continue;
    const sec = elf.sections[sym.shndx]!;
    if (sec.name === ".text" || (sec.flags & 4) === 0) continue;
    const insns = new Uint8Array(sec.data.subarray(sym.value, sym.value + (sym.size || sec.size)));
    const mapRelocs = elf
      .relocationsFor(sec.index)
      .filter((r) => r.offset >= sym.value && r.offset < sym.value + insns.byteLength)
      .map((r) => ({ index: (r.offset - sym.value) / 8, symbol: elf.symbols[r.symbol]!.name }));
    out.push({ name: sym.name, section: sec.name, insns, mapRelocs, license: license || "GPL" });
  }
  return out;
}

/** Patches ld_imm64 map references with fds (src_reg = BPF_PSEUDO_MAP_FD). */
export function patchMaps(p: FixtureProgram, maps: Record<string, Fd>): Uint8Array {
  const insns = new Uint8Array(p.insns);
  const v = new DataView(insns.buffer);
  for (const r of p.mapRelocs) {
    const m = maps[r.symbol];
    if (!m) throw new Error(`program ${p.name}: no map given for '${r.symbol}'`);
    const o = r.index * 8;
    v.setUint8(o + 1, (1 << 4) | (v.getUint8(o + 1) & 0xf));
    v.setInt32(o + 4, m.value, true);
  }
  return insns;
}

export interface MapDecl {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

export interface TestObject {
  programs: Map<string, RawProgram>;
  maps: Map<string, { name: string; fd: number; type: number; maxEntries: number; owned: Fd }>;
  close(): void;
}

let vmlinux: Btf | undefined;

function vmlinuxBtf(): Btf {
  vmlinux ??= parseBtf(new Uint8Array(readFileSync("/sys/kernel/btf/vmlinux")), { source: "vmlinux" });
  return vmlinux;
}

/** Program type, expected attach type and attach BTF id for a section (the subset the tests use). */
export function loadOptionsFor(section: string): Omit<LoadRawOptions, "name" | "section" | "license"> {
  const [prefix, ...rest] = section.split("/");
  const target = rest.join("/");
  switch (prefix) {
    case "tracepoint":
      return { type: PROG_TYPE.TRACEPOINT };
    case "raw_tp":
      return { type: PROG_TYPE.RAW_TRACEPOINT };
    case "tp_btf": {
      const t = vmlinuxBtf().findByName(`btf_trace_${target}`, "TYPEDEF");
      if (!t) throw new Error(`no btf_trace_${target} in vmlinux BTF`);
      return { type: PROG_TYPE.TRACING, expectedAttachType: 23, attachBtfId: t.id };
    }
    case "kprobe":
    case "kretprobe":
    case "uprobe":
    case "uretprobe":
      return { type: PROG_TYPE.KPROBE };
    case "xdp":
      return { type: PROG_TYPE.XDP };
    case "socket":
      return { type: PROG_TYPE.SOCKET_FILTER };
    case "tc":
      return { type: PROG_TYPE.SCHED_CLS };
    case "syscall":
      return { type: PROG_TYPE.SYSCALL, flags: 1 << 4 };
    default:
      throw new Error(`test helper: no load options for section ${section}`);
  }
}

/**
 * Loads the programs of a fixture (all, or `only`) with maps the test declares (a stand-in for
 * loadCollection, so these tests do not depend on every loader feature).
 */
export function loadFixtureObject(path: string, maps: Record<string, MapDecl>, only?: string[]): TestObject {
  const created = new Map<
    string,
    { name: string; fd: number; type: number; maxEntries: number; owned: Fd }
  >();
  const programs = new Map<string, RawProgram>();
  const close = () => {
    for (const p of programs.values()) p.close();
    for (const m of created.values()) m.owned.close();
  };
  try {
    for (const [name, d] of Object.entries(maps)) {
      const owned = createMap(d.type, d.keySize, d.valueSize, d.maxEntries, name);
      created.set(name, { name, fd: owned.value, type: d.type, maxEntries: d.maxEntries, owned });
    }
    const fds = Object.fromEntries([...created].map(([k, v]) => [k, v.owned]));
    for (const p of readFixturePrograms(path)) {
      if (only && !only.includes(p.name)) continue;
      programs.set(
        p.name,
        loadRaw(patchMaps(p, fds), {
          ...loadOptionsFor(p.section),
          name: p.name,
          section: p.section,
          license: p.license,
        }),
      );
    }
  } catch (e) {
    close();
    throw e;
  }
  return { programs, maps: created, close };
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

export const COUNTER_MAPS: Record<string, MapDecl> = {
  config: { type: 2, keySize: 4, valueSize: 4, maxEntries: 1 },
  hits: { type: 2, keySize: 4, valueSize: 8, maxEntries: 8 },
};

export const STREAM_MAPS: Record<string, MapDecl> = {
  config: { type: 2, keySize: 4, valueSize: 40, maxEntries: 1 },
  counter: { type: 2, keySize: 4, valueSize: 8, maxEntries: 1 },
  events: { type: 27, keySize: 0, valueSize: 0, maxEntries: 1 << 16 },
  perf_events: { type: 4, keySize: 4, valueSize: 4, maxEntries: 64 },
};

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
