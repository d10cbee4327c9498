/** Object commands: BTF_LOAD, *_GET_NEXT_ID, *_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD, OBJ_PIN / OBJ_GET. */
import { SyscallError } from "../errors.ts";
import { Attr, attrEnd, cString, LayoutReader, readCStr } from "./attr.ts";
import { BPF_CMD, bpf, bpfRaw } from "./bpf.ts";
import { ERRNO, errnoName } from "./errno.ts";
import { Fd } from "./fd.ts";
import {
  BTF_INFO,
  BTF_LOAD_ATTR,
  GET_ID_ATTR,
  INFO_ATTR,
  LINK_INFO,
  MAP_INFO,
  OBJ_ATTR,
  PROG_INFO,
} from "./uapi.generated.ts";

/** BTF_LOAD failed; `btfLog` is the kernel's BTF verifier log. */
export class BtfLoadFailure extends SyscallError {
  constructor(
    readonly btfLog: string,
    errno: number,
  ) {
    super("BPF_BTF_LOAD", errno, errnoName(errno));
  }
}

/** BPF_BTF_LOAD → owned fd; on failure reloads with a log (growing up to 16 MiB) and throws BtfLoadFailure. */
export function btfLoad(btf: Uint8Array, name = "btf"): Fd {
  const attr = Attr.upTo(BTF_LOAD_ATTR, "btf_log_true_size").ptr("btf", btf).set("btf_size", btf.byteLength);
  const r = bpfRaw(BPF_CMD.BTF_LOAD, attr.bytes);
  if (r >= 0) return new Fd(r, name);
  for (let size = 64 << 10; ; size *= 4) {
    const log = new Uint8Array(size);
    attr.ptr("btf_log_buf", log).set("btf_log_size", size).set("btf_log_level", 1);
    const r2 = bpfRaw(BPF_CMD.BTF_LOAD, attr.bytes);
    if (r2 >= 0) return new Fd(r2, name);
    if (-r2 === ERRNO.ENOSPC && size < 16 << 20) continue;
    const end = log.indexOf(0);
    throw new BtfLoadFailure(new TextDecoder().decode(log.subarray(0, end < 0 ? size : end)), -r2);
  }
}

export type ObjKind = "prog" | "map" | "btf" | "link";
const NEXT_ID: Record<ObjKind, number> = {
  prog: BPF_CMD.PROG_GET_NEXT_ID,
  map: BPF_CMD.MAP_GET_NEXT_ID,
  btf: BPF_CMD.BTF_GET_NEXT_ID,
  link: BPF_CMD.LINK_GET_NEXT_ID,
};
const FD_BY_ID: Record<ObjKind, number> = {
  prog: BPF_CMD.PROG_GET_FD_BY_ID,
  map: BPF_CMD.MAP_GET_FD_BY_ID,
  btf: BPF_CMD.BTF_GET_FD_BY_ID,
  link: BPF_CMD.LINK_GET_FD_BY_ID,
};

/** The id after `start` of this kind of object, or undefined at the end (ENOENT). */
export function getNextId(kind: ObjKind, start: number): number | undefined {
  const a = Attr.upTo(GET_ID_ATTR, "open_flags").set("start_id", start);
  const r = bpfRaw(NEXT_ID[kind], a.bytes);
  if (r === -ERRNO.ENOENT) return undefined;
  if (r < 0) throw new SyscallError(`BPF_${kind.toUpperCase()}_GET_NEXT_ID`, -r, errnoName(-r));
  return a.u32("next_id");
}

/** Every id of this kind currently in the kernel. */
export function allIds(kind: ObjKind): number[] {
  const out: number[] = [];
  for (let id = getNextId(kind, 0); id !== undefined; id = getNextId(kind, id)) out.push(id);
  return out;
}

/** An owned fd for an object id; undefined when it went away meanwhile (ENOENT). */
export function fdById(kind: ObjKind, id: number): Fd | undefined {
  const r = bpfRaw(FD_BY_ID[kind], Attr.upTo(GET_ID_ATTR, "open_flags").set("start_id", id).bytes);
  if (r === -ERRNO.ENOENT) return undefined;
  if (r < 0) throw new SyscallError(`BPF_${kind.toUpperCase()}_GET_FD_BY_ID ${id}`, -r, errnoName(-r));
  return new Fd(r, `${kind} id ${id}`);
}

function getInfo(fd: number, info: Uint8Array): void {
  const attr = new Attr(INFO_ATTR).set("bpf_fd", fd).set("info_len", info.byteLength).ptr("info", info);
  bpf(BPF_CMD.OBJ_GET_INFO_BY_FD, attr.bytes);
}

export interface ProgInfo {
  type: number;
  id: number;
  tag: string;
  name: string;
  btfId: number;
  xlatedProgLen: number;
  verifiedInsns: number;
  nrMapIds: number;
  attachBtfObjId: number;
  attachBtfId: number;
  runTimeNs: bigint;
  runCnt: bigint;
}

