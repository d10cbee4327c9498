/** Object commands: BTF_LOAD, *_GET_NEXT_ID, *_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD, OBJ_PIN / OBJ_GET. */
import { SyscallError } from "../errors.ts";
import { Attr, cString, readCStr } from "./attr.ts";
import { BPF_CMD, bpf, bpfRaw } from "./bpf.ts";
import { ERRNO, errnoName } from "./errno.ts";
import { Fd } from "./fd.ts";

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
  const attr = new Attr(32).ptr(0, btf).u32(16, btf.byteLength);
  const r = bpfRaw(BPF_CMD.BTF_LOAD, attr.bytes);
  if (r >= 0) return new Fd(r, name);
  for (let size = 64 << 10; ; size *= 4) {
    const log = new Uint8Array(size);
    attr.ptr(8, log).u32(20, size).u32(24, 1);
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
  const a = new Attr(12).u32(0, start);
  const r = bpfRaw(NEXT_ID[kind], a.bytes);
  if (r === -ERRNO.ENOENT) return undefined;
  if (r < 0) throw new SyscallError(`BPF_${kind.toUpperCase()}_GET_NEXT_ID`, -r, errnoName(-r));
  return a.getU32(4);
}

/** Every id of this kind currently in the kernel. */
export function allIds(kind: ObjKind): number[] {
  const out: number[] = [];
  for (let id = getNextId(kind, 0); id !== undefined; id = getNextId(kind, id)) out.push(id);
  return out;
}

/** An owned fd for an object id; undefined when it went away meanwhile (ENOENT). */
export function fdById(kind: ObjKind, id: number): Fd | undefined {
  const r = bpfRaw(FD_BY_ID[kind], new Attr(12).u32(0, id).bytes);
  if (r === -ERRNO.ENOENT) return undefined;
  if (r < 0) throw new SyscallError(`BPF_${kind.toUpperCase()}_GET_FD_BY_ID ${id}`, -r, errnoName(-r));
  return new Fd(r, `${kind} id ${id}`);
}

function getInfo(fd: number, info: Uint8Array): void {
  bpf(BPF_CMD.OBJ_GET_INFO_BY_FD, new Attr(16).u32(0, fd).u32(4, info.byteLength).ptr(8, info).bytes);
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

export function progInfo(fd: number): ProgInfo {
  const b = new Uint8Array(232);
  getInfo(fd, b);
  const v = new DataView(b.buffer);
  let tag = "";
  for (let i = 8; i < 16; i++) tag += b[i]!.toString(16).padStart(2, "0");
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    tag,
    xlatedProgLen: v.getUint32(20, true),
    nrMapIds: v.getUint32(52, true),
    name: readCStr(b, 64, 16),
    btfId: v.getUint32(128, true),
    runTimeNs: v.getBigUint64(192, true),
    runCnt: v.getBigUint64(200, true),
    verifiedInsns: v.getUint32(216, true),
    attachBtfObjId: v.getUint32(220, true),
    attachBtfId: v.getUint32(224, true),
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
  const info = new Attr(232).u32(20, len).ptr(32, insns);
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
  const b = new Uint8Array(88);
  getInfo(fd, b);
  const v = new DataView(b.buffer);
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    keySize: v.getUint32(8, true),
    valueSize: v.getUint32(12, true),
    maxEntries: v.getUint32(16, true),
    flags: v.getUint32(20, true),
    name: readCStr(b, 24, 16),
    btfId: v.getUint32(64, true),
    btfKeyTypeId: v.getUint32(68, true),
    btfValueTypeId: v.getUint32(72, true),
    mapExtra: v.getBigUint64(80, true),
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
    const info = new Attr(32).ptr(16, name).u32(24, name.byteLength);
    if (data) info.ptr(0, data).u32(8, data.byteLength);
    getInfo(fd, info.bytes);
    return info;
  };
  const info = query(null);
  const size = info.getU32(8);
  const out: BtfInfo & { data?: Uint8Array } = {
    id: info.getU32(12),
    name: readCStr(name, 0, name.byteLength),
    size,
    kernelBtf: info.getU32(28) !== 0,
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

export function linkInfo(fd: number): LinkInfo {
  const b = new Uint8Array(48);
  getInfo(fd, b);
  const v = new DataView(b.buffer);
  return { type: v.getUint32(0, true), id: v.getUint32(4, true), progId: v.getUint32(8, true) };
}

/** BPF_OBJ_PIN: pins `fd` at a path on a bpffs mount. */
export function objPin(fd: number, path: string): void {
  bpf(BPF_CMD.OBJ_PIN, new Attr(16).ptr(0, cString(path)).u32(8, fd).bytes);
}

/** BPF_OBJ_GET: an owned fd for a pinned object; undefined when nothing is pinned there (ENOENT). */
export function objGet(path: string, what: string): Fd | undefined {
  const r = bpfRaw(BPF_CMD.OBJ_GET, new Attr(16).ptr(0, cString(path)).bytes);
  if (r === -ERRNO.ENOENT) return undefined;
  if (r < 0) throw new SyscallError(`BPF_OBJ_GET '${path}'`, -r, errnoName(-r));
  return new Fd(r, what);
}
