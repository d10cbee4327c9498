import { BtfError } from "../errors.ts";

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
/** sizeof(struct btf_header) in version 1; hdr_len may be larger (newer fields). */
export const BTF_HEADER_MIN = 24;

export interface BtfHeader {
  littleEndian: boolean;
  hdrLen: number;
  /** Absolute byte offset and length of the type section inside the BTF bytes. */
  typeStart: number;
  typeLen: number;
  /** Absolute byte offset and length of the string section inside the BTF bytes. */
  strStart: number;
  strLen: number;
}

/** Reads and bounds-checks `struct btf_header` (either byte order). */
export function parseBtfHeader(bytes: Uint8Array, source: string): BtfHeader {
  const fail = (what: string, hint?: string): never => {
    throw new BtfError(source, undefined, what, {
      hint:
        hint ??
        "the BTF is truncated or corrupt: regenerate it (clang -g for objects, pahole -J for kernel BTF)",
    });
  };
  if (bytes.length < BTF_HEADER_MIN)
    fail(`BTF header truncated: ${bytes.length} bytes, expected at least ${BTF_HEADER_MIN}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const raw = view.getUint16(0, true);
  let le: boolean;
  if (raw === BTF_MAGIC) le = true;
  else if (raw === 0x9feb) le = false;
  else
    return fail(
      `bad BTF magic 0x${raw.toString(16).padStart(4, "0")} at offset 0, expected 0xeb9f`,
      "pass raw BTF (a .BTF section or /sys/kernel/btf/<name>), not a whole ELF file",
    );
  const version = bytes[2]!;
  if (version !== BTF_VERSION) fail(`unsupported BTF version ${version} at offset 2, expected 1`);
  const hdrLen = view.getUint32(4, le);
  if (hdrLen < BTF_HEADER_MIN || hdrLen > bytes.length)
    fail(`BTF hdr_len ${hdrLen} at offset 4 is out of range (expected ${BTF_HEADER_MIN}..${bytes.length})`);
  const typeOff = view.getUint32(8, le);
  const typeLen = view.getUint32(12, le);
  const strOff = view.getUint32(16, le);
  const strLen = view.getUint32(20, le);
  const body = bytes.length - hdrLen;
  if (typeOff % 4 !== 0) fail(`type section offset ${typeOff} is not 4-byte aligned`);
  if (typeOff + typeLen > body)
    fail(
      `type section [${typeOff}, +${typeLen}) runs past the end of the BTF data (${body} bytes after the header; truncated?)`,
    );
  if (strOff + strLen > body)
    fail(
      `string section [${strOff}, +${strLen}) runs past the end of the BTF data (${body} bytes after the header; truncated?)`,
    );
  if (typeLen > 0 && strLen > 0 && typeOff < strOff + strLen && strOff < typeOff + typeLen)
    fail(`type section [${typeOff}, +${typeLen}) overlaps string section [${strOff}, +${strLen})`);
  return {
    littleEndian: le,
    hdrLen,
    typeStart: hdrLen + typeOff,
    typeLen,
    strStart: hdrLen + strOff,
    strLen,
  };
}

/** Header + type section + string section: the one place a BTF blob is put together (version 1, no padding). */
export function assembleBtf(types: Uint8Array, strings: Uint8Array, littleEndian = true): Uint8Array {
  const out = new Uint8Array(BTF_HEADER_MIN + types.length + strings.length);
  const hv = new DataView(out.buffer);
  hv.setUint16(0, BTF_MAGIC, littleEndian);
  out[2] = BTF_VERSION;
  out[3] = 0;
  hv.setUint32(4, BTF_HEADER_MIN, littleEndian);
  hv.setUint32(8, 0, littleEndian);
  hv.setUint32(12, types.length, littleEndian);
  hv.setUint32(16, types.length, littleEndian);
  hv.setUint32(20, strings.length, littleEndian);
  out.set(types, BTF_HEADER_MIN);
  out.set(strings, BTF_HEADER_MIN + types.length);
  return out;
}
