/**
 * The transactional loader: turns an ObjectSpec into kernel objects. It owns every fd it creates and closes
 * all of them if any step fails; on success `finish()` hands them to a Collection. Order (as cilium/ebpf and
 * aya): BTF → maps (+ global data contents) → externs → per program: relocations, CO-RE, attach BTF id,
 * PROG_LOAD → map initial values (prog arrays, map-in-map).
 */
import { rmSync } from "node:fs";
import type { Btf } from "../btf/index.ts";
import { BtfError, KfuncError, ObjectError, SyscallError, UsageError } from "../errors.ts";
import { type BtfFeatureSet, sanitizeBtf } from "../link/btf-sanitize.ts";
import { applyCoreRelo, CandidateCache } from "../link/core.ts";
import {
  type KernelBtfs,
  type KernelModuleBtf,
  resolveKfunc,
  resolveTypedKsym,
} from "../link/kfunc-resolve.ts";
import { applyRelocations, type ExternResolution, FdArray } from "../link/relocate.ts";
import { log } from "../log.ts";
import { attachBtfName } from "../object/sections.ts";
import type { ExternSpec, MapSpec, ObjectSpec, ProgramSpec } from "../object/types.ts";
import { hostSys, type SysBackend } from "../sys/backend.ts";
import { BtfLoadFailure } from "../sys/bpf-obj.ts";
import { encodeFuncInfo, encodeLineInfo, ProgLoadFailure } from "../sys/bpf-prog.ts";
import { BPF_F, BPF_MAP_TYPE, BPF_PROG_F, BPF_PROG_TYPE } from "../sys/constants.ts";
import type { Fd } from "../sys/fd.ts";
import { type Mapping, PROT_READ, PROT_WRITE, pageSize } from "../sys/mmap.ts";
import { type Environment, hostEnvironment } from "./environment.ts";
import { GlobalData, type MmapDecision, mmapDecision } from "./global-data.ts";
import type { ModuleBtfSet } from "./kernel-btf.ts";
import { fillKconfig } from "./ksyms.ts";
import type { LoadSession } from "./load-session.ts";
import { BpfMap } from "./map.ts";
import { Program } from "./program.ts";
import { verifierError } from "./verifier-error.ts";
import { vmlinuxTypesByName } from "./vmlinux-ids.ts";

export interface LoadOptions {
  /** bpffs directory for maps with `pinning = LIBBPF_PIN_BY_NAME` (default /sys/fs/bpf). */
  pinPath: string;
  /** Load only these programs (by name); default all. */
  programs: string[] | undefined;
  /** Verifier log level when a log is requested or a load fails (1; 2 = verbose). */
  logLevel: number;
  /** Keep the verifier log of successful loads on Program.verifierLog. */
  alwaysLog: boolean;
  /** Initial verifier log buffer (grown on ENOSPC up to `maxLogSize`). */
  logSize: number;
  /** Load without the object's BTF when the kernel rejects it (libbpf's behaviour; default false: an error). */
  btfOptional: boolean;
  /** The largest verifier log buffer (default 16 MiB); a longer log is cut (ENOSPC), as a fixed buffer is. */
  maxLogSize: number;
  /** Kernel BTF (default: the running kernel's /sys/kernel/btf/vmlinux). */
  kernelBtf: Btf | undefined;
  /** BTF kinds the kernel accepts (default: probed). */
  btfFeatures: BtfFeatureSet | undefined;
  /** mmap writable global data (default true when the kernel supports BPF_F_MMAPABLE). */
  mmapGlobals: boolean;
  /**
   * Share the module BTF set and the object's loaded BTF with other loads of this spec (or its clones) in
   * this process (see LoadSession); default: each load enumerates module BTF and loads the object's BTF.
   */
  session: LoadSession | undefined;
  /** The syscall backend (default: the running kernel through bpf(2), src/sys/backend.ts's hostSys). */
  sys: SysBackend;
  /** Kernel BTF, features, kallsyms, release, privileges (default: the running kernel's). */
  env: Environment;
}

export function withDefaults(o: Partial<LoadOptions> = {}): LoadOptions {
  return {
    pinPath: o.pinPath ?? "/sys/fs/bpf",
    programs: o.programs,
    logLevel: o.logLevel ?? 1,
    alwaysLog: o.alwaysLog ?? false,
    logSize: o.logSize ?? 64 << 10,
    maxLogSize: o.maxLogSize ?? 16 << 20,
    btfOptional: o.btfOptional ?? false,
    kernelBtf: o.kernelBtf,
    btfFeatures: o.btfFeatures,
    mmapGlobals: o.mmapGlobals ?? true,
    session: o.session,
    sys: o.sys ?? hostSys,
    env: o.env ?? hostEnvironment,
  };
}

