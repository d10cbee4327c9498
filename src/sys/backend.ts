/**
 * The syscall seam: the bpf(2) commands (and the mmap) the loader issues, as an interface. `hostSys` is the
 * real one (these src/sys wrappers, on the generated layouts); `loadCollection(spec, { sys })` takes another,
 * e.g. a test's FakeSys that stands in for the kernel to check the loader's own bookkeeping, or later a
 * userspace runtime. Every handle comes back as an owned {@link Fd}.
 */
import { type MapCreateAttr, mapCreate, mapFreeze, mapUpdate } from "./bpf-map.ts";
import { btfLoad, type MapInfo, mapInfo, objGet, objPin } from "./bpf-obj.ts";
import { type ProgLoadAttr, type ProgLoadOptions, progLoad } from "./bpf-prog.ts";
import type { Fd } from "./fd.ts";
import { type Mapping, mmapFd } from "./mmap.ts";

export interface SysBackend {
  /** A name for messages ("host", "fake"). */
  readonly name: string;
  /** BPF_BTF_LOAD; throws BtfLoadFailure (with the kernel's BTF log) when refused. */
  btfLoad(btf: Uint8Array, name: string): Fd;
  /** BPF_MAP_CREATE; throws SyscallError. */
  mapCreate(attr: MapCreateAttr): Fd;
  /** BPF_MAP_UPDATE_ELEM with caller buffers. */
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags?: number): void;
  /** BPF_MAP_FREEZE. */
  mapFreeze(fd: number): void;
  /** BPF_OBJ_GET_INFO_BY_FD for a map. */
  mapInfo(fd: number): MapInfo;
  /** BPF_OBJ_PIN. */
  objPin(fd: number, path: string): void;
  /** BPF_OBJ_GET; undefined when nothing is pinned there. */
  objGet(path: string, what: string): Fd | undefined;
  /** BPF_PROG_LOAD; throws ProgLoadFailure (with the verifier log) when refused. */
  progLoad(attr: ProgLoadAttr, options?: ProgLoadOptions): { fd: Fd; log: string };
  /** mmap of a map fd (BPF_F_MMAPABLE global data). */
  mmap(fd: number, length: number, prot: number, offset: number, what: string): Mapping;
}

/** The running kernel through bpf(2). */
export const hostSys: SysBackend = {
  name: "host",
  btfLoad,
  mapCreate,
  mapUpdate,
  mapFreeze,
  mapInfo,
  objPin,
  objGet,
  progLoad,
  mmap: mmapFd,
};
