/**
 * `attachUsdt(program, { binary, provider, name, pid? })`: libbpf's bpf_program__attach_usdt. One uprobe
 * per call site of the probe; each site's argument spec goes into the object's `__bpf_usdt_specs` map
 * (deduplicated by spec string, ids handed out and returned as libbpf does), and the program finds its
 * spec id in the BPF cookie of the uprobe link or, when the object was loaded for a kernel without
 * cookies (`LINUX_HAS_BPF_COOKIE` = 0), in `__bpf_usdt_ip_to_spec_id` by the probe's run-time address.
 * Semaphores are raised by the kernel (uprobe `ref_ctr_offset`, Linux ≥ 4.20) or, for one process,
 * through /proc/<pid>/mem. Everything the attach did is undone by the one Link it returns.
 */
import { closeSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import {
  EnvironmentError,
  type KfuncKitError,
  NotSupportedError,
  ObjectError,
  SyscallError,
  UsageError,
} from "../../errors.ts";
import { BPF_UPDATE } from "../../sys/constants.ts";
import { ERRNO } from "../../sys/errno.ts";
import type { Fd } from "../../sys/fd.ts";
import { ioctl, PERF_EVENT_IOC } from "../../sys/ioctl.ts";
import { cString, encodePerfEventAttr, perfEventOpen, pmuType, withPinned } from "../../sys/perf.ts";
import { collectionOf } from "../collection.ts";
import { supports } from "../features.ts";
import { Link, type LinkMechanism } from "../links.ts";
import type { BpfMap } from "../map.ts";
import { track, untrack } from "../registry.ts";
import { ATTACH, linkCreate } from "./attrs.ts";
import { type AttachableProgram, programFd } from "./program.ts";
import {
  loadBias,
  readUsdtBinary,
  resolveUsdtBinary,
  type UsdtBinary,
  type UsdtProbe,
} from "./usdt-probes.ts";
import {
  encodeUsdtSpec,
  LIBBPF_USDT_SPEC_LAYOUT,
  parseUsdtArgs,
  resolveRipRelative,
  type UsdtArg,
  UsdtArgError,
  type UsdtSpecLayout,
  usdtSpecLayoutFromBtf,
} from "./usdt-spec.ts";

export interface UsdtTarget {
  /** A path, a library name ("libfoo.so.1", found like ld.so) or a program name (found in $PATH). */
  binary: string;
  provider: string;
  name: string;
  /** Only this process (0: this process). Default: every process that runs the binary. */
  pid?: number;
}

export interface UsdtMaps {
  specs: BpfMap;
  ipToSpecId: BpfMap;
}

export interface UsdtOptions {
  /** What `bpf_usdt_cookie()` returns for this attachment (libbpf's `bpf_usdt_opts.usdt_cookie`). */
  cookie?: bigint | number;
  /** The object's USDT maps, when the program is not from a {@link Collection} (found there by default). */
  maps?: UsdtMaps;
  /**
   * Whether the program takes its spec id from the BPF cookie. Default: the object's `LINUX_HAS_BPF_COOKIE`
   * as the loader set it, else whether the kernel has BPF cookies. Must match what the program was built
   * to read.
   */
  bpfCookie?: boolean;
  /**
   * How probe semaphores are raised: `kernel` (the uprobe's ref_ctr_offset, Linux ≥ 4.20) or `procmem`
   * (write /proc/<pid>/mem of `pid`, undone on close). Default `kernel` when available, else `procmem`.
   */
  semaphore?: "kernel" | "procmem";
  /** Attach with PERF_EVENT_IOC_SET_BPF instead of a perf bpf_link (only without BPF cookies). */
  forceIoctl?: boolean;
}

const SPECS_MAP = "__bpf_usdt_specs";
const IP_MAP = "__bpf_usdt_ip_to_spec_id";
const USDT_HINT = "include <bpf/usdt.bpf.h> in the eBPF program and read arguments with bpf_usdt_arg()";

/** Per-object spec id accounting (libbpf's usdt_manager): free ids are reused, last freed first. */
interface UsdtManager {
  maps: UsdtMaps;
  layout: UsdtSpecLayout;
  free: number[];
  next: number;
}
const managers = new WeakMap<BpfMap, UsdtManager>();

function findMaps(program: AttachableProgram, options: UsdtOptions): UsdtMaps {
  if (options.maps) return options.maps;
  const coll = collectionOf(program);
  const specs = coll?.maps.get(SPECS_MAP);
  const ipToSpecId = coll?.maps.get(IP_MAP);
  if (specs && ipToSpecId) return { specs, ipToSpecId };
  throw new UsageError(
    coll
      ? `usdt '${program.name}': ${coll.source} has no '${SPECS_MAP}' and '${IP_MAP}' maps`
      : `usdt '${program.name}': the program is not from a loaded Collection, so its USDT maps are unknown`,
    { hint: coll ? USDT_HINT : "pass { maps: { specs, ipToSpecId } } with the object's two USDT maps" },
  );
}

function managerFor(maps: UsdtMaps): UsdtManager {
  const known = managers.get(maps.specs);
  if (known) return known;
  const m = maps.specs;
  const layout =
    m.btf && m.valueTypeId ? usdtSpecLayoutFromBtf(m.btf, m.valueTypeId, m.name) : LIBBPF_USDT_SPEC_LAYOUT;
  if (layout.size !== m.valueSize)
    throw new ObjectError(
      `map '${m.name}': values are ${m.valueSize} bytes, but struct __bpf_usdt_spec is ${layout.size}`,
      { hint: USDT_HINT },
    );
  const man = { maps, layout, free: [], next: 0 };
  managers.set(m, man);
  return man;
}

/** The object's own answer to LINUX_HAS_BPF_COOKIE (the loader probed it), else the kernel's. */
function programUsesCookie(program: AttachableProgram): boolean {
  const v = collectionOf(program)?.variables.get("LINUX_HAS_BPF_COOKIE");
  if (v) {
    const x = v.get();
    return x === true || x === 1 || x === 1n;
  }
  return supports("bpfCookie");
}

let refCtrShift: number | null | undefined;

/** The perf_event_attr.config bit where the uprobe PMU takes ref_ctr_offset ("config:32-63"), if it has one. */
function uprobeRefCtrShift(): number | undefined {
  if (refCtrShift === undefined) {
    refCtrShift = null;
    try {
      const m = /^config:(\d+)-\d+$/.exec(
        readFileSync("/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset", "utf8").trim(),
      );
      if (m) refCtrShift = Number(m[1]);
    } catch {
      // kernel < 4.20: no ref_ctr_offset
    }
  }
  return refCtrShift ?? undefined;
}

interface Site {
  probe: UsdtProbe;
  args: UsdtArg[];
  /** Its struct __bpf_usdt_spec. */
  spec: Uint8Array;
  /** Deduplication key: the spec string (plus the address when it has %rip-relative arguments). */
  key: string;
  /** Run-time address (IP-to-spec map key), when needed. */
  absIp: number;
}

function symbolAddress(bin: UsdtBinary, name: string): number | undefined {
  const s = bin.elf.symbols.find((x) => x.name === name && x.shndx !== 0);
  return s?.value;
}

function prepareSite(bin: UsdtBinary, probe: UsdtProbe, layout: UsdtSpecLayout, cookie: bigint): Site {
  const where = `probe ${probe.id} at 0x${probe.address.toString(16)} in ${bin.path}, arguments "${probe.args}"`;
  try {
    const parsed = parseUsdtArgs(probe.args);
    const args = parsed.map((a, i) => {
      if (a.kind !== "symbol") return a;
      const addr = symbolAddress(bin, a.symbol!);
      if (addr === undefined)
        throw new UsdtArgError(i, a.spec, `symbol '${a.symbol}' is not in the binary's symbol table`, {
          hint: "is the binary stripped? %rip-relative arguments need its .symtab",
        });
      return resolveRipRelative(a, addr, probe.address);
    });
    const ripRelative = parsed.some((a) => a.kind === "symbol");
    return {
      probe,
      args,
      spec: encodeUsdtSpec(args, cookie, layout),
      key: ripRelative ? `${probe.args}@${probe.address}` : probe.args,
      absIp: 0,
    };
  } catch (e) {
    if (!(e instanceof UsdtArgError)) throw e;
    throw new UsdtArgError(
      e.index,
      e.spec,
      `${e.message.replace(/^argument #\d+ '[^']*': /, "")} (${where})`,
      {
        ...(e.hint ? { hint: e.hint } : {}),
      },
    );
  }
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}
function i64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(n), true);
  return b;
}

