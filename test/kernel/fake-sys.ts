/**
 * A stand-in kernel for the loader's own bookkeeping (test/kernel/loader-fake.test.ts): a SysBackend that records
 * every call, hands out real but harmless fds (/dev/null) as the kernel objects, and fails the Nth call with an
 * errno; and an Environment for a kernel that has no optional features. Not a model of BPF: nothing is verified.
 */
import { openSync, writeFileSync } from "node:fs";
import type { Btf } from "../../src/btf/index.ts";
import { SyscallError } from "../../src/errors.ts";
import type { Environment } from "../../src/kernel/environment.ts";
import { ModuleBtfSet } from "../../src/kernel/kernel-btf.ts";
import { ALL_BTF_FEATURES } from "../../src/link/btf-sanitize.ts";
import type { SysBackend } from "../../src/sys/backend.ts";
import type { MapCreateAttr } from "../../src/sys/bpf-map.ts";
import { BtfLoadFailure, type MapInfo } from "../../src/sys/bpf-obj.ts";
import { type ProgLoadAttr, ProgLoadFailure } from "../../src/sys/bpf-prog.ts";
import { errnoName } from "../../src/sys/errno.ts";
import { Fd } from "../../src/sys/fd.ts";
import type { Mapping } from "../../src/sys/mmap.ts";

export type FakeOp = Exclude<keyof SysBackend, "name">;

export interface FakeCall {
  op: FakeOp;
  /** The object the call creates or acts on: `map 'counts'`, `program 'emit'`, `BTF of …`. */
  what: string;
  /** map_create: whether it carried key/value BTF. */
  withBtf?: boolean;
  /** map_update: a copy of the value written. */
  value?: Uint8Array;
}

export class FakeSys implements SysBackend {
  readonly name = "fake";
  readonly calls: FakeCall[] = [];
  /** Every fd handed out, in order. */
  readonly handed: Fd[] = [];
  readonly #names = new Map<number, string>();
  readonly #infos = new Map<number, MapInfo>();
  /** bpffs stand-in: path → the pinned map's info. objPin also writes an empty file at the path. */
  readonly pinned = new Map<string, MapInfo>();

  /** Fails call number `failAt.n` (1-based) with `failAt.errno`. */
  constructor(readonly failAt?: { n: number; errno: number }) {}

  #call(c: FakeCall, failure: (errno: number) => Error): void {
    this.calls.push(c);
    if (this.failAt?.n === this.calls.length) throw failure(this.failAt.errno);
  }

  #fd(what: string): Fd {
    const fd = new Fd(openSync("/dev/null", "r"), what);
    this.handed.push(fd);
    this.#names.set(fd.value, what);
    return fd;
  }

  #on(fd: number): string {
    return this.#names.get(fd) ?? `fd ${fd}`;
  }

  btfLoad(_btf: Uint8Array, name: string): Fd {
    this.#call({ op: "btfLoad", what: name }, (e) => new BtfLoadFailure("fake: BTF refused", e));
    return this.#fd(name);
  }

  mapCreate(a: MapCreateAttr): Fd {
    const what = `map '${a.name ?? ""}'`;
    this.#call(
      { op: "mapCreate", what, withBtf: (a.btfFd ?? 0) !== 0 },
      (e) => new SyscallError("BPF_MAP_CREATE", e, errnoName(e)),
    );
    const fd = this.#fd(what);
    this.#infos.set(fd.value, {
      type: a.type,
      id: this.handed.length,
      keySize: a.keySize,
      valueSize: a.valueSize,
      maxEntries: a.maxEntries,
      flags: a.flags ?? 0,
      name: a.name ?? "",
      btfId: 0,
      btfKeyTypeId: a.btfKeyTypeId ?? 0,
      btfValueTypeId: a.btfValueTypeId ?? 0,
      mapExtra: BigInt(a.mapExtra ?? 0),
    });
    return fd;
  }

  mapUpdate(fd: number, _key: Uint8Array, value: Uint8Array): void {
    this.#call(
      { op: "mapUpdate", what: this.#on(fd), value: value.slice() },
      (e) => new SyscallError("BPF_MAP_UPDATE_ELEM", e, errnoName(e)),
    );
  }

  mapFreeze(fd: number): void {
    this.#call(
      { op: "mapFreeze", what: this.#on(fd) },
      (e) => new SyscallError("BPF_MAP_FREEZE", e, errnoName(e)),
    );
  }

  mapInfo(fd: number): MapInfo {
    this.#call(
      { op: "mapInfo", what: this.#on(fd) },
      (e) => new SyscallError("BPF_OBJ_GET_INFO_BY_FD", e, errnoName(e)),
    );
    const info = this.#infos.get(fd);
    if (!info) throw new Error(`FakeSys: mapInfo of ${this.#on(fd)}, which is no map`);
    return info;
  }

  objPin(fd: number, path: string): void {
    this.#call(
      { op: "objPin", what: `${this.#on(fd)} at ${path}` },
      (e) => new SyscallError("BPF_OBJ_PIN", e, errnoName(e)),
    );
    const info = this.#infos.get(fd);
    if (!info) throw new Error(`FakeSys: objPin of ${this.#on(fd)}, which is no map`);
    this.pinned.set(path, info);
    writeFileSync(path, "");
  }

  objGet(path: string, what: string): Fd | undefined {
    this.#call(
      { op: "objGet", what: `${what} at ${path}` },
      (e) => new SyscallError("BPF_OBJ_GET", e, errnoName(e)),
    );
    const info = this.pinned.get(path);
    if (!info) return undefined;
    const fd = this.#fd(what);
    this.#infos.set(fd.value, info);
    return fd;
  }

  progLoad(a: ProgLoadAttr): { fd: Fd; log: string } {
    const what = `program '${a.name ?? ""}'`;
    this.#call(
      { op: "progLoad", what },
      (e) => new ProgLoadFailure("0: (b7) r0 = 0\nfake: the verifier says no\n", e, false),
    );
    return { fd: this.#fd(what), log: "" };
  }

  mmap(fd: number): Mapping {
    throw new Error(`FakeSys: mmap(${this.#on(fd)}) is not faked (FakeEnv answers no to mmapableArray)`);
  }
}

/** A kernel that answers no to every optional feature, has no modules and no kallsyms. */
export const fakeEnv: Environment = {
  name: "fake",
  vmlinuxBtf(): Btf {
    throw new Error("FakeEnv has no vmlinux BTF (these objects need none)");
  },
  moduleBtfs: () => new ModuleBtfSet([]),
  supports: () => false,
  btfFeatures: () => ALL_BTF_FEATURES,
  kallsymsAddresses: () => new Map(),
  kernelVersionCode: () => (6 << 16) | (12 << 8),
  release: () => "6.12.0-fake",
  unprivileged: () => false,
  permissionEvidence: () => ({ caps: undefined, lockdown: undefined }),
  possibleCpus: () => 2,
  kernelConfig: () => null,
};
