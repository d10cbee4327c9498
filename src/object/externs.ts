/**
 * Externs: `.ksyms` (kfuncs are FUNCs, ksyms are VARs) and `.kconfig` (VARs) from the object's BTF DATASECs,
 * with the weak flag from the ELF symbol's binding. `.kconfig` offsets are assigned the way libbpf does
 * (bpf_object__collect_externs): sorted by alignment descending, then size ascending, then name.
 */
import type { Btf } from "../btf/index.ts";
import type { ElfFile } from "../elf/index.ts";
import { SHN_UNDEF, STB_WEAK } from "../elf/index.ts";
import { ObjectError } from "../errors.ts";
import type { ExternSpec } from "./types.ts";

/** `bpf_foo___v2` → `bpf_foo` (libbpf's "essential name": the part before `___`). */
export function essentialName(name: string): string {
  const i = name.indexOf("___");
  return i > 0 ? name.slice(0, i) : name;
}

export interface ExternsResult {
  externs: ExternSpec[];
  /** Size of the `.kconfig` map value (0 when there are no kconfig externs). */
  kconfigSize: number;
  /** The `.kconfig` DATASEC id, 0 when none. */
  kconfigBtfId: number;
}

export function readExterns(elf: ElfFile, btf: Btf | undefined): ExternsResult {
  const undefinedSyms = new Map<string, { bind: number }>();
  for (const s of elf.symbols) if (s.shndx === SHN_UNDEF && s.name) undefinedSyms.set(s.name, s);
  if (!btf) {
    if (undefinedSyms.size > 0) {
      const names = [...undefinedSyms.keys()].slice(0, 5).join("', '");
      throw new ObjectError(
        `file '${elf.source}': extern '${names}' needs BTF, but the object has no .BTF section`,
        { hint: "compile with clang -g (kfunc build does) so externs are described in BTF" },
      );
    }
    return { externs: [], kconfigSize: 0, kconfigBtfId: 0 };
  }
  const externs: ExternSpec[] = [];
  const weakOf = (name: string) => undefinedSyms.get(name)?.bind === STB_WEAK;
  /** The fields every extern takes from its BTF type the same way. */
  const named = (t: { id: number; name: string }) => ({
    name: t.name,
    essentialName: essentialName(t.name),
    weak: weakOf(t.name),
    btfId: t.id,
  });

  const ksyms = btf.findByName(".ksyms", "DATASEC");
  if (ksyms?.kind === "DATASEC") {
    for (const vs of ksyms.vars) {
      const t = btf.typeById(vs.type);
      if (t.kind === "FUNC") {
        externs.push({
          kind: "kfunc",
          ...named(t),
          typeId: t.type,
          offset: 0,
          size: 0,
        });
      } else if (t.kind === "VAR") {
        const typed = btf.skipModifiers(t.type).kind !== "VOID";
        externs.push({
          kind: "ksym",
          ...named(t),
          typeId: typed ? t.type : 0,
          offset: 0,
          size: typed ? btf.sizeof(t.type) : 0,
        });
      } else {
        throw new ObjectError(
          `file '${elf.source}': section '.ksyms': type [${t.id}] is a ${t.kind}, expected FUNC or VAR`,
          { hint: "declare kfuncs as `extern <proto> __ksym;` and ksyms as `extern <type> <name> __ksym;`" },
        );
      }
    }
  }

  let kconfigSize = 0;
  const kconfig = btf.findByName(".kconfig", "DATASEC");
  if (kconfig?.kind === "DATASEC") {
    const list: Array<ExternSpec & { align: number }> = [];
    for (const vs of kconfig.vars) {
      const t = btf.typeById(vs.type);
      if (t.kind !== "VAR")
        throw new ObjectError(
          `file '${elf.source}': section '.kconfig': type [${t.id}] is a ${t.kind}, expected VAR`,
          { hint: "declare kconfig externs as `extern <int type> CONFIG_X __kconfig;`" },
        );
      list.push({
        kind: "kconfig",
        ...named(t),
        typeId: t.type,
        offset: 0,
        size: btf.sizeof(t.type),
        align: Math.max(1, btf.alignof(t.type)),
      });
    }
    list.sort(
      (a, b) => b.align - a.align || a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
    let off = 0;
    for (const e of list) {
      off = Math.ceil(off / e.align) * e.align;
      e.offset = off;
      off += e.size;
      const { align: _align, ...spec } = e;
      externs.push(spec);
    }
    kconfigSize = off;
  }
  return {
    externs,
    kconfigSize,
    kconfigBtfId: kconfig?.kind === "DATASEC" ? kconfig.id : 0,
  };
}