/**
 * Adds `delta` to the u16 USDT semaphore at run-time `address` in process `pid` through /proc/<pid>/mem
 * (what attachUsdt does with `semaphore: "procmem"`); errors name the process, the address and the errno.
 */
export function bumpSemaphore(pid: number, address: number, delta: number, what: string): void {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/mem`, "r+");
  } catch (e) {
    throw semaphoreError(pid, address, what, e);
  }
  try {
    const b = Buffer.alloc(2);
    if (readSync(fd, b, 0, 2, address) !== 2) throw Object.assign(new Error("short read"), { code: "EIO" });
    b.writeUInt16LE((b.readUInt16LE(0) + delta) & 0xffff, 0);
    if (writeSync(fd, b, 0, 2, address) !== 2) throw Object.assign(new Error("short write"), { code: "EIO" });
  } catch (e) {
    throw semaphoreError(pid, address, what, e);
  } finally {
    closeSync(fd);
  }
}

function semaphoreError(pid: number, address: number, what: string, e: unknown): KfuncKitError {
  const code = (e as { code?: string }).code ?? "error";
  return new EnvironmentError(
    `${what}: cannot write the semaphore at 0x${address.toString(16)} in process ${pid}: ${code}`,
    {
      cause: e,
      hint:
        code === "ENOENT" || code === "ESRCH"
          ? `process ${pid} is gone`
          : "writing another process's memory needs ptrace rights over it (root or CAP_SYS_PTRACE; see kernel.yama.ptrace_scope)",
    },
  );
}

/**
 * Attaches `program` (a `SEC("usdt…")` program built with usdt.bpf.h) to every call site of
 * `provider:name` in `binary`. Returns one Link for all of them; closing it detaches every uprobe, drops
 * the IP-to-spec entries, frees the spec ids and lowers semaphores raised through /proc/<pid>/mem.
 */
export function attachUsdt(program: AttachableProgram, target: UsdtTarget, options: UsdtOptions = {}): Link {
  const path = resolveUsdtBinary(target.binary);
  const probeId = `${target.provider}:${target.name}`;
  const what = `usdt '${program.name}' → ${path}:${probeId}`;
  const bin = readUsdtBinary(path);
  if (bin.probes.length === 0)
    throw new UsageError(`USDT binary '${path}' has no probes (no .note.stapsdt notes)`, {
      hint: "USDT probes come from <sys/sdt.h> (STAP_PROBE/DTRACE_PROBE) or dtrace -G; is this the right binary, or a stripped copy without notes?",
    });
  const found = bin.probes.filter((p) => p.provider === target.provider && p.name === target.name);
  if (found.length === 0) {
    const ids = [...new Set(bin.probes.map((p) => p.id))];
    throw new UsageError(`USDT binary '${path}' has no probe '${probeId}'`, {
      hint: `its probes: ${ids.slice(0, 40).join(", ")}${ids.length > 40 ? `, … (${ids.length}; kfunc usdt list ${path})` : ""}`,
    });
  }
  const maps = findMaps(program, options);
  const man = managerFor(maps);
  const useCookie = options.bpfCookie ?? programUsesCookie(program);
  if (useCookie && options.forceIoctl)
    throw new UsageError(
      `${what}: forceIoctl cannot carry the BPF cookie the program reads its spec id from`,
    );
  const pid = target.pid === undefined || target.pid < 0 ? -1 : target.pid === 0 ? process.pid : target.pid;
  const pmu = pmuType("uprobe");
  if (pmu === undefined)
    throw new NotSupportedError("the uprobe PMU", "4.17", `${what}: this kernel has no uprobe PMU`, {
      hint: "USDT needs perf_event_open uprobes (/sys/bus/event_source/devices/uprobe)",
    });

  const cookie = BigInt.asUintN(64, BigInt(options.cookie ?? 0));
  const sites = found.map((p) => prepareSite(bin, p, man.layout, cookie));
  const needsBias = !useCookie && bin.type === "dyn";
  const hasSemaphore = sites.some((s) => s.probe.semaphoreOffset !== 0);
  const refShift = uprobeRefCtrShift();
  const semaphoreVia = hasSemaphore
    ? (options.semaphore ?? (refShift !== undefined ? "kernel" : "procmem"))
    : undefined;
  if (semaphoreVia === "kernel" && refShift === undefined)
    throw new NotSupportedError(
      "uprobe ref_ctr_offset (USDT semaphores)",
      "4.20",
      `${what}: the probe has a semaphore and this kernel's uprobes cannot raise it`,
      { hint: "attach to one process with { pid } so the semaphore is raised through /proc/<pid>/mem" },
    );
  if (pid === -1 && (needsBias || semaphoreVia === "procmem"))
    throw new UsageError(
      needsBias
        ? `${what}: without BPF cookies a shared object (ET_DYN, also PIE executables) needs a pid to compute run-time addresses`
        : `${what}: raising the probe's semaphore through /proc/<pid>/mem needs a pid`,
      { hint: "pass { pid } (kfunc run: --pid)" },
    );
  const bias = pid !== -1 && (needsBias || semaphoreVia === "procmem") ? loadBias(pid, bin) : 0;
  for (const s of sites) s.absIp = bin.type === "exec" ? s.probe.address : bias + s.probe.address;

  const fds: Fd[] = [];
  const cleanups: Array<() => void> = [];
  const undo = () => {
    for (let i = fds.length - 1; i >= 0; i--) fds[i]!.close();
    for (let i = cleanups.length - 1; i >= 0; i--) {
      try {
        cleanups[i]!();
      } catch {
        // best effort: keep undoing
      }
    }
  };
  const ids = new Map<string, number>();
  // freed in allocation order, as libbpf's detach hands its ids back (the next attach reuses the last first)
  const allocated: number[] = [];
  cleanups.push(() => man.free.push(...allocated));
  const mechanisms = new Set<LinkMechanism>();
  const name = cString(path);
  try {
    for (const [i, s] of sites.entries()) {
      let specId = ids.get(s.key);
      if (specId === undefined) {
        if (man.free.length) specId = man.free.pop()!;
        else {
          if (man.next >= maps.specs.maxEntries)
            throw new UsageError(`${what}: map '${SPECS_MAP}' is full (${maps.specs.maxEntries} specs)`, {
              hint: "define BPF_USDT_MAX_SPEC_CNT larger before including <bpf/usdt.bpf.h>",
            });
          specId = man.next++;
        }
        ids.set(s.key, specId);
        allocated.push(specId);
        maps.specs.updateRaw(u32(specId), s.spec);
      }
      if (!useCookie) {
        try {
          maps.ipToSpecId.updateRaw(i64(s.absIp), u32(specId), BPF_UPDATE.NOEXIST);
        } catch (e) {
          if (e instanceof SyscallError && e.errno === ERRNO.EEXIST)
            throw new UsageError(
              `${what}: call site 0x${s.absIp.toString(16)} is already attached by this object (IP collision in '${IP_MAP}')`,
              {
                cause: e,
                hint: "close the earlier usdt link first: without BPF cookies one IP maps to one spec",
              },
            );
          throw e;
        }
        const ip = s.absIp;
        cleanups.push(() => maps.ipToSpecId.deleteRaw(i64(ip)));
      }
      const semaOff = semaphoreVia === "kernel" ? s.probe.semaphoreOffset : 0;
      const attr = encodePerfEventAttr({
        type: pmu,
        config: BigInt(semaOff) << BigInt(refShift ?? 0),
        config1: name.address,
        config2: BigInt(s.probe.fileOffset),
        samplePeriod: 1,
        wakeupEvents: 1,
      });
      const site = `${path}:0x${s.probe.fileOffset.toString(16)}`;
      let perf: Fd;
      try {
        perf = withPinned([name.bytes], () =>
          perfEventOpen(attr, pid, pid === -1 ? 0 : -1, `uprobe ${site}`),
        );
      } catch (e) {
        throw SyscallError.wrap(`${what}: call site #${i} (${site}): cannot create the uprobe`, e, {
          ...(e instanceof SyscallError && e.errno === ERRNO.EINVAL && semaOff
            ? {
                hint: "another uprobe at this site uses a different semaphore offset (ref_ctr_offset mismatch)?",
              }
            : {}),
        });
      }
      fds.push(perf);
      mechanisms.add(attachSite(program, perf, useCookie ? BigInt(specId) : undefined, options, fds, what));
    }
    if (semaphoreVia === "procmem") {
      for (const a of new Set(
        sites.filter((s) => s.probe.semaphoreAddress).map((s) => bias + s.probe.semaphoreAddress),
      )) {
        bumpSemaphore(pid, a, 1, what);
        cleanups.push(() => {
          try {
            bumpSemaphore(pid, a, -1, what);
          } catch {
            // the process may be gone: nothing to lower then
          }
        });
      }
    }
  } catch (e) {
    undo();
    throw e;
  }
  const link: Link = new Link(
    {
      kind: "usdt",
      program: program.name,
      target: `${path}:${probeId}`,
      mechanism: mechanisms.has("perf_event_ioctl") ? "perf_event_ioctl" : "bpf_link",
      probeVia: "pmu",
      sites: sites.length,
    },
    fds,
    [...cleanups.reverse(), () => untrack(link)],
  );
  // /proc/<pid>/mem semaphores outlive our fds: the exit registry lowers them if the process just ends
  if (semaphoreVia === "procmem") track(link);
  return link;
}

