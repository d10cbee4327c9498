/**
 * What the post-build check needs from a `.ko`: its name (modinfo), the `.BTF` section, and the kfunc id
 * sets in `.BTF_ids`. A set is a `struct btf_id_set8 { u32 cnt; u32 flags; struct { u32 id, flags; } pairs[]; }`
 * marked by the local symbol `__BTF_ID__set8__<name>` whose st_size covers the header and every pair the
 * source declared; resolve_btfids fills in `cnt` and the ids. Unresolved, they stay 0.
 */

import { type ElfFile, parseElf } from "../elf/index.ts";
import { KfuncKitError } from "../errors.ts";

export interface KoSetEntry {
  /** BTF id (0 when resolve_btfids did not run). */
  id: number;
  /** BTF_ID_FLAGS value (KF_*). */
  flags: number;
}

export interface KoKfuncSet {
  name: string;
  /** btf_id_set8.flags (BTF_SET8_KFUNCS on 6.9+). */
  setFlags: number;
  /** How many entries the source declared (from the symbol size). */
  declared: number;
  /** btf_id_set8.cnt as written by resolve_btfids. */
  cnt: number;
  entries: KoSetEntry[];
  /** The `__BTF_ID__func__<name>__<n>` symbols placed in this set, in declaration order. */
  declaredFuncs: string[];
}

export interface KoInfo {
  source: string;
  /** modinfo `name=` (absent when the .ko predates modpost). */
  name: string | undefined;
  modinfo: Record<string, string>;
  /** The module's split BTF, if pahole ran. */
  btf: Uint8Array | undefined;
  sets: KoKfuncSet[];
}

const SET8_PREFIX = "__BTF_ID__set8__";
const FUNC_SYMBOL = /^__BTF_ID__func__(.+)__\d+$/;

function readModinfo(elf: ElfFile): Record<string, string> {
  const info: Record<string, string> = {};
  const sec = elf.section(".modinfo");
  if (!sec) return info;
  const text = new TextDecoder().decode(sec.data);
  for (const entry of text.split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) info[entry.slice(0, eq)] ??= entry.slice(eq + 1);
  }
  return info;
}

/** Reads a built kernel module (ET_REL x86-64). */
export function readKernelModule(bytes: Uint8Array, source: string): KoInfo {
  const elf = parseElf(bytes, source);
  const modinfo = readModinfo(elf);
  const btfSec = elf.section(".BTF");
  const ids = elf.section(".BTF_ids");
  const sets: KoKfuncSet[] = [];
  if (ids) {
    const view = new DataView(ids.data.buffer, ids.data.byteOffset, ids.data.byteLength);
    const inIds = elf.symbols.filter((s) => s.shndx === ids.index);
    for (const sym of inIds) {
      if (!sym.name.startsWith(SET8_PREFIX)) continue;
      const off = sym.value;
      if (sym.size < 8 || off + sym.size > ids.size) {
        throw new KfuncKitError(
          "MODULE",
          `${source}: .BTF_ids: set '${sym.name}' at ${off} (size ${sym.size}) is out of bounds`,
          {
            hint: "the module object is malformed; rebuild it",
          },
        );
      }
      const declared = (sym.size - 8) / 8;
      const entries: KoSetEntry[] = [];
      for (let i = 0; i < declared; i++) {
        entries.push({
          id: view.getUint32(off + 8 + i * 8, elf.littleEndian),
          flags: view.getUint32(off + 12 + i * 8, elf.littleEndian),
        });
      }
      const declaredFuncs = inIds
        .filter((s) => s.value >= off + 8 && s.value < off + sym.size && FUNC_SYMBOL.test(s.name))
        .sort((a, b) => a.value - b.value)
        .map((s) => FUNC_SYMBOL.exec(s.name)![1]!);
      sets.push({
        name: sym.name.slice(SET8_PREFIX.length),
        setFlags: view.getUint32(off + 4, elf.littleEndian),
        declared,
        cnt: view.getUint32(off, elf.littleEndian),
        entries,
        declaredFuncs,
      });
    }
  }
  return { source, name: modinfo["name"], modinfo, btf: btfSec?.data, sets };
}
