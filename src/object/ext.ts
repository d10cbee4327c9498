/**
 * The per-section records of `.BTF.ext` (func_info, line_info, CO-RE relocations), with instruction
 * offsets in BYTES from the start of their ELF section, as clang writes them. src/btf's parseBtfExt is the
 * public model; this small reader gives the object layer just the records it re-indexes per program.
 */
import type { Btf } from "../btf/index.ts";
import { BtfError } from "../errors.ts";
import type { CoreReloKindName } from "./types.ts";

export interface ExtFuncInfo {
  insnOff: number;
  typeId: number;
}
export interface ExtLineInfo {
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  lineCol: number;
}
export interface ExtCoreRelo {
  insnOff: number;
  typeId: number;
  accessStr: string;
  kind: number;
}
export interface ExtRecords {
  funcInfo: Map<string, ExtFuncInfo[]>;
  lineInfo: Map<string, ExtLineInfo[]>;
  coreRelos: Map<string, ExtCoreRelo[]>;
}

export const CORE_RELO_KINDS: readonly CoreReloKindName[] = [
  "FIELD_BYTE_OFFSET",
  "FIELD_BYTE_SIZE",
  "FIELD_EXISTS",
  "FIELD_SIGNED",
  "FIELD_LSHIFT_U64",
  "FIELD_RSHIFT_U64",
  "TYPE_ID_LOCAL",
  "TYPE_ID_TARGET",
  "TYPE_EXISTS",
  "TYPE_SIZE",
  "ENUMVAL_EXISTS",
  "ENUMVAL_VALUE",
  "TYPE_MATCHES",
];

const MAX_RECORDS = 1 << 22;

export function readExtRecords(bytes: Uint8Array, btf: Btf, source: string): ExtRecords {
  const fail = (what: string): never => {
    throw new BtfError(source, undefined, `.BTF.ext: ${what}`, {
      hint: "the object is truncated or was not produced by clang -target bpf -g",
    });
  };
  if (bytes.length < 24) fail(`header needs 24 bytes, section has ${bytes.length}`);
  const le = bytes[0] === 0x9f && bytes[1] === 0xeb;
  if (!le && !(bytes[0] === 0xeb && bytes[1] === 0x9f)) fail("bad magic (expected 0xeB9F)");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (o: number) => {
    if (o + 4 > bytes.length) fail(`read at offset ${o} past the end (${bytes.length} bytes)`);
    return dv.getUint32(o, le);
  };
  const hdrLen = u32(4);
  const out: ExtRecords = { funcInfo: new Map(), lineInfo: new Map(), coreRelos: new Map() };
  const walk = (
    off: number,
    len: number,
    minRec: number,
    what: string,
    each: (sec: string, o: number) => void,
  ) => {
    if (len === 0) return;
    const start = hdrLen + off;
    const end = start + len;
    if (end > bytes.length) fail(`${what} [${start}, ${end}) runs past the end (${bytes.length} bytes)`);
    const recSize = u32(start);
    if (recSize < minRec) fail(`${what} record size ${recSize} is smaller than ${minRec}`);
    let o = start + 4;
    while (o < end) {
      const sec = btf.string(u32(o));
      const n = u32(o + 4);
      o += 8;
      if (n > MAX_RECORDS || o + n * recSize > end)
        fail(`${what} for '${sec}': ${n} records overrun the section`);
      for (let i = 0; i < n; i++, o += recSize) each(sec, o);
    }
  };
  const push = <T>(m: Map<string, T[]>, k: string, v: T) => {
    const l = m.get(k);
    if (l) l.push(v);
    else m.set(k, [v]);
  };
  walk(u32(8), u32(12), 8, "func_info", (sec, o) =>
    push(out.funcInfo, sec, { insnOff: u32(o), typeId: u32(o + 4) }),
  );
  walk(u32(16), u32(20), 16, "line_info", (sec, o) =>
    push(out.lineInfo, sec, {
      insnOff: u32(o),
      fileNameOff: u32(o + 4),
      lineOff: u32(o + 8),
      lineCol: u32(o + 12),
    }),
  );
  if (hdrLen >= 32)
    walk(u32(24), u32(28), 16, "core_relo", (sec, o) =>
      push(out.coreRelos, sec, {
        insnOff: u32(o),
        typeId: u32(o + 4),
        accessStr: btf.string(u32(o + 8)),
        kind: u32(o + 12),
      }),
    );
  return out;
}