/** BPF_LINK_CREATE(BPF_PERF_EVENT) with the spec id as BPF cookie, or (no cookie) the ioctl fallback. */
function attachSite(
  program: AttachableProgram,
  perf: Fd,
  cookie: bigint | undefined,
  options: UsdtOptions,
  fds: Fd[],
  what: string,
): LinkMechanism {
  const progFd = programFd(program);
  if (!options.forceIoctl) {
    try {
      const fd = linkCreate(
        { progFd, targetFd: perf.value, attachType: ATTACH.PERF_EVENT, perfEventCookie: cookie ?? 0n },
        `usdt link ${program.name}`,
      );
      fds.push(fd);
      return "bpf_link";
    } catch (e) {
      const fallback = e instanceof SyscallError && [ERRNO.EINVAL, 95, 524].includes(e.errno);
      if (cookie !== undefined || !fallback)
        throw SyscallError.wrap(`${what}: attach failed`, e, {
          ...(e instanceof SyscallError && e.errno === ERRNO.EINVAL
            ? { hint: 'is the program a SEC("usdt") (kprobe-type) program?' }
            : {}),
        });
    }
  }
  try {
    ioctl(perf.value, PERF_EVENT_IOC.SET_BPF, progFd);
    ioctl(perf.value, PERF_EVENT_IOC.ENABLE, 0);
  } catch (e) {
    throw SyscallError.wrap(`${what}: attach failed`, e);
  }
  return "perf_event_ioctl";
}

/** "path:provider:name" (a SEC("usdt/…") target; the path may itself contain ':') → its parts. */
export function parseUsdtTarget(target: string): { binary: string; provider: string; name: string } {
  const parts = target.split(":");
  if (parts.length < 3 || parts.some((p) => p === ""))
    throw new UsageError(`usdt target '${target}' is not <binary>:<provider>:<name>`, {
      hint: 'write the section as SEC("usdt//usr/bin/python3:python:function__entry"), or attach with attachUsdt(prog, { binary, provider, name })',
    });
  const name = parts.pop()!;
  const provider = parts.pop()!;
  return { binary: parts.join(":"), provider, name };
}
