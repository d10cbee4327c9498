/**
 * The BPF object model: what an eBPF ELF object *asks for*, as plain, deterministic data (cilium/ebpf's
 * CollectionSpec). Parsing the same bytes on any machine gives the same ObjectSpec; everything that depends
 * on the running kernel (map fds, kfunc BTF ids, fd_array slots, kconfig values) is decided by src/kernel.
 *
 * Instruction layout (libbpf's algorithm): each ProgramSpec's `instructions` holds the program's own
 * instructions followed by every subprogram it (transitively) calls, appended once each. bpf-to-bpf call
 * `imm`s are already fixed to point at the appended copies, and every index below (relocations, funcInfo,
 * lineInfo, coreRelos) is an instruction index into that final array. The loader never links subprograms.
 */
import type { BpfCoreReloKindName, Btf, BtfExt } from "../btf/index.ts";
import type { AttachKind } from "./sections.ts";

/** A named UAPI enum value: `{ id: 2, name: "BPF_PROG_TYPE_KPROBE" }`. */
export interface UapiValue {
  id: number;
  name: string;
}

export interface ObjectSpec {
  /** File name used in messages. */
  source: string;
  littleEndian: boolean;
  /** The `license` section ("GPL", "Dual BSD/GPL"); "" when absent. */
  license: string;
  /** The `version` section (LINUX_VERSION_CODE), 0 when absent. */
  kernelVersion: number;
  programs: ProgramSpec[];
  /** BTF-defined (`.maps`) and legacy (`maps`) maps, then one map per global data section (`dataSection` set). */
  maps: MapSpec[];
  /** Global data: .data, .rodata, .bss, .data.*, .rodata.*, and .kconfig (zero bytes, filled at load). */
  dataSections: DataSectionSpec[];
  /** `.ksyms` (kfuncs and typed/untyped ksyms) and `.kconfig` externs, in BTF DATASEC order. */
  externs: ExternSpec[];
  /** The object's `.BTF`, undefined for an object compiled without -g. Immutable; shared by clones. */
  btf: Btf | undefined;
  /** The object's `.BTF.ext`, undefined when absent. Immutable; shared by clones. */
  btfExt: BtfExt | undefined;
}

export interface ProgramSpec {
  /** The FUNC symbol name (`handle_kprobe`). */
  name: string;
  /** ELF section name (`kprobe/do_unlinkat`), without the leading `?` of an autoload-off section. */
  section: string;
  /**
   * Loaded by default. `SEC("?…")` sets it false (libbpf's autoload): such a program is loaded only when
   * named in `loadCollection(spec, { programs })` or after `setAutoload(spec, name, true)`.
   */
  autoload: boolean;
  /** BPF_PROG_TYPE_* */
  type: UapiValue;
  /** BPF_* attach type, undefined when the program type has none (kprobe, tracepoint, xdp…). */
  expectedAttachType: UapiValue | undefined;
  /** What the section names: "do_unlinkat", "syscalls/sys_enter_unlinkat", "task"…; undefined when none. */
  attachTarget: string | undefined;
  /** How `attach()` attaches it, from the section's definition (src/object/sections.ts). */
  attachKind: AttachKind;
  /** A `.s` section (fentry.s/, lsm.s/, uprobe.s…) or `syscall`: load with BPF_F_SLEEPABLE. */
  sleepable: boolean;
  /** BPF_F_* program flags implied by the section (BPF_F_SLEEPABLE = 1 << 4, BPF_F_XDP_HAS_FRAGS = 1 << 5). */
  flags: number;
  /** 8-byte instructions in the object's byte order: the program, then its appended subprograms. */
  instructions: Uint8Array;
  /** Subprograms appended after the program's own code, with the instruction index where each starts. */
  subprograms: SubprogramSpec[];
  /** Every instruction that needs the loader's attention, sorted by insnIndex. */
  relocations: RelocationSpec[];
  /** BTF func_info (the program first, then each subprogram), insn-indexed into `instructions`. */
  funcInfo: FuncInfoSpec[];
  /** BTF line_info, insn-indexed into `instructions`. */
  lineInfo: LineInfoSpec[];
  /** CO-RE relocations, insn-indexed into `instructions`. */
  coreRelos: CoreReloSpec[];
  /** The program's FUNC id in the object's BTF (0 when there is no BTF). */
  btfFuncId: number;
  /** STB_GLOBAL programs are visible by name; libbpf treats static ones the same for main programs. */
  global: boolean;
}

export interface SubprogramSpec {
  name: string;
  /** Section the subprogram came from (usually `.text`). */
  section: string;
  insnIndex: number;
  insnCount: number;
  /**
   * A global `__hidden` (hidden/internal visibility) function: the loader marks its BTF FUNC static, so the
   * verifier checks it in its caller's context, as libbpf does (usdt.bpf.h's bpf_usdt_arg() needs this).
   */
  hidden?: boolean;
}

