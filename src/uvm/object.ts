import { BPF_INSN, BPF_PSEUDO, Insns } from "../asm/index.ts";
import type { Btf } from "../btf/index.ts";
import { KfuncError, NotSupportedError, ObjectError, UsageError } from "../errors.ts";
import { sourceLineFor } from "../kernel/verifier-error.ts";
import { applyCoreRelo, CandidateCache, CORE_POISON_IMM } from "../link/core.ts";
import { applyRelocations, type ExternResolution, KFUNC_POISON_BASE } from "../link/relocate.ts";
import { dataSectionOf } from "../object/globals.ts";
import type { ExternSpec, ObjectSpec, ProgramSpec } from "../object/types.ts";
import { PROG_TYPE } from "../object/uapi.ts";
import { OUT, toU64 } from "./alu.ts";
import { type Code, decodeCode } from "./code.ts";
import { DEFAULT_BUDGET, type Engine, type Env, type NativeFn } from "./engine.ts";
import { HelperFault, TailCall, UvmFault } from "./fault.ts";
import { helperName } from "./helper-names.ts";
import { coreHelpers, type HostInfo } from "./helpers.ts";
import { bindKfunc, externPrototype, type KfuncFn } from "./kfuncs.ts";
import {
  ArrayMap,
  createMap,
  MAP_HANDLE_BASE,
  mapFootprint,
  ProgArrayMap,
  RingBufMap,
  type UvmMap,
} from "./maps.ts";
import { Memory, PERM_RW, type Region } from "./memory.ts";
import { allocStacks, createEngine, type EngineKind, MAX_FRAMES, STACK_SIZE } from "./raw.ts";

/** bpf_ksym_exists() of a bound kfunc: a non-zero address outside the heap. */
const KSYM_BASE = 0x58000000;
const MAX_TAIL_CALLS = 33;

export interface UvmOptions {
  /** "jit" (WebAssembly, the default), "js" (JavaScript source) or "interp". */
  engine?: EngineKind | undefined;
  /** Target BTF for CO-RE relocations; a program with CO-RE relocations is refused without it. */
  btf?: Btf | undefined;
  /** Kfunc implementations by extern name (the same as calling `kfunc()` for each). */
  kfuncs?: Record<string, KfuncFn> | undefined;
  /** Instructions one run may execute, tail calls and callbacks included (default 10^9). */
  budget?: number | undefined;
  /** What pid/tgid/uid/comm helpers report, and where bpf_printk lines go (default: `trace`). */
  host?: Partial<HostInfo> | undefined;
  /** Largest ctx (default 4096 bytes) and packet (default 64 KiB) a run may pass. */
  maxCtx?: number | undefined;
  maxPacket?: number | undefined;
  /**
   * Kfunc parameter names when the object's BTF has none (clang writes none for externs): they make the
   * `__sz` convention visible. host.ts's `sourceParamNames(spec)` reads them from the object's C source.
   */
  paramNames?: ((kfunc: string, count: number) => string[] | undefined) | undefined;
  /** Extra or replacement helpers by id, in the runtime's native convention (see engine.ts). */
  helpers?: Record<number, NativeFn> | undefined;
}

export interface RunInput {
  /** Context bytes: r1 points to a copy. Default: zeroes of the program type's ctx size. */
  ctx?: Uint8Array | undefined;
  /** Packet for xdp/tc/socket programs: the ctx's data/data_end point at a copy. */
  data?: Uint8Array | undefined;
}

export interface RunResult {
  r0: bigint;
  /** The ctx after the run (a copy). */
  ctx: Uint8Array;
  /** The packet after the run (a copy), when one was given. */
  data: Uint8Array | undefined;
}

/** Default ctx sizes: pt_regs (x86-64) for kprobes, xdp_md, __sk_buff; 512 zero bytes otherwise. */
function ctxSizeFor(p: ProgramSpec): number {
  switch (p.type.id) {
    case PROG_TYPE.KPROBE:
      return 168;
    case PROG_TYPE.XDP:
      return 24;
    case PROG_TYPE.SCHED_CLS:
    case PROG_TYPE.SCHED_ACT:
    case PROG_TYPE.SOCKET_FILTER:
      return 192;
    default:
      return 512;
  }
}

