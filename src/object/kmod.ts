/**
 * parseKernelModule: what a `.ko` says about its kfuncs, without loading it. Pure: bytes in, data out.
 *
 * `.BTF_ids` holds the id sets registered with register_btf_kfunc_id_set():
 *   BTF_KFUNCS_START / BTF_SET8_START → local symbol `__BTF_ID__set8__<name>`:
 *       struct btf_id_set8 { u32 cnt; u32 flags; struct { u32 id; u32 flags; } pairs[]; }
 *   BTF_SET_START → `__BTF_ID__set__<name>`: struct btf_id_set { u32 cnt; u32 ids[]; }
 * The symbol's st_size covers the header and every declared entry; each entry is marked by a
 * `__BTF_ID__func__<fn>__<n>` symbol. resolve_btfids (run by kbuild only when it finds a vmlinux with BTF)
 * fills in cnt and the ids; when it did not run they are all 0, and the kfuncs silently do not exist.
 */
import { type ElfFile, parseElf } from "../elf/index.ts";
import { ObjectError } from "../errors.ts";

export interface KfuncIdEntry {
  /** BTF id in the module's split BTF (0: unresolved). */
  id: number;
  /** KF_* flags (BTF_ID_FLAGS); always 0 for a plain `set`. */
  flags: number;
  /** The function this slot was declared for (`__BTF_ID__func__<fn>__<n>`), when the symbol is there. */
  func: string | undefined;
}

export interface KfuncIdSet {
  /** The set's name (`bpf_kfunc_example_ids_set`). */
  name: string;
  kind: "set8" | "set";
  /** `cnt` as stored (written by resolve_btfids; 0 when it did not run). */
  count: number;
  /** btf_id_set8.flags (BTF_SET8_KFUNCS = 1 on Linux 6.9+); 0 for a plain set. */
  flags: number;
  /** Entries the source declared (from the symbol size). */
  entries: KfuncIdEntry[];
  /** Names of the functions declared in the set, in declaration order. */
  functions: string[];
  /** Every entry has a non-zero id and count matches: resolve_btfids ran against a vmlinux with BTF. */
  resolved: boolean;
}

export interface KernelModuleSpec {
  source: string;
  /** modinfo `name=` (undefined for an object that never went through modpost). */
  name: string | undefined;
  modinfo: Record<string, string>;
  vermagic: string | undefined;
  hasBtf: boolean;
  /** The `.BTF` section: split BTF on top of vmlinux (or of `.BTF.base`). */
  btf: Uint8Array | undefined;
  /** The `.BTF.base` section: distilled base BTF (Linux 6.11+ with pahole >= 1.28), if any. */
  btfBase: Uint8Array | undefined;
  kfuncSets: KfuncIdSet[];
}

const SET8 = "__BTF_ID__set8__";
const SET = "__BTF_ID__set__";
const FUNC = /^__BTF_ID__func__(.+)__\d+$/;

/** `.modinfo`: NUL-separated `key=value` strings; the first occurrence of a key wins. */
function readModinfo(elf: ElfFile): Record<string, string> {
  const info: Record<string, string> = {};
  const sec = elf.section(".modinfo");
  if (!sec) return info;
  for (const entry of new TextDecoder().decode(sec.data).split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0 && !(entry.slice(0, eq) in info)) info[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return info;
}

function readSets(elf: ElfFile): KfuncIdSet[] {
  const ids = elf.section(".BTF_ids");
  if (!ids) return [];
  const view = new DataView(ids.data.buffer, ids.data.byteOffset, ids.data.byteLength);
  const u32 = (o: number) => view.getUint32(o, elf.littleEndian);
  const inIds = elf.symbols.filter((s) => s.shndx === ids.index && s.name);
  const funcs = inIds
    .map((s) => ({ at: s.value, fn: FUNC.exec(s.name)?.[1] }))
    .filter((f): f is { at: number; fn: string } => f.fn !== undefined);
  const sets: KfuncIdSet[] = [];
  for (const sym of inIds.sort((a, b) => a.value - b.value)) {
    const kind = sym.name.startsWith(SET8) ? "set8" : sym.name.startsWith(SET) ? "set" : undefined;
    if (!kind) continue;
    const header = kind === "set8" ? 8 : 4;
    const entrySize = kind === "set8" ? 8 : 4;
    const name = sym.name.slice(kind === "set8" ? SET8.length : SET.length);
    if (sym.size < header || sym.value + sym.size > ids.size || (sym.size - header) % entrySize !== 0)
      throw new ObjectError(
        `file '${elf.source}': section '.BTF_ids': set '${name}' at offset ${sym.value} has a bad size ${sym.size}`,
        { hint: "the module object is malformed; rebuild it" },
      );
    const entries: KfuncIdEntry[] = [];
    for (let o = sym.value + header; o < sym.value + sym.size; o += entrySize)
      entries.push({
        id: u32(o),
        flags: kind === "set8" ? u32(o + 4) : 0,
        func: funcs.find((f) => f.at === o)?.fn,
      });
    const count = u32(sym.value);
    sets.push({
      name,
      kind,
      count,
      flags: kind === "set8" ? u32(sym.value + 4) : 0,
      entries,
      functions: entries.map((e) => e.func).filter((f): f is string => f !== undefined),
      resolved: entries.every((e) => e.id !== 0) && count === entries.length,
    });
  }
  return sets;
}

/** Parses a kernel module (`.ko`, ELF relocatable). Throws ElfError for malformed input. */
export function parseKernelModule(bytes: Uint8Array, source = "<memory>"): KernelModuleSpec {
  const elf = parseElf(bytes, source);
  if (!elf.section(".modinfo") && !elf.section(".gnu.linkonce.this_module"))
    throw new ObjectError(`file '${source}': not a kernel module (no .modinfo section)`, {
      hint: "pass the .ko that kbuild produced (make -C <kdir> M=$PWD modules)",
    });
  const modinfo = readModinfo(elf);
  const btf = elf.section(".BTF");
  const base = elf.section(".BTF.base");
  return {
    source,
    name: modinfo["name"],
    modinfo,
    vermagic: modinfo["vermagic"],
    hasBtf: btf !== undefined && btf.size > 0,
    btf: btf && btf.size > 0 ? btf.data : undefined,
    btfBase: base && base.size > 0 ? base.data : undefined,
    kfuncSets: readSets(elf),
  };
}