/** Map types created without key/value BTF (libbpf does the same). */
const NO_BTF_MAPS = new Set<number>([
  BPF_MAP_TYPE.PERF_EVENT_ARRAY,
  BPF_MAP_TYPE.CGROUP_ARRAY,
  BPF_MAP_TYPE.STACK_TRACE,
  BPF_MAP_TYPE.ARRAY_OF_MAPS,
  BPF_MAP_TYPE.HASH_OF_MAPS,
  BPF_MAP_TYPE.DEVMAP,
  BPF_MAP_TYPE.DEVMAP_HASH,
  BPF_MAP_TYPE.CPUMAP,
  BPF_MAP_TYPE.XSKMAP,
  BPF_MAP_TYPE.SOCKMAP,
  BPF_MAP_TYPE.SOCKHASH,
  BPF_MAP_TYPE.QUEUE,
  BPF_MAP_TYPE.STACK,
  BPF_MAP_TYPE.RINGBUF,
  BPF_MAP_TYPE.USER_RINGBUF,
]);

/** Kernel object names: at most 15 chars of [A-Za-z0-9_.]. */
export function objName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, "_").slice(0, 15);
}

export interface LoadedParts {
  programs: Map<string, Program>;
  maps: Map<string, BpfMap>;
  globals: Map<string, GlobalData>;
  btfFd: Fd | undefined;
}

/** The kernel refused an object BTF that the load may go without (thrown inside #loadBtf only). */
class OptionalBtfRefused extends Error {}

export class CollectionLoader {
  readonly spec: ObjectSpec;
  readonly opts: LoadOptions;
  readonly #sys: SysBackend;
  readonly #env: Environment;
  readonly #owned: { close(): void }[] = [];
  readonly maps = new Map<string, BpfMap>();
  readonly globals = new Map<string, GlobalData>();
  readonly programs = new Map<string, Program>();
  #btfFd: Fd | undefined;
  #modules: ModuleBtfSet | undefined;
  #kernel: KernelBtfs | undefined;
  #externs = new Map<string, { resolution: ExternResolution; index: number }>();
  #fdArray = new FdArray();
  #cands: CandidateCache | undefined;
  readonly #mmapDecisions = new Map<string, MmapDecision>();
  /** bpffs pins this load created: removed again if the load fails (a failed load leaves nothing behind). */
  readonly #newPins: string[] = [];

  constructor(spec: ObjectSpec, opts: LoadOptions) {
    this.spec = spec;
    this.opts = opts;
    this.#sys = opts.sys;
    this.#env = opts.env;
  }

  #shape(m: MapSpec): { keySize: number; valueSize: number; maxEntries: number } {
    return createdShape(m, () => this.#env.possibleCpus());
  }