/** What a relocated instruction refers to. Names refer to `maps`, `dataSections`, `externs`, `subprograms`. */
export type RelocationTarget =
  /** ld_imm64 of a map (`&my_map`): the loader sets src_reg BPF_PSEUDO_MAP_FD and imm = map fd. */
  | { kind: "map"; map: string }
  /** ld_imm64 into global data: src_reg BPF_PSEUDO_MAP_VALUE, imm = the section's map fd, insn[1].imm = offset. */
  | { kind: "data"; section: string; offset: number }
  /** bpf-to-bpf call (already fixed up) or a callback address (ld_imm64 BPF_PSEUDO_FUNC, already fixed). */
  | { kind: "subprog"; target: string; call: boolean }
  /** `call` of a `.ksyms` function: src_reg BPF_PSEUDO_KFUNC_CALL, imm = kernel BTF id, off = fd_array slot. */
  | { kind: "kfuncCall"; extern: string }
  /** ld_imm64 of a ksym or kfunc address (`bpf_ksym_exists`, `&bpf_prog_active`). */
  | { kind: "ksymAddr"; extern: string }
  /** ld_imm64 into `.kconfig`: like "data" on the .kconfig map. */
  | { kind: "kconfig"; extern: string; offset: number };

export type RelocationSpec = RelocationTarget & {
  /** Instruction index into ProgramSpec.instructions (the first slot of an ld_imm64). */
  insnIndex: number;
  /** The ELF symbol the relocation named (for messages). */
  symbol: string;
};

export interface FuncInfoSpec {
  insnIndex: number;
  /** FUNC type id in the object's BTF. */
  typeId: number;
}

export interface LineInfoSpec {
  insnIndex: number;
  /** Offsets into the object's BTF string section (what BPF_PROG_LOAD takes). */
  fileNameOff: number;
  lineOff: number;
  /** line << 10 | column, as in struct bpf_line_info. */
  lineCol: number;
}

/** enum bpf_core_relo_kind names (src/btf/ext.ts). */
export type CoreReloKindName = BpfCoreReloKindName;

export interface CoreReloSpec {
  insnIndex: number;
  /** Root type id in the object's BTF. */
  typeId: number;
  /** "0:1:2" style access string. */
  accessStr: string;
  /** enum bpf_core_relo_kind value. */
  kind: number;
  kindName: CoreReloKindName;
}

/** A program or map a prog array / map-in-map slot is initialised with (`.values = { [1] = &prog }`). */
export interface MapInitialValue {
  index: number;
  kind: "program" | "map";
  /** ProgramSpec.name or MapSpec.name */
  name: string;
}

export interface MapSpec {
  /** Symbol name (`events`), or the section name for a global data map (`.rodata`). */
  name: string;
  /** BPF_MAP_TYPE_* */
  type: UapiValue;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** BPF_F_* map flags (map_flags). Global data: BPF_F_RDONLY_PROG (0x80) for .rodata/.kconfig. */
  flags: number;
  /** LIBBPF_PIN_NONE (0) or LIBBPF_PIN_BY_NAME (1). */
  pinning: number;
  numaNode: number;
  mapExtra: bigint;
  /** BTF ids of the key/value types (0 when unknown: legacy maps, `__uint(key_size, …)`). */
  keyTypeId: number;
  valueTypeId: number;
  /** The map's VAR (or for data maps the DATASEC) id in the object's BTF, 0 when none. */
  btfVarId: number;
  /** For ARRAY_OF_MAPS / HASH_OF_MAPS: the inner map template (`__array(values, struct {...})`). */
  innerMap: MapSpec | undefined;
  /** Initial slots of a PROG_ARRAY / ARRAY_OF_MAPS / HASH_OF_MAPS. */
  initialValues: MapInitialValue[];
  /**
   * For a global data map: the section it represents (`.data`, `.rodata.str1.1`, `.kconfig`). That
   * section's `bytes` are the map's initial contents (the one owner: see src/object/globals.ts).
   */
  dataSection: string | undefined;
  /** Where it was defined: ".maps" (BTF), "maps" (legacy struct bpf_map_def) or "data". */
  origin: ".maps" | "maps" | "data";
}

export type DataSectionKind = "data" | "rodata" | "bss" | "kconfig";

export interface DataVariableSpec {
  name: string;
  offset: number;
  size: number;
  /** The VAR id in the object's BTF (0 when there is no BTF). */
  varId: number;
  /** The variable's type id (the VAR's `type`). */
  typeId: number;
  /** BTF_VAR_STATIC / GLOBAL_ALLOCATED / GLOBAL_EXTERN */
  linkage: number;
}

export interface DataSectionSpec {
  name: string;
  kind: DataSectionKind;
  readonly: boolean;
  size: number;
  /** Initial contents (zeros for .bss and .kconfig). */
  bytes: Uint8Array;
  /** The DATASEC id in the object's BTF (0 when none). */
  btfId: number;
  variables: DataVariableSpec[];
}

export type ExternKind = "kfunc" | "ksym" | "kconfig";

export interface ExternSpec {
  kind: ExternKind;
  /** Symbol name as written, including any `___flavor` suffix. */
  name: string;
  /** Name without the `___flavor` suffix: what is looked up in the kernel. */
  essentialName: string;
  /** STB_WEAK: the loader may leave it unresolved (kfunc call poisoned, ksym/kconfig = 0). */
  weak: boolean;
  /** FUNC (kfunc) or VAR (ksym, kconfig) id in the object's BTF; 0 for a ksym without BTF. */
  btfId: number;
  /** kfunc: the FUNC_PROTO id; ksym/kconfig: the VAR's type id (0 for an untyped `extern const void`). */
  typeId: number;
  /** kconfig: offset in the `.kconfig` section; otherwise 0. */
  offset: number;
  /** kconfig / ksym: size of the variable's type in bytes; kfunc: 0. */
  size: number;
}