/** One program of a {@link UvmObject}, compiled on first use. */
export class UvmProgram {
  #engine: Engine | undefined;
  constructor(
    readonly spec: ProgramSpec,
    private readonly obj: UvmObject,
    readonly code: Code,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** @internal */
  engine(): Engine {
    this.#engine ??= this.obj.compile(this.code);
    return this.#engine;
  }

  /** Runs the program once. Faults throw {@link UvmFault} (with pc and source line). */
  run(input: RunInput = {}): RunResult {
    return this.obj.run(this, input);
  }
}

/**
 * An eBPF object in the userspace runtime: the same ObjectSpec and relocation passes as the kernel loader,
 * maps in memory, kfuncs as TypeScript functions. `new UvmObject(spec, opts)`, bind kfuncs with `kfunc()`,
 * then `load()`; or `loadUvm(spec, { kfuncs })` for both at once.
 */
export class UvmObject {
  readonly memory: Memory;
  readonly maps = new Map<string, UvmMap>();
  readonly programs = new Map<string, UvmProgram>();
  /** bpf_printk lines (trace_pipe format) when no `host.printk` was given. */
  readonly trace: string[] = [];
  readonly host: HostInfo;
  private readonly mapList: UvmMap[] = [];
  private readonly kfuncImpls = new Map<string, NativeFn>();
  private readonly kfuncTable: NativeFn[] = [];
  private readonly kfuncIndex = new Map<string, number>();
  private readonly helpers: (NativeFn | undefined)[] = [];
  private readonly stackTops: number[];
  private readonly ctxRegion: Region;
  private readonly pktRegion: Region;
  private readonly env: Env;
  private loaded = false;

  constructor(
    readonly spec: ObjectSpec,
    private readonly options: UvmOptions = {},
  ) {
    const maxCtx = options.maxCtx ?? 4096;
    const maxPacket = options.maxPacket ?? 65536;
    let size =
      MAX_FRAMES * Memory.footprint(STACK_SIZE) +
      Memory.footprint(maxCtx) +
      Memory.footprint(maxPacket) +
      4096;
    for (const m of spec.maps) size += Memory.footprint(mapFootprint(m));
    this.memory = new Memory(size);
    this.stackTops = allocStacks(this.memory);
    this.ctxRegion = this.memory.alloc("ctx", maxCtx, 0);
    this.pktRegion = this.memory.alloc("packet", maxPacket, 0);
    spec.maps.forEach((m, i) => {
      const map = createMap(m, i, this.memory, dataSectionOf(spec, m)?.bytes);
      this.maps.set(m.name, map);
      this.mapList.push(map);
    });
    this.host = {
      pid: options.host?.pid ?? (typeof process === "object" ? process.pid : 1),
      tgid: options.host?.tgid ?? options.host?.pid ?? (typeof process === "object" ? process.pid : 1),
      uid: options.host?.uid ?? 0,
      gid: options.host?.gid ?? 0,
      comm: options.host?.comm ?? "kfunc-uvm",
      printk: options.host?.printk ?? ((l) => this.trace.push(l)),
    };
    const core = coreHelpers({
      mem: this.memory,
      info: this.host,
      map: (lo, hi) => (hi === 0 ? this.mapList[(lo - MAP_HANDLE_BASE) / 16] : undefined),
      ringOf: (addr) => {
        for (const m of this.mapList)
          if (m instanceof RingBufMap && addr >= m.region.addr && addr < m.region.addr + m.region.size)
            return m;
        return undefined;
      },
    });
    for (const [id, fn] of core) this.helpers[id] = fn;
    for (const [id, fn] of Object.entries(options.helpers ?? {})) this.helpers[Number(id)] = fn;
    this.env = {
      mem: this.memory,
      helpers: this.helpers,
      kfuncs: this.kfuncTable,
      stackTops: this.stackTops,
    };
    for (const [name, fn] of Object.entries(options.kfuncs ?? {})) this.kfunc(name, fn);
  }

  /** The object's kfunc externs (`extern … __ksym` functions). */
  get kfuncExterns(): ExternSpec[] {
    return this.spec.externs.filter((e) => e.kind === "kfunc");
  }