/** The prefix of bpf_prog_info that {@link progInfo} reads (older kernels fill what they know). */
const PROG_INFO_SIZE = attrEnd(PROG_INFO, "attach_btf_id");

export function progInfo(fd: number): ProgInfo {
  const b = new Uint8Array(PROG_INFO_SIZE);
  getInfo(fd, b);
  const r = new LayoutReader(PROG_INFO, b);
  return {
    type: r.u32("type"),
    id: r.u32("id"),
    tag: r.hex("tag"),
    xlatedProgLen: r.u32("xlated_prog_len"),
    nrMapIds: r.u32("nr_map_ids"),
    name: r.str("name"),
    btfId: r.u32("btf_id"),
    runTimeNs: r.u64("run_time_ns"),
    runCnt: r.u64("run_cnt"),
    verifiedInsns: r.u32("verified_insns"),
    attachBtfObjId: r.u32("attach_btf_obj_id"),
    attachBtfId: r.u32("attach_btf_id"),
  };
}

/**
 * The program as the kernel runs it, after the verifier's rewrites (`xlated_prog_insns` of
 * BPF_OBJ_GET_INFO_BY_FD; the kernel hands them only to a bpf-capable caller).
 */
export function progXlatedInsns(fd: number): Uint8Array {
  const len = progInfo(fd).xlatedProgLen;
  // off-heap: the kernel writes through this buffer's address
  const insns = new Uint8Array(new ArrayBuffer(Math.max(len, 8)), 0, len);
  const info = new Attr(PROG_INFO, PROG_INFO_SIZE)
    .set("xlated_prog_len", len)
    .ptr("xlated_prog_insns", insns);
  getInfo(fd, info.bytes);
  return insns;
}

export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  mapExtra: bigint;
}

export function mapInfo(fd: number): MapInfo {
  const b = new Uint8Array(attrEnd(MAP_INFO, "map_extra"));
  getInfo(fd, b);
  const r = new LayoutReader(MAP_INFO, b);
  return {
    type: r.u32("type"),
    id: r.u32("id"),
    keySize: r.u32("key_size"),
    valueSize: r.u32("value_size"),
    maxEntries: r.u32("max_entries"),
    flags: r.u32("map_flags"),
    name: r.str("name"),
    btfId: r.u32("btf_id"),
    btfKeyTypeId: r.u32("btf_key_type_id"),
    btfValueTypeId: r.u32("btf_value_type_id"),
    mapExtra: r.u64("map_extra"),
  };
}

export interface BtfInfo {
  id: number;
  name: string;
  size: number;
  kernelBtf: boolean;
}

/** BTF object info; with `withData` also the raw BTF bytes (a second call sized from the first). */
export function btfInfo(fd: number, withData = false): BtfInfo & { data?: Uint8Array } {
  const name = new Uint8Array(64);
  const query = (data: Uint8Array | null): Attr => {
    const info = new Attr(BTF_INFO, attrEnd(BTF_INFO, "kernel_btf"))
      .ptr("name", name)
      .set("name_len", name.byteLength);
    if (data) info.ptr("btf", data).set("btf_size", data.byteLength);
    getInfo(fd, info.bytes);
    return info;
  };
  const info = query(null);
  const size = info.u32("btf_size");
  const out: BtfInfo & { data?: Uint8Array } = {
    id: info.u32("id"),
    name: readCStr(name, 0, name.byteLength),
    size,
    kernelBtf: info.u32("kernel_btf") !== 0,
  };
  if (withData) {
    const data = new Uint8Array(size);
    query(data);
    out.data = data;
  }
  return out;
}

export interface LinkInfo {
  type: number;
  id: number;
  progId: number;
}

/** 48 bytes: the header and the largest per-type union member kernels before 6.x knew (so none refuses it). */
const LINK_INFO_SIZE = 48;

export function linkInfo(fd: number): LinkInfo {
  const b = new Uint8Array(LINK_INFO_SIZE);
  getInfo(fd, b);
  const r = new LayoutReader(LINK_INFO, b);
  return { type: r.u32("type"), id: r.u32("id"), progId: r.u32("prog_id") };
}

/** BPF_OBJ_PIN: pins `fd` at a path on a bpffs mount. */
export function objPin(fd: number, path: string): void {
  bpf(
    BPF_CMD.OBJ_PIN,
    Attr.upTo(OBJ_ATTR, "file_flags").ptr("pathname", cString(path)).set("bpf_fd", fd).bytes,
  );
}

/** BPF_OBJ_GET: an owned fd for a pinned object; undefined when nothing is pinned there (ENOENT). */
export function objGet(path: string, what: string): Fd | undefined {
  const r = bpfRaw(BPF_CMD.OBJ_GET, Attr.upTo(OBJ_ATTR, "file_flags").ptr("pathname", cString(path)).bytes);
  if (r === -ERRNO.ENOENT) return undefined;
  if (r < 0) throw new SyscallError(`BPF_OBJ_GET '${path}'`, -r, errnoName(-r));
  return new Fd(r, what);
}
