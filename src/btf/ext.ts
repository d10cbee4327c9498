import { BtfError } from "../errors.ts";
import type { Btf } from "./btf.ts";
import { BTF_MAGIC } from "./header.ts";

/** CO-RE relocation kinds (`enum bpf_core_relo_kind`, include/uapi/linux/bpf.h). */
export const BPF_CORE = {
  FIELD_BYTE_OFFSET: 0,
  FIELD_BYTE_SIZE: 1,
  FIELD_EXISTS: 2,
  FIELD_SIGNED: 3,
  FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5,
  TYPE_ID_LOCAL: 6,
  TYPE_ID_TARGET: 7,
  TYPE_EXISTS: 8,
  TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10,
  ENUMVAL_VALUE: 11,
  TYPE_MATCHES: 12,
} as const;
export type BpfCoreReloKindName = keyof typeof BPF_CORE;
export type BpfCoreReloKind = (typeof BPF_CORE)[BpfCoreReloKindName];
export const BPF_CORE_FIELD_BYTE_OFFSET = BPF_CORE.FIELD_BYTE_OFFSET;
export const BPF_CORE_FIELD_BYTE_SIZE = BPF_CORE.FIELD_BYTE_SIZE;
export const BPF_CORE_FIELD_EXISTS = BPF_CORE.FIELD_EXISTS;
export const BPF_CORE_FIELD_SIGNED = BPF_CORE.FIELD_SIGNED;
export const BPF_CORE_FIELD_LSHIFT_U64 = BPF_CORE.FIELD_LSHIFT_U64;
export const BPF_CORE_FIELD_RSHIFT_U64 = BPF_CORE.FIELD_RSHIFT_U64;
export const BPF_CORE_TYPE_ID_LOCAL = BPF_CORE.TYPE_ID_LOCAL;
export const BPF_CORE_TYPE_ID_TARGET = BPF_CORE.TYPE_ID_TARGET;
export const BPF_CORE_TYPE_EXISTS = BPF_CORE.TYPE_EXISTS;
export const BPF_CORE_TYPE_SIZE = BPF_CORE.TYPE_SIZE;
export const BPF_CORE_ENUMVAL_EXISTS = BPF_CORE.ENUMVAL_EXISTS;
export const BPF_CORE_ENUMVAL_VALUE = BPF_CORE.ENUMVAL_VALUE;
export const BPF_CORE_TYPE_MATCHES = BPF_CORE.TYPE_MATCHES;

/** Name of a CO-RE kind ("FIELD_BYTE_OFFSET"), or undefined for a kind this version does not know. */
export function coreReloKindName(kind: number): BpfCoreReloKindName | undefined {
  return CORE_KIND_NAMES[kind];
}
const CORE_KIND_NAMES: readonly (BpfCoreReloKindName | undefined)[] = (() => {
  const names: BpfCoreReloKindName[] = [];
  for (const k of Object.keys(BPF_CORE) as BpfCoreReloKindName[]) names[BPF_CORE[k]] = k;
  return names;
})();

/** `struct bpf_func_info`. In a .o, `insnOff` is a byte offset in the ELF section (÷ 8 for an index). */
export interface FuncInfo {
  insnOff: number;
  /** The FUNC type id in the object's BTF. */
  typeId: number;
}

/** `struct bpf_line_info`, with its strings looked up in the BTF. */
export interface LineInfo {
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  /** line << 10 | column, as stored. */
  lineCol: number;
  fileName: string;
  /** The source line's text. */
  lineText: string;
  line: number;
  column: number;
}

/** `struct bpf_core_relo`. */
export interface CoreRelo {
  insnOff: number;
  /** The root type id in the object's BTF. */
  typeId: number;
  accessStrOff: number;
  /** "0:1:2": the access path (field indexes; for enum kinds the enumerator index). */
  accessStr: string;
  /** BPF_CORE_*; kinds beyond TYPE_MATCHES are kept as numbers. */
  kind: number;
}

export interface BtfExt {
  readonly source: string;
  readonly littleEndian: boolean;
  /** Record sizes from the header (may exceed the structs above: extra bytes are ignored). */
  readonly recordSizes: { funcInfo: number; lineInfo: number; coreRelo: number };
  /** Per ELF section name ("tracepoint/syscalls/sys_enter_getpid", ".text"), in file order. */
  readonly funcInfo: Map<string, FuncInfo[]>;
  readonly lineInfo: Map<string, LineInfo[]>;
  readonly coreRelos: Map<string, CoreRelo[]>;
}

const HEADER_MIN = 24;
const HEADER_CORE = 32;
const MIN_REC = { funcInfo: 8, lineInfo: 16, coreRelo: 16 };

/**
 * Parses `.BTF.ext` against its object's BTF (section names, file names, source lines and CO-RE access
 * strings are offsets into that BTF's string section).
 */