  /**
   * Binds `fn` to the object's kfunc extern `name`, checked against its FUNC_PROTO now (the error names the
   * prototype). Must come before load().
   */
  kfunc(name: string, fn: KfuncFn): this {
    if (this.loaded) throw new KfuncError(`kfunc '${name}': bind kfuncs before load()`);
    const ext = this.kfuncExterns.find((e) => e.name === name || e.essentialName === name);
    if (!ext) {
      const names = this.kfuncExterns.map((e) => e.name);
      throw new KfuncError(`${this.spec.source}: no kfunc extern named '${name}'`, {
        hint: names.length
          ? `the object's kfuncs: ${names.join(", ")}`
          : "the object declares no `extern … __ksym` function",
      });
    }
    if (!this.spec.btf)
      throw new KfuncError(`${this.spec.source}: kfuncs need the object's BTF (compile with -g)`);
    this.kfuncImpls.set(ext.name, bindKfunc(this.spec.btf, ext, fn, this.memory, this.options.paramNames));
    return this;
  }

  /** Relocates and validates every program; a missing non-weak kfunc or an unknown helper fails here. */
  load(): this {
    if (this.loaded) return this;
    for (const ext of this.spec.externs) {
      if (ext.kind === "kfunc" && !this.kfuncImpls.has(ext.name) && !ext.weak) {
        const proto = this.spec.btf ? externPrototype(this.spec.btf, ext) : ext.name;
        throw new KfuncError(`${this.spec.source}: kfunc '${ext.name}' has no implementation`, {
          hint: `bind it with kfunc("${ext.name}", fn) or --kfuncs <module exporting ${ext.name}>; prototype: ${proto}`,
        });
      }
      if (ext.kind === "ksym" && !ext.weak)
        throw new NotSupportedError(
          "the userspace runtime",
          undefined,
          `${this.spec.source}: ksym '${ext.name}' (a kernel variable) does not exist in userspace`,
          {
            hint: "declare it __weak to load without it (its address is then 0)",
          },
        );
    }
    this.spec.externs.forEach((ext, index) => {
      if (ext.kind !== "kfunc") return;
      const impl = this.kfuncImpls.get(ext.name);
      const i = this.kfuncTable.length;
      this.kfuncTable.push(
        impl ??
          (() => {
            throw new HelperFault(
              `weak kfunc '${ext.name}' is not bound: guard the call with bpf_ksym_exists()`,
            );
          }),
      );
      this.kfuncIndex.set(ext.name, impl ? i : -1 - i);
      void index;
    });
    for (const p of this.spec.programs) this.programs.set(p.name, new UvmProgram(p, this, this.relocate(p)));
    for (const m of this.spec.maps) {
      const map = this.maps.get(m.name);
      if (!(map instanceof ProgArrayMap)) continue;
      for (const v of m.initialValues) if (v.kind === "program") map.slots.set(v.index, v.name);
    }
    this.loaded = true;
    return this;
  }

  program(name: string): UvmProgram {
    if (!this.loaded) this.load();
    const p = this.programs.get(name);
    if (!p)
      throw new UsageError(`${this.spec.source}: no program named '${name}'`, {
        hint: `programs: ${this.spec.programs.map((x) => `${x.name} (${x.section})`).join(", ") || "(none)"}`,
      });
    return p;
  }

  map(name: string): UvmMap {
    const m = this.maps.get(name);
    if (!m) throw new UsageError(`${this.spec.source}: no map named '${name}'`);
    return m;
  }

  /** A global data section (`.data`, `.rodata`, `.bss`…) as an array map; `bytes` is readable and writable. */
  data(section: string): ArrayMap {
    const m = this.spec.maps.find((x) => x.dataSection === section);
    const map = m && this.maps.get(m.name);
    if (!(map instanceof ArrayMap))
      throw new UsageError(`${this.spec.source}: no global data section '${section}'`);
    return map;
  }

  /** A global variable's bytes (a live view: writes from TS are seen by the program and back). */
  variable(name: string): Uint8Array {
    for (const ds of this.spec.dataSections) {
      const v = ds.variables.find((x) => x.name === name);
      if (v) return this.data(ds.name).bytes.subarray(v.offset, v.offset + v.size);
    }
    throw new UsageError(`${this.spec.source}: no global variable '${name}'`);
  }

