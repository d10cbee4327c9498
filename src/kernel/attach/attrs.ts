/** `union bpf_attr` encodings for the attach commands, sized to the last field used. */
import { ATTACH_TYPE } from "../../object/uapi.ts";
import { BPF_CMD, bpf } from "../../sys/bpf.ts";

/** The bpf(2) commands and attach types: the one table of each (src/sys/bpf.ts, src/object/uapi.ts). */
export const CMD = BPF_CMD;
export const ATTACH = ATTACH_TYPE;

export const BPF_F_KPROBE_MULTI_RETURN = 1;

function attrOf(size: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(new ArrayBuffer(size));
  return { bytes, view: new DataView(bytes.buffer) };
}

export interface LinkCreateOptions {
  progFd: number;
  targetFd?: number;
  attachType: number;
  flags?: number;
  /** bytes 16.. of the attr (the per-attach-type union), already encoded little-endian. */
  tail?: Uint8Array;
}

/** BPF_LINK_CREATE → link fd (raw number; the caller wraps it in an Fd). */
export function linkCreate(o: LinkCreateOptions): number {
  const { bytes, view } = attrOf(16 + Math.max(o.tail?.byteLength ?? 0, 8));
  view.setUint32(0, o.progFd, true);
  view.setUint32(4, o.targetFd ?? 0, true);
  view.setUint32(8, o.attachType, true);
  view.setUint32(12, o.flags ?? 0, true);
  if (o.tail) bytes.set(o.tail, 16);
  return bpf(CMD.LINK_CREATE, bytes);
}

/** BPF_RAW_TRACEPOINT_OPEN with a name pointer (0 for tp_btf/fentry: the target is in the program). */
export function rawTracepointOpen(progFd: number, nameAddress: bigint): number {
  const { bytes, view } = attrOf(16);
  view.setBigUint64(0, nameAddress, true);
  view.setUint32(8, progFd, true);
  return bpf(CMD.RAW_TRACEPOINT_OPEN, bytes);
}

/** BPF_ITER_CREATE: a readable fd producing the iterator's output. */
export function iterCreate(linkFd: number): number {
  const { bytes, view } = attrOf(8);
  view.setUint32(0, linkFd, true);
  return bpf(CMD.ITER_CREATE, bytes);
}

/** Little-endian u64 array in stable (off-heap) memory, for attr fields that point at arrays. */
export function u64Array(values: bigint[]): Uint8Array {
  const bytes = new Uint8Array(new ArrayBuffer(Math.max(values.length * 8, 72)));
  const v = new DataView(bytes.buffer);
  for (const [i, x] of values.entries()) v.setBigUint64(i * 8, x, true);
  return bytes;
}