export function parseBtfExt(bytes: Uint8Array, btf: Btf, source = btf.source): BtfExt {
  const fail = (offset: number | undefined, what: string): never => {
    throw new BtfError(
      source,
      undefined,
      `.BTF.ext: ${offset === undefined ? "" : `offset ${offset}: `}${what}`,
      {
        hint: "the object is truncated or corrupt: rebuild it with clang -target bpf -g",
      },
    );
  };
  if (bytes.length < HEADER_MIN) fail(0, `header truncated: ${bytes.length} bytes, need ${HEADER_MIN}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const raw = view.getUint16(0, true);
  if (raw !== BTF_MAGIC && raw !== 0x9feb)
    fail(0, `bad magic 0x${raw.toString(16).padStart(4, "0")}, expected 0xeb9f`);
  const le = raw === BTF_MAGIC;
  if (le !== btf.littleEndian) fail(0, "byte order differs from the object's .BTF");
  if (bytes[2] !== 1) fail(2, `unsupported version ${bytes[2]}, expected 1`);
  const u32 = (o: number) => view.getUint32(o, le);
  const hdrLen = u32(4);
  if (hdrLen < HEADER_MIN || hdrLen > bytes.length)
    fail(4, `hdr_len ${hdrLen} out of range (${HEADER_MIN}..${bytes.length})`);

  const str = (off: number, where: number, what: string): string => {
    try {
      return btf.string(off);
    } catch (e) {
      return fail(
        where,
        `${what}: string offset ${off} is not in the BTF string section (${String((e as Error).message)})`,
      );
    }
  };

  const recordSizes = { funcInfo: 0, lineInfo: 0, coreRelo: 0 };

  /** Walks one info section, calling `each(sectionName, recordOffset)` for every record. */
  const walk = (
    field: keyof typeof MIN_REC,
    what: string,
    hdrField: number,
    each: (list: unknown[], o: number) => void,
    out: Map<string, unknown[]>,
  ) => {
    const off = u32(hdrField);
    const len = u32(hdrField + 4);
    if (len === 0) return;
    const start = hdrLen + off;
    const end = start + len;
    if (off % 4 !== 0) fail(hdrField, `${what} offset ${off} is not 4-byte aligned`);
    if (end > bytes.length || len < 4)
      fail(hdrField, `${what} [${start}, +${len}) runs past the end of the section (${bytes.length} bytes)`);
    const recSize = u32(start);
    if (recSize < MIN_REC[field] || recSize % 4 !== 0)
      fail(
        start,
        `${what} record size ${recSize}, expected a multiple of 4 that is at least ${MIN_REC[field]}`,
      );
    recordSizes[field] = recSize;
    let o = start + 4;
    while (o < end) {
      if (o + 8 > end) fail(o, `${what}: truncated section header (${end - o} bytes left, need 8)`);
      const sec = str(u32(o), o, `${what} section name`);
      const n = u32(o + 4);
      o += 8;
      if (n === 0) fail(o - 4, `${what} for '${sec}' has no records`);
      if (n * recSize > end - o)
        fail(
          o - 4,
          `${what} for '${sec}': ${n} records of ${recSize} bytes run past the end (${end - o} bytes left)`,
        );
      let list = out.get(sec);
      if (!list) {
        list = [];
        out.set(sec, list);
      }
      for (let i = 0; i < n; i++, o += recSize) {
        if (u32(o) % 8 !== 0) fail(o, `${what} for '${sec}': insn offset ${u32(o)} is not a multiple of 8`);
        each(list, o);
      }
    }
  };

  const checkType = (id: number, o: number, what: string) => {
    if (id >= btf.nextId)
      fail(o, `${what} refers to type [${id}], which does not exist (ids are 0..${btf.nextId - 1})`);
  };

  const funcInfo = new Map<string, FuncInfo[]>();
  walk(
    "funcInfo",
    "func_info",
    8,
    (list, o) => {
      const typeId = u32(o + 4);
      checkType(typeId, o + 4, "func_info");
      if (btf.typeById(typeId).kind !== "FUNC")
        fail(o + 4, `func_info type [${typeId}] is a ${btf.typeById(typeId).kind}, expected FUNC`);
      list.push({ insnOff: u32(o), typeId } satisfies FuncInfo);
    },
    funcInfo as Map<string, unknown[]>,
  );
  const lineInfo = new Map<string, LineInfo[]>();
  walk(
    "lineInfo",
    "line_info",
    16,
    (list, o) => {
      const fileNameOff = u32(o + 4);
      const lineOff = u32(o + 8);
      const lineCol = u32(o + 12);
      list.push({
        insnOff: u32(o),
        fileNameOff,
        lineOff,
        lineCol,
        fileName: str(fileNameOff, o + 4, "line_info file name"),
        lineText: str(lineOff, o + 8, "line_info source line"),
        line: lineCol >>> 10,
        column: lineCol & 0x3ff,
      } satisfies LineInfo);
    },
    lineInfo as Map<string, unknown[]>,
  );
  const coreRelos = new Map<string, CoreRelo[]>();
  if (hdrLen >= HEADER_CORE)
    walk(
      "coreRelo",
      "core_relo",
      24,
      (list, o) => {
        const typeId = u32(o + 4);
        checkType(typeId, o + 4, "core_relo");
        const accessStrOff = u32(o + 8);
        list.push({
          insnOff: u32(o),
          typeId,
          accessStrOff,
          accessStr: str(accessStrOff, o + 8, "core_relo access string"),
          kind: u32(o + 12),
        } satisfies CoreRelo);
      },
      coreRelos as Map<string, unknown[]>,
    );
  return { source, littleEndian: le, recordSizes, funcInfo, lineInfo, coreRelos };
}