  private lineOf(p: ProgramSpec): (pc: number) => string | undefined {
    return (pc) => {
      const l = sourceLineFor(pc, p.lineInfo, this.spec.btf);
      return l ? `${l.file}:${l.line}: ${l.text}` : undefined;
    };
  }

  private relocate(p: ProgramSpec): Code {
    const bytes = new Uint8Array(p.instructions);
    const resolution = (ext: ExternSpec): ExternResolution => {
      const k = this.kfuncIndex.get(ext.name);
      if (ext.kind === "kfunc" && k !== undefined && k >= 0)
        return { kind: "kfunc", btfId: k, fdArraySlot: 0, btfFd: 0 };
      return { kind: "unresolved" };
    };
    applyRelocations(p, bytes, {
      mapFd: (name) => {
        const i = this.spec.maps.findIndex((m) => m.name === name && m.dataSection === undefined);
        return i < 0 ? undefined : i + 1;
      },
      dataMapFd: (section) => {
        const i = this.spec.maps.findIndex((m) => m.dataSection === section);
        return i < 0 ? undefined : i + 1;
      },
      extern: (name) => {
        const index = this.spec.externs.findIndex((e) => e.name === name);
        return index < 0 ? undefined : { resolution: resolution(this.spec.externs[index]!), index };
      },
    });
    if (p.coreRelos.length > 0) {
      const btf = this.options.btf;
      if (!btf)
        throw new NotSupportedError(
          "the userspace runtime",
          undefined,
          `program '${p.name}': ${p.coreRelos.length} CO-RE relocation(s) need a target BTF and none was given`,
          {
            hint: "pass --btf <file> (or the btf option); the host's /sys/kernel/btf/vmlinux is the default when it exists",
          },
        );
      if (!this.spec.btf) throw new ObjectError(`${this.spec.source}: CO-RE relocations without BTF`);
      const cands = new CandidateCache({ vmlinux: btf, modules: () => [] });
      for (const r of p.coreRelos) applyCoreRelo(bytes, this.spec.btf, r, cands, p.section);
    }
    this.resolvePseudo(p, bytes);
    const code = decodeCode(bytes, p.name, this.lineOf(p));
    this.checkCalls(p, code);
    return code;
  }

  /** lddw map/map-value/BTF-id forms → plain constants (runtime addresses); poisoned kfunc calls → traps. */
  private resolvePseudo(p: ProgramSpec, bytes: Uint8Array): void {
    const ins = new Insns(bytes);
    for (let i = 0; i < ins.count; i++) {
      const op = ins.code(i);
      if (
        op === BPF_INSN.CALL &&
        ins.src(i) === 0 &&
        ins.imm(i) >= KFUNC_POISON_BASE &&
        ins.imm(i) < KFUNC_POISON_BASE + 0x10000
      ) {
        const ext = this.spec.externs[ins.imm(i) - KFUNC_POISON_BASE];
        const k = ext ? this.kfuncIndex.get(ext.name) : undefined;
        if (k !== undefined) {
          ins.setRegs(i, 0, BPF_PSEUDO.KFUNC_CALL);
          ins.setImm(i, -1 - k);
        }
        continue;
      }
      if (op !== BPF_INSN.LD_IMM64) continue;
      const src = ins.src(i);
      let value: number | undefined;
      if (src === BPF_PSEUDO.MAP_FD) value = this.mapList[ins.imm(i) - 1]!.handle;
      else if (src === BPF_PSEUDO.MAP_VALUE) {
        const map = this.mapList[ins.imm(i) - 1];
        if (!(map instanceof ArrayMap))
          throw new UvmFault(
            "bad-program",
            p.name,
            i,
            `lddw map value of '${map?.name}', which is not an array map`,
          );
        value = map.region.addr + ins.imm(i + 1);
      } else if (src === BPF_PSEUDO.BTF_ID) value = KSYM_BASE + ins.imm(i) * 8;
      if (value !== undefined) {
        ins.setSrc(i, 0);
        ins.setImm(i, value);
        ins.setImm(i + 1, 0);
      }
      i++;
    }
  }

