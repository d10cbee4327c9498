import { fromBig, OUT, toU64 } from "./alu.ts";
import { CODE_BASE } from "./code.ts";
import type { CallBack, NativeFn } from "./engine.ts";
import { HelperFault, TailCall } from "./fault.ts";
import { PerfEventMap, ProgArrayMap, RingBufMap, type UvmMap } from "./maps.ts";
import { type Memory, PERM_READ, PERM_WRITE } from "./memory.ts";

/** What the helpers see of the process they pretend to run in. */
export interface HostInfo {
  pid: number;
  tgid: number;
  uid: number;
  gid: number;
  comm: string;
  /** trace_pipe lines (bpf_printk), already formatted. */
  printk(line: string): void;
}

export interface HelperHost {
  readonly mem: Memory;
  readonly info: HostInfo;
  map(handleLo: number, handleHi: number): UvmMap | undefined;
  /** The ring buffer whose data area holds `addr`. */
  ringOf(addr: number): RingBufMap | undefined;
}

const EFAULT = 14;
const ENOENT = 2;
const EINVAL = 22;
const E2BIG = 7;

function ret(A: Int32Array, v: number): void {
  A[0] = v | 0;
  A[1] = v < 0 ? -1 : 0;
}

function ret64(A: Int32Array, v: bigint): void {
  A[0] = fromBig(v);
  A[1] = OUT[0]!;
}

/** The bytes [addr, addr+len) with `perm`, or a HelperFault naming the argument. */
export function viewOf(
  mem: Memory,
  lo: number,
  hi: number,
  len: number,
  perm: number,
  what: string,
): Uint8Array {
  const o = mem.check(lo, hi, len, perm);
  if (o < 0)
    throw new HelperFault(
      `${what}: ${len} bytes at 0x${toU64(lo, hi).toString(16)} are not ${perm & PERM_WRITE ? "writable" : "readable"} program memory`,
    );
  return mem.heap.subarray(o, o + len);
}