  #own<T extends { close(): void }>(o: T): T {
    this.#owned.push(o);
    return o;
  }

  /** Closes everything created so far (on failure). */
  close(): void {
    for (const o of this.#owned.reverse()) {
      try {
        o.close();
      } catch {
        // closing is best effort; the original error matters
      }
    }
    this.#owned.length = 0;
    this.#modules?.close();
    for (const p of this.#newPins) rmSync(p, { force: true });
  }

  get kernel(): KernelBtfs {
    if (!this.#kernel) {
      const vmlinux = this.opts.kernelBtf ?? this.#env.vmlinuxBtf();
      let modules: KernelModuleBtf[] | undefined;
      this.#kernel = {
        vmlinux,
        vmlinuxTypesByName: (name, kind) => vmlinuxTypesByName(vmlinux, name, kind),
        modules: () => {
          if (!modules) {
            const session = this.opts.session;
            const enumerate = (base: Btf) => this.#env.moduleBtfs(base);
            const set = session ? session.modules(vmlinux, enumerate) : enumerate(vmlinux);
            if (!session) this.#modules = set; // closed after the load; a session's stay open
            modules = set.modules.map((m) => ({
              name: m.name,
              fd: m.fd.value,
              get btf() {
                return m.btf;
              },
            }));
          }
          return modules;
        },
      };
    }
    return this.#kernel;
  }

  run(): LoadedParts {
    this.#loadBtf();
    for (const m of this.spec.maps) this.#createMap(m);
    this.#resolveExterns();
    const wanted = this.opts.programs;
    for (const name of wanted ?? []) {
      if (!this.spec.programs.some((p) => p.name === name))
        throw new UsageError(`${this.spec.source}: no program named '${name}'`, {
          hint: `programs in this object: ${this.spec.programs.map((p) => p.name).join(", ")}`,
        });
    }
    // libbpf's autoload: programs named in `programs` are loaded whatever their flag; otherwise the flag decides.
    for (const p of this.spec.programs)
      if (wanted ? wanted.includes(p.name) : p.autoload) this.#loadProgram(p);
    this.#initialValues();
    this.#modules?.close();
    this.#modules = undefined;
    const parts: LoadedParts = {
      programs: this.programs,
      maps: this.maps,
      globals: this.globals,
      // a session's BTF fd stays with the session
      btfFd: this.opts.session ? undefined : this.#btfFd,
    };
    this.#owned.length = 0; // ownership passes to the caller
    return parts;
  }

  // ---- BTF -------------------------------------------------------------------------------------

  #loadBtf(): void {
    const btf = this.spec.btf;
    if (!btf) return;
    const layouts = this.spec.dataSections.map((d) => ({
      name: d.name,
      size: d.size,
      variables: d.variables,
    }));
    const features = this.opts.btfFeatures ?? this.#env.btfFeatures();
    const hidden = new Set(
      this.spec.programs.flatMap((p) => p.subprograms.filter((s) => s.hidden).map((s) => s.name)),
    );
    // libbpf's "BTF is optional, ignoring": without CAP_BPF (an unprivileged load: BPF_BTF_LOAD is EPERM), and,
    // when kfunc test asks (it loads as test_loader.c does, through libbpf), whenever the kernel refuses it
    // (no struct_ops). The programs then load without func and line info.
    const optional = (e: BtfLoadFailure) =>
      (e.errnoName === "EPERM" && this.#env.unprivileged()) ||
      (this.opts.btfOptional && !this.spec.maps.some((m) => m.type.name.endsWith("STRUCT_OPS")));
    const load = (): Fd => {
      const bytes = sanitizeBtf(btf.bytes, btf.source, layouts, this.spec.externs, features, hidden);
      try {
        return this.#sys.btfLoad(bytes, `BTF of ${this.spec.source}`);
      } catch (e) {
        if (!(e instanceof BtfLoadFailure)) throw e;
        if (optional(e)) throw new OptionalBtfRefused(e.errnoName);
        const tail = e.btfLog.trim().split("\n").slice(-3).join(" | ");
        throw new BtfError(
          this.spec.source,
          undefined,
          `load BTF: ${e.errnoName}${tail ? `: ${tail}` : ""}`,
          {
            cause: e,
            hint: "the kernel rejected the object's BTF; is the kernel older than the compiler's BTF? (a newer kernel or `kfunc vm run`)",
          },
        );
      }
    };
    const session = this.opts.session;
    try {
      // an unprivileged load never gets a BTF fd: it must not go into (or come from) the session's cache
      if (!session || this.#env.unprivileged()) {
        this.#btfFd = this.#own(load());
        return;
      }
      // everything sanitizeBtf reads besides the BTF bytes, so that a spec changed in between loads again
      const key = JSON.stringify([layouts, this.spec.externs, features, [...hidden]]);
      this.#btfFd = session.objectBtf(btf, key, load);
    } catch (e) {
      if (!(e instanceof OptionalBtfRefused)) throw e;
      log.debug(
        `${this.spec.source}: the kernel refused the object's BTF (${e.message}); loading without it`,
      );
      this.#btfFd = undefined;
    }
  }

  // ---- maps ------------------------------------------------------------------------------------

  #create(m: MapSpec, innerMapFd: number | undefined): Fd {
    const { keySize, valueSize, maxEntries } = this.#shape(m);
    let flags = m.flags;
    if (m.dataSection && this.#mmapOf(m).mmap) flags |= BPF_F.MMAPABLE;
    const base = {
      type: m.type.id,
      keySize,
      valueSize,
      maxEntries,
      flags,
      name: objName(m.name),
      numaNode: m.numaNode,
      mapExtra: m.mapExtra,
      ...(innerMapFd !== undefined ? { innerMapFd } : {}),
    };
    const withBtf = this.#btfFd && !NO_BTF_MAPS.has(m.type.id) && (m.keyTypeId || m.valueTypeId);
    if (withBtf) {
      try {
        return this.#sys.mapCreate({
          ...base,
          btfFd: this.#btfFd!.value,
          btfKeyTypeId: m.keyTypeId,
          btfValueTypeId: m.valueTypeId,
        });
      } catch (e) {
        if (!(e instanceof SyscallError)) throw e;
        log.debug(`map '${m.name}': create with BTF failed (${e.errnoName}); retrying without BTF`);
      }
    }
    try {
      return this.#sys.mapCreate(base);
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      throw SyscallError.wrap(
        `${this.spec.source}: map '${m.name}' (${m.type.name}): create: ${e.errnoName}`,
        e,
        {
          ...(e.errnoName === "EINVAL" && m.type.id === BPF_MAP_TYPE.RINGBUF
            ? { hint: "ring buffer max_entries must be a power of 2 and a multiple of the page size" }
            : e.errnoName === "EPERM"
              ? { hint: "creating maps needs CAP_BPF (or root)" }
              : {}),
        },
      );
    }
  }

  /** Whether a global data map is created BPF_F_MMAPABLE and mmapped (libbpf's rule; see mmapDecision). */
  #mmapOf(m: MapSpec): MmapDecision {
    const section = m.dataSection!;
    let d = this.#mmapDecisions.get(section);
    if (!d) {
      const ds = this.spec.dataSections.find((x) => x.name === section);
      if (!this.opts.mmapGlobals) d = { mmap: false, reason: "mmapGlobals: false" };
      else if (!this.#env.supports("mmapableArray"))
        d = { mmap: false, reason: "the kernel has no BPF_F_MMAPABLE (Linux < 5.5)" };
      else d = mmapDecision(ds, this.spec.btf);
      this.#mmapDecisions.set(section, d);
    }
    return d;
  }

  #createMap(m: MapSpec): void {
    let pinned: string | undefined;
    let fd: Fd | undefined;
    if (m.pinning === 1) {
      pinned = `${this.opts.pinPath}/${m.name}`;
      fd = this.#sys.objGet(pinned, `map '${m.name}'`);
      if (fd) {
        const info = this.#sys.mapInfo(fd.value);
        const want = this.#shape(m);
        if (
          info.type !== m.type.id ||
          info.keySize !== want.keySize ||
          info.valueSize !== want.valueSize ||
          info.maxEntries !== want.maxEntries
        ) {
          fd.close();
          throw new ObjectError(`map '${m.name}': pinned map at '${pinned}' is incompatible`, {
            hint: `it has type ${info.type}, key ${info.keySize}, value ${info.valueSize}, max_entries ${info.maxEntries}; remove it (rm ${pinned}) or rename the map`,
          });
        }
      }
    }
    if (!fd) {
      let inner: Fd | undefined;
      try {
        if (m.innerMap) inner = this.#create(m.innerMap, undefined);
        fd = this.#create(m, inner?.value);
      } finally {
        inner?.close();
      }
      if (pinned) {
        try {
          this.#sys.objPin(fd.value, pinned);
          this.#newPins.push(pinned);
        } catch (e) {
          fd.close();
          throw e;
        }
      }
    }
    const map = this.#own(
      new BpfMap(fd, {
        name: m.name,
        type: m.type.id,
        // what the kernel has, not the spec: a PERF_EVENT_ARRAY's 0 becomes the CPU count
        ...this.#shape(m),
        flags: m.flags,
        btf: this.spec.btf,
        keyTypeId: m.keyTypeId,
        valueTypeId: m.dataSection ? 0 : m.valueTypeId,
        pinnedPath: pinned,
      }),
    );
    this.maps.set(m.name, map);
    if (m.dataSection) this.#fillGlobal(m, map);
  }

  #fillGlobal(m: MapSpec, map: BpfMap): void {
    const section = m.dataSection!;
    const ds = this.spec.dataSections.find((d) => d.name === section);
    const bytes = new Uint8Array(m.valueSize);
    if (ds) bytes.set(ds.bytes.subarray(0, m.valueSize));
    if (section === ".kconfig") fillKconfig(this.spec.externs, bytes, this.spec.source, this.#env);
    const readonly = (m.flags & BPF_F.RDONLY_PROG) !== 0;
    try {
      if (bytes.some((b) => b !== 0)) this.#sys.mapUpdate(map.fd, new Uint8Array(4), bytes);
      if (readonly) this.#sys.mapFreeze(map.fd);
    } catch (e) {
      throw SyscallError.wrap(`${this.spec.source}: global data '${section}': initial values`, e);
    }
    const decision = this.#mmapOf(m);
    // read-only sections are read through lookups: the values are fixed at load, one copy is enough
    const mapping = decision.mmap && !readonly ? this.#mmap(map) : undefined;
    log.debug(`global data '${section}': ${mapping ? "mmapped" : "map lookup/update"} (${decision.reason})`);
    this.globals.set(section, this.#own(new GlobalData(section, map, readonly, mapping, decision.reason)));
  }

  #mmap(map: BpfMap): Mapping {
    const len = Math.ceil(map.valueSize / pageSize()) * pageSize();
    return this.#sys.mmap(map.fd, len, PROT_READ | PROT_WRITE, 0, `global data '${map.name}'`);
  }

  // ---- externs ---------------------------------------------------------------------------------

  #resolveExterns(): void {
    const externs = this.spec.externs;
    const untyped = new Set(
      externs.filter((e) => e.kind === "ksym" && e.typeId === 0).map((e) => e.essentialName),
    );
    const addrs = this.#env.kallsymsAddresses(untyped);
    externs.forEach((e, index) => {
      this.#externs.set(e.name, { resolution: this.#resolveExtern(e, addrs), index });
    });
  }

  #resolveExtern(e: ExternSpec, addrs: Map<string, bigint>): ExternResolution {
    const btf = this.spec.btf;
    if (e.kind === "kconfig") return { kind: "unresolved" };
    if (e.kind === "ksym" && e.typeId === 0) {
      const a = addrs.get(e.essentialName);
      if (a !== undefined) return { kind: "address", address: a };
      if (e.weak) return { kind: "unresolved" };
      throw new KfuncError(`extern (ksym) '${e.name}': not found in /proc/kallsyms`);
    }
    if (!btf)
      throw new ObjectError(
        `${this.spec.source}: extern '${e.name}' needs the object's BTF (compile with -g)`,
      );
    const target =
      e.kind === "kfunc" ? resolveKfunc(e, btf, this.kernel) : resolveTypedKsym(e, btf, this.kernel);
    if (!target) {
      log.debug(`extern '${e.name}': weak and not found; left unresolved`);
      return { kind: "unresolved" };
    }
    const btfFd = target.module?.fd ?? 0;
    if (e.kind === "kfunc")
      return {
        kind: "kfunc",
        btfId: target.id,
        btfFd,
        fdArraySlot: btfFd ? this.#fdArray.slotFor(btfFd) : 0,
      };
    return { kind: "typedKsym", btfId: target.id, btfFd };
  }

  // ---- programs --------------------------------------------------------------------------------

  #attachBtf(p: ProgramSpec): { id: number; objFd: number } {
    const t = p.type.id;
    if (t !== BPF_PROG_TYPE.TRACING && t !== BPF_PROG_TYPE.LSM) return { id: 0, objFd: 0 };
    const at = p.expectedAttachType?.id;
    let target = p.attachTarget ?? "";
    let module: string | undefined;
    const colon = target.indexOf(":");
    if (colon >= 0) {
      module = target.slice(0, colon);
      target = target.slice(colon + 1);
    }
    const { name, kind } = attachBtfName(at, target);
    if (!target)
      throw new ObjectError(
        `program '${p.name}' (section '${p.section}'): no attach target in the section name`,
      );
    const k = this.kernel;
    if (!module || module === "vmlinux") {
      const v = k.vmlinux.findByName(name, kind);
      if (v) return { id: v.id, objFd: 0 };
    }
    for (const m of k.modules()) {
      if (module && m.name !== module) continue;
      const t2 = m.btf.findOwnByName(name, kind)[0];
      if (t2) return { id: t2.id, objFd: m.fd };
    }
    throw new ObjectError(
      `program '${p.name}' (section '${p.section}'): attach target '${name}' not found in kernel BTF`,
      {
        hint:
          kind === "TYPEDEF"
            ? "tp_btf/ takes a raw tracepoint name such as sys_enter or sched_switch (see /sys/kernel/tracing/available_events)"
            : "is the function's name right, and is it in vmlinux or a loaded module's BTF?",
      },
    );
  }

  #loadProgram(p: ProgramSpec): void {
    const insns = new Uint8Array(p.instructions); // a copy: the spec stays untouched
    applyRelocations(p, insns, {
      mapFd: (name) => this.maps.get(name)?.fd,
      dataMapFd: (section) => this.globals.get(section)?.map.fd,
      extern: (name) => this.#externs.get(name),
    });
    const corePoison = new Map<number, string>();
    if (p.coreRelos.length > 0) {
      if (!this.spec.btf) throw new ObjectError(`${this.spec.source}: CO-RE relocations without BTF`);
      this.#cands ??= new CandidateCache(this.kernel);
      for (const r of p.coreRelos) {
        const res = applyCoreRelo(insns, this.spec.btf, r, this.#cands, p.section);
        if (res.poisoned) corePoison.set(r.insnIndex, `${r.kindName} '${r.accessStr}': ${res.reason}`);
      }
    }
    const attach = this.#attachBtf(p);
    let flags = p.flags;
    if (p.sleepable || p.type.id === BPF_PROG_TYPE.SYSCALL) flags |= BPF_PROG_F.SLEEPABLE;
    const btfFd = this.#btfFd?.value ?? 0;
    const funcInfo = encodeFuncInfo(p.funcInfo);
    const lineInfo = encodeLineInfo(p.lineInfo);
    const fdArray = this.#fdArray.toInt32Array();
    try {
      const { fd, log: vlog } = this.#sys.progLoad(
        {
          type: p.type.id,
          insns,
          license: this.spec.license || "",
          name: objName(p.name),
          expectedAttachType: p.expectedAttachType?.id ?? 0,
          attachBtfId: attach.id,
          attachBtfObjFd: attach.objFd,
          flags,
          kernVersion: this.spec.kernelVersion || this.#env.kernelVersionCode(),
          btfFd,
          ...(btfFd && p.funcInfo.length > 0 ? { funcInfo } : {}),
          ...(btfFd && p.lineInfo.length > 0 ? { lineInfo } : {}),
          ...(fdArray ? { fdArray } : {}),
        },
        {
          logLevel: this.opts.logLevel,
          alwaysLog: this.opts.alwaysLog,
          logSize: this.opts.logSize,
          maxLogSize: this.opts.maxLogSize,
        },
      );
      const prog = this.#own(
        new Program(fd, {
          name: p.name,
          section: p.section,
          type: p.type.id,
          expectedAttachType: p.expectedAttachType?.id ?? 0,
          attachTarget: p.attachTarget,
          attachBtfId: attach.id,
          attachBtfObjId: 0,
          sleepable: (flags & BPF_PROG_F.SLEEPABLE) !== 0,
          verifierLog: vlog,
        }),
      );
      this.programs.set(p.name, prog);
    } catch (e) {
      if (!(e instanceof ProgLoadFailure)) throw e;
      throw verifierError({
        program: p.name,
        section: p.section,
        progType: p.type.id,
        errnoName: e.errnoName,
        log: e.verifierLog,
        lineInfo: p.lineInfo,
        btf: this.spec.btf,
        externNames: this.spec.externs.map((x) => x.name),
        corePoison,
        kernelRelease: this.#env.release(),
        // read from /proc only for what it explains: an EPERM (a refusal costs no file reads)
        ...(e.errnoName === "EPERM" ? { permissions: this.#env.permissionEvidence() } : {}),
      });
    }
  }

  #initialValues(): void {
    for (const m of this.spec.maps) {
      if (m.initialValues.length === 0) continue;
      const map = this.maps.get(m.name)!;
      for (const v of m.initialValues) {
        const target = v.kind === "program" ? this.programs.get(v.name) : this.maps.get(v.name);
        if (!target) {
          // A prog-array slot naming a program that was not loaded (not asked for, or autoload off) stays empty.
          if (v.kind === "program" && this.spec.programs.some((p) => p.name === v.name)) continue;
          throw new ObjectError(`map '${m.name}': slot ${v.index} refers to unknown ${v.kind} '${v.name}'`);
        }
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, v.index, true);
        const val = new Uint8Array(4);
        new DataView(val.buffer).setUint32(0, target.fd, true);
        try {
          this.#sys.mapUpdate(map.fd, key, val);
        } catch (e) {
          throw SyscallError.wrap(
            `${this.spec.source}: map '${m.name}': slot ${v.index} = ${v.kind} '${v.name}'`,
            e,
          );
        }
      }
    }
  }
}

/** Key size, value size and max_entries as created (libbpf's defaults for PERF_EVENT_ARRAY). */
function createdShape(
  m: MapSpec,
  cpus: () => number,
): { keySize: number; valueSize: number; maxEntries: number } {
  if (m.type.id !== BPF_MAP_TYPE.PERF_EVENT_ARRAY)
    return { keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries };
  return {
    keySize: m.keySize || 4,
    valueSize: m.valueSize || 4,
    maxEntries: m.maxEntries || cpus(),
  };
}