  /** Every helper a program calls must exist here: refused at load, by name (a CO-RE poison only when run). */
  private checkCalls(p: ProgramSpec, code: Code): void {
    for (let pc = 0; pc < code.count; pc++) {
      if (code.op[pc] === BPF_INSN.LD_IMM64) {
        pc++;
        continue;
      }
      if (code.op[pc] !== BPF_INSN.CALL || code.src[pc] !== 0) continue;
      const id = code.imm[pc]!;
      // a failed CO-RE relocation's poison: like the verifier, refused only if reached (faults.ts)
      if (!this.helpers[id] && id !== CORE_POISON_IMM)
        throw new UvmFault(
          "unknown-helper",
          p.name,
          pc,
          `helper ${helperName(id)} (#${id}) is not available in the userspace runtime`,
          code.lineOf(pc),
        );
    }
  }

  /** @internal */
  compile(code: Code): Engine {
    return createEngine(this.options.engine ?? "jit", code, this.env);
  }

  /** @internal */
  run(prog: UvmProgram, input: RunInput): RunResult {
    const ctx = input.ctx ?? new Uint8Array(ctxSizeFor(prog.spec));
    const mem = this.memory;
    const fit = (r: Region, bytes: Uint8Array, what: string) => {
      if (bytes.byteLength > r.size)
        throw new UsageError(`${what} of ${bytes.byteLength} bytes exceeds the runtime's ${r.size}`, {
          hint: `raise the ${what === "ctx" ? "maxCtx" : "maxPacket"} option`,
        });
      mem.perm.fill(0, r.off, r.off + r.size);
      r.bytes.fill(0);
      r.bytes.set(bytes);
      mem.perm.fill(PERM_RW, r.off, r.off + bytes.byteLength);
    };
    fit(this.ctxRegion, ctx, "ctx");
    const data = input.data;
    if (data) {
      fit(this.pktRegion, data, "packet");
      const dv = new DataView(
        this.ctxRegion.bytes.buffer,
        this.ctxRegion.bytes.byteOffset,
        this.ctxRegion.size,
      );
      const start = this.pktRegion.addr;
      const end = start + data.byteLength;
      // ctx->data / data_end are u32 fields; runtime addresses fit in 32 bits, so the program's loads
      // of them give real pointers (the kernel's verifier rewrites these loads instead).
      if (prog.spec.type.id === PROG_TYPE.XDP && ctx.byteLength >= 8) {
        dv.setUint32(0, start, true);
        dv.setUint32(4, end, true);
        dv.setUint32(8, start, true);
      } else if (ctx.byteLength >= 84) {
        dv.setUint32(0, data.byteLength, true);
        dv.setUint32(76, start, true);
        dv.setUint32(80, end, true);
      }
    } else mem.perm.fill(0, this.pktRegion.off, this.pktRegion.off + this.pktRegion.size);
    let budget = this.options.budget ?? DEFAULT_BUDGET;
    let current = prog;
    let r1l = this.ctxRegion.addr;
    let r1h = 0;
    let r0: bigint;
    for (let tail = 0; ; tail++) {
      try {
        const lo = current.engine().run(r1l, r1h, 0, 0, { budget });
        r0 = toU64(lo, OUT[0]!);
        break;
      } catch (e) {
        if (!(e instanceof TailCall)) throw e;
        if (tail >= MAX_TAIL_CALLS)
          throw new UvmFault("tail-call", current.name, 0, `more than ${MAX_TAIL_CALLS} tail calls in a row`);
        const next = this.programs.get(e.program);
        if (!next)
          throw new UvmFault("tail-call", current.name, 0, `tail call into unknown program '${e.program}'`);
        current = next;
        r1l = e.ctxLo;
        r1h = e.ctxHi;
        budget = Math.max(1, budget - 1);
      }
    }
    return {
      r0,
      ctx: this.ctxRegion.bytes.slice(0, ctx.byteLength),
      data: data ? this.pktRegion.bytes.slice(0, data.byteLength) : undefined,
    };
  }
}

/** Creates the runtime object, binds `options.kfuncs`, and loads it. */
export function loadUvm(spec: ObjectSpec, options: UvmOptions = {}): UvmObject {
  return new UvmObject(spec, options).load();
}