function cString(mem: Memory, lo: number, hi: number, max: number, what: string): string {
  const b = viewOf(mem, lo, hi, Math.min(max, 1), PERM_READ, what);
  let s = "";
  const start = b.byteOffset - mem.heap.byteOffset;
  for (let i = 0; i < max; i++) {
    const o = start + i;
    if (o >= mem.capacity || (mem.perm[o]! & PERM_READ) === 0) break;
    const c = mem.heap[o]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/** Formats a bpf_trace_printk format with u64 arguments the way the kernel's bstr_printf does. */
export function formatPrintk(mem: Memory, fmt: string, args: bigint[]): string {
  let ai = 0;
  return fmt.replace(
    /%([-+ 0#]*)(\d*)(?:\.(\d+))?(hh|h|ll|l|z)?([diuxXpsc%])/g,
    (_m, flags: string, width: string, _p, len, conv) => {
      if (conv === "%") return "%";
      const a = args[ai++] ?? 0n;
      const wide = len === "l" || len === "ll" || len === "z";
      let s: string;
      switch (conv) {
        case "d":
        case "i":
          s = (wide ? BigInt.asIntN(64, a) : BigInt.asIntN(32, a)).toString();
          break;
        case "u":
          s = (wide ? BigInt.asUintN(64, a) : BigInt.asUintN(32, a)).toString();
          break;
        case "x":
        case "X":
          s = (wide ? BigInt.asUintN(64, a) : BigInt.asUintN(32, a)).toString(16);
          if (conv === "X") s = s.toUpperCase();
          if (flags.includes("#")) s = `0x${s}`;
          break;
        case "p":
          s = `0x${BigInt.asUintN(64, a).toString(16)}`;
          break;
        case "c":
          s = String.fromCharCode(Number(a & 0xffn));
          break;
        default: {
          const lo = Number(BigInt.asIntN(32, a));
          const hi = Number(BigInt.asIntN(32, a >> 32n));
          try {
            s = cString(mem, lo, hi, 4096, "%s argument");
          } catch {
            s = "(efault)";
          }
        }
      }
      const w = Number(width || 0);
      if (s.length < w)
        s = flags.includes("-")
          ? s.padEnd(w)
          : s.padStart(w, flags.includes("0") && conv !== "s" ? "0" : " ");
      return s;
    },
  );
}

/** One trace_pipe line: `           <comm>-<pid>     [000] d..31  123.456789: bpf_trace_printk: <msg>`. */
export function tracePipeLine(info: HostInfo, msg: string): string {
  const us = Math.floor(performance.now() * 1000);
  const ts = `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, "0")}`;
  return `${info.comm.padStart(16)}-${String(info.pid).padEnd(7)} [000] d..31 ${ts.padStart(12)}: bpf_trace_printk: ${msg.replace(/\n$/, "")}`;
}

/** The core helper set, by helper id. */
export function coreHelpers(host: HelperHost): Map<number, NativeFn> {
  const { mem, info } = host;
  const h = new Map<number, NativeFn>();
  const map = (A: Int32Array, i: number, what: string): UvmMap => {
    const m = host.map(A[i]!, A[i + 1]!);
    if (!m) throw new HelperFault(`${what}: r${i / 2 + 1} is not a map`);
    return m;
  };
  const read = (lo: number, hi: number, len: number, what: string) =>
    viewOf(mem, lo, hi, len, PERM_READ, what);
  h.set(1, (A) => {
    const m = map(A, 0, "bpf_map_lookup_elem");
    ret(A, m.lookupAddr(read(A[2]!, A[3]!, m.spec.keySize, "bpf_map_lookup_elem key")));
  });
  h.set(2, (A) => {
    const m = map(A, 0, "bpf_map_update_elem");
    const key = read(A[2]!, A[3]!, m.spec.keySize, "bpf_map_update_elem key");
    const value = read(A[4]!, A[5]!, m.spec.valueSize, "bpf_map_update_elem value");
    ret(A, m.update(key, value, A[6]!));
  });
  h.set(3, (A) => {
    const m = map(A, 0, "bpf_map_delete_elem");
    ret(A, m.delete(read(A[2]!, A[3]!, m.spec.keySize, "bpf_map_delete_elem key")));
  });
  const probeRead = (str: boolean) => (A: Int32Array) => {
    const size = A[2]! >>> 0;
    const dst = viewOf(mem, A[0]!, A[1]!, size, PERM_WRITE, "probe_read dst");
    const o = mem.check(A[4]!, A[5]!, str ? 1 : size, PERM_READ);
    if (o < 0) {
      dst.fill(0);
      ret(A, -EFAULT);
      return;
    }
    if (!str) {
      dst.set(mem.heap.subarray(o, o + size));
      ret(A, 0);
      return;
    }
    let n = 0;
    while (n < size - 1 && o + n < mem.capacity && mem.perm[o + n]! & PERM_READ && mem.heap[o + n] !== 0) {
      dst[n] = mem.heap[o + n]!;
      n++;
    }
    if (size > 0) dst[n] = 0;
    ret(A, size > 0 ? n + 1 : 0);
  };
  for (const id of [4, 112, 113]) h.set(id, probeRead(false));
  for (const id of [45, 114, 115]) h.set(id, probeRead(true));
  const now = (A: Int32Array) => ret64(A, BigInt(Math.round(performance.now() * 1e6)));
  for (const id of [5, 125, 160]) h.set(id, now);
  h.set(6, (A) => {
    const fmt = cString(mem, A[0]!, A[1]!, A[2]! >>> 0, "bpf_trace_printk fmt");
    const args = [toU64(A[4]!, A[5]!), toU64(A[6]!, A[7]!), toU64(A[8]!, A[9]!)];
    const line = tracePipeLine(info, formatPrintk(mem, fmt, args));
    info.printk(line);
    ret(A, line.length);
  });
  h.set(177, (A) => {
    const fmt = cString(mem, A[0]!, A[1]!, A[2]! >>> 0, "bpf_trace_vprintk fmt");
    const len = A[6]! >>> 0;
    const data = len ? read(A[4]!, A[5]!, len, "bpf_trace_vprintk data") : new Uint8Array(0);
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const args: bigint[] = [];
    for (let i = 0; i + 8 <= len; i += 8) args.push(dv.getBigUint64(i, true));
    const line = tracePipeLine(info, formatPrintk(mem, fmt, args));
    info.printk(line);
    ret(A, line.length);
  });
  h.set(7, (A) => ret(A, (Math.random() * 0x100000000) | 0));
  h.set(8, (A) => ret(A, 0));
  h.set(42, (A) => ret(A, 0));
  h.set(12, (A) => {
    const m = host.map(A[2]!, A[3]!);
    if (!(m instanceof ProgArrayMap)) throw new HelperFault("bpf_tail_call: r2 is not a prog array");
    const prog = A[5] === 0 ? m.slots.get(A[4]! >>> 0) : undefined;
    if (prog === undefined) {
      ret(A, -ENOENT);
      return;
    }
    throw new TailCall(prog, A[0]!, A[1]!);
  });
  h.set(14, (A) => {
    A[0] = info.pid;
    A[1] = info.tgid;
  });
  h.set(15, (A) => {
    A[0] = info.uid;
    A[1] = info.gid;
  });
  h.set(16, (A) => {
    const size = A[2]! >>> 0;
    const dst = viewOf(mem, A[0]!, A[1]!, size, PERM_WRITE, "bpf_get_current_comm buf");
    dst.fill(0);
    for (let i = 0; i < Math.min(info.comm.length, size - 1, 15); i++)
      dst[i] = info.comm.charCodeAt(i) & 0xff;
    ret(A, 0);
  });
  h.set(25, (A) => {
    const m = map(A, 2, "bpf_perf_event_output");
    if (!(m instanceof PerfEventMap))
      throw new HelperFault("bpf_perf_event_output: r2 is not a perf event array");
    const size = A[8]! >>> 0;
    m.events.push(read(A[6]!, A[7]!, size, "bpf_perf_event_output data").slice());
    ret(A, 0);
  });
  const lock = (A: Int32Array) => {
    viewOf(mem, A[0]!, A[1]!, 4, PERM_WRITE, "bpf_spin_lock lock");
    ret(A, 0);
  };
  h.set(93, lock);
  h.set(94, lock);
  const ring = (A: Int32Array, what: string): RingBufMap => {
    const m = map(A, 0, what);
    if (!(m instanceof RingBufMap)) throw new HelperFault(`${what}: r1 is not a ring buffer`);
    return m;
  };
  h.set(130, (A) => {
    const m = ring(A, "bpf_ringbuf_output");
    ret(A, m.output(read(A[2]!, A[3]!, A[4]! >>> 0, "bpf_ringbuf_output data")));
  });
  h.set(131, (A) => ret(A, ring(A, "bpf_ringbuf_reserve").reserve(A[2]! >>> 0)));
  const commit = (discard: boolean) => (A: Int32Array) => {
    const addr = A[0]! >>> 0;
    const rb = host.ringOf(addr);
    if (!rb?.commit(addr, discard))
      throw new HelperFault(
        `bpf_ringbuf_${discard ? "discard" : "submit"}: r1 is not a reserved ring buffer record`,
      );
    ret(A, 0);
  };
  h.set(132, commit(false));
  h.set(133, commit(true));
  h.set(134, (A) => ret(A, ring(A, "bpf_ringbuf_query").available));
  h.set(181, (A, call: CallBack) => {
    const nr = A[0]! >>> 0;
    if (A[1] !== 0 || nr > 1 << 23) {
      ret(A, -E2BIG);
      return;
    }
    const pc = (A[2]! - CODE_BASE) / 8;
    if (A[3] !== 0 || !Number.isInteger(pc) || pc < 0)
      throw new HelperFault("bpf_loop: r2 is not a callback");
    if (A[6] !== 0 || A[7] !== 0) {
      ret(A, -EINVAL);
      return;
    }
    const ctxLo = A[4]!;
    const ctxHi = A[5]!;
    const B = new Int32Array(10);
    let i = 0;
    while (i < nr) {
      B.fill(0);
      B[0] = i;
      B[2] = ctxLo;
      B[3] = ctxHi;
      call(pc, B);
      i++;
      if (B[0] !== 0 || B[1] !== 0) break;
    }
    ret(A, i);
  });
  return h;
}
