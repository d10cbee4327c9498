/** Link commands on the generated layouts: BPF_LINK_CREATE, BPF_RAW_TRACEPOINT_OPEN, BPF_ITER_CREATE → owned fds. */
import { Attr, addressOf, cString } from "./attr.ts";
import { BPF_CMD, bpf } from "./bpf.ts";
import { Fd } from "./fd.ts";
import { ITER_CREATE_ATTR, ITER_LINK_INFO, LINK_CREATE_ATTR, RAW_TRACEPOINT_ATTR } from "./uapi.generated.ts";

/** The iterator's target object (union bpf_iter_link_info): one of a map, a task by tid, a process by pid. */
export interface IterTarget {
  mapFd?: number | undefined;
  tid?: number | undefined;
  pid?: number | undefined;
}

export interface LinkCreateAttr {
  progFd: number;
  targetFd?: number;
  attachType: number;
  flags?: number;
  /** perf_event.bpf_cookie (BPF_PERF_EVENT links). */
  perfEventCookie?: bigint;
  /** iter_info (BPF_TRACE_ITER links). */
  iter?: IterTarget;
  /** kprobe_multi (BPF_TRACE_KPROBE_MULTI links): the symbol names and flags (BPF_F_KPROBE_MULTI). */
  kprobeMulti?: { syms: string[]; flags?: number };
}

/** A little-endian u64 array in off-heap memory, for attr fields that point at arrays. */
function u64Array(values: bigint[]): Uint8Array {
  const bytes = new Uint8Array(new ArrayBuffer(Math.max(values.length * 8, 8)));
  const v = new DataView(bytes.buffer);
  for (const [i, x] of values.entries()) v.setBigUint64(i * 8, x, true);
  return bytes;
}

function iterInfo(t: IterTarget): Uint8Array {
  const info = new Attr(ITER_LINK_INFO);
  if (t.mapFd !== undefined) info.set("map.map_fd", t.mapFd);
  else if (t.tid !== undefined) info.set("task.tid", t.tid);
  else if (t.pid !== undefined) info.set("task.pid", t.pid);
  return info.bytes;
}

/**
 * BPF_LINK_CREATE → an owned link fd named `what`. The attr ends at the last per-kind field used (at least at
 * perf_event.bpf_cookie, as before); buffers it points at are pinned until the call returns.
 */
export function linkCreate(a: LinkCreateAttr, what: string): Fd {
  return new Fd(bpf(BPF_CMD.LINK_CREATE, encodeLinkCreate(a).bytes), what);
}

/** The BPF_LINK_CREATE attr of {@link linkCreate} (it pins what it points at). */
export function encodeLinkCreate(a: LinkCreateAttr): Attr<typeof LINK_CREATE_ATTR> {
  const last = a.kprobeMulti ? "kprobe_multi.cookies" : a.iter ? "iter_info_len" : "perf_event.bpf_cookie";
  const attr = Attr.upTo(LINK_CREATE_ATTR, last)
    .set("prog_fd", a.progFd)
    .set("target_fd", a.targetFd ?? 0)
    .set("attach_type", a.attachType)
    .set("flags", a.flags ?? 0);
  if (a.perfEventCookie !== undefined) attr.set("perf_event.bpf_cookie", a.perfEventCookie);
  if (a.iter && (a.iter.mapFd !== undefined || a.iter.tid !== undefined || a.iter.pid !== undefined)) {
    const info = iterInfo(a.iter);
    attr.ptr("iter_info", info).set("iter_info_len", info.byteLength);
  }
  if (a.kprobeMulti) {
    const names = a.kprobeMulti.syms.map(cString);
    const ptrs = u64Array(names.map(addressOf));
    attr
      .pin(...names)
      .set("kprobe_multi.flags", a.kprobeMulti.flags ?? 0)
      .set("kprobe_multi.cnt", names.length)
      .ptr("kprobe_multi.syms", ptrs);
  }
  return attr;
}

/** BPF_RAW_TRACEPOINT_OPEN: `name` for raw_tp, null for tp_btf/fentry (the target is in the program). */
export function rawTracepointOpen(progFd: number, name: string | null, what: string): Fd {
  const attr = Attr.upTo(RAW_TRACEPOINT_ATTR, "prog_fd").set("prog_fd", progFd);
  if (name !== null) attr.ptr("name", cString(name));
  return new Fd(bpf(BPF_CMD.RAW_TRACEPOINT_OPEN, attr.bytes), what);
}

/** BPF_ITER_CREATE: a readable fd producing the iterator's output. */
export function iterCreate(linkFd: number, what: string): Fd {
  const attr = Attr.upTo(ITER_CREATE_ATTR, "link_fd").set("link_fd", linkFd);
  return new Fd(bpf(BPF_CMD.ITER_CREATE, attr.bytes), what);
}
