/**
 * Programs: one per FUNC symbol in each executable section except `.text`, whose functions are
 * subprograms. Each program gets the subprograms it calls appended (libbpf's bpf_object__reloc_code), and
 * every relocation is classified and re-indexed into the program's final instruction array.
 */
import { INSN_SIZE, Insns } from "../asm/index.ts";
import { type Btf, type BtfExt, coreReloKindName } from "../btf/index.ts";
import type { ElfFile, ElfSection, ElfSymbol } from "../elf/index.ts";
import { SHF_EXECINSTR, SHN_UNDEF, SHT, STB_GLOBAL, STB_LOCAL, STT_FUNC } from "../elf/index.ts";
import { ObjectError } from "../errors.ts";
import { knownSectionPrefixes, matchSection, stripAutoloadMark } from "./sections.ts";
import type {
  CoreReloSpec,
  DataSectionSpec,
  ExternSpec,
  FuncInfoSpec,
  LineInfoSpec,
  MapSpec,
  ProgramSpec,
  RelocationSpec,
  RelocationTarget,
  SubprogramSpec,
} from "./types.ts";
import {
  attachType,
  BPF_CALL_INSN,
  BPF_F_SLEEPABLE,
  BPF_F_XDP_HAS_FRAGS,
  BPF_LD_IMM64,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  progType,
} from "./uapi.ts";

/** A function's code in its ELF section. */
const STV_INTERNAL = 1;
const STV_HIDDEN = 2;

interface FuncUnit {
  name: string;
  section: ElfSection;
  /** First instruction, as an index into the section. */
  start: number;
  count: number;
  global: boolean;
  /** A non-local symbol with hidden/internal visibility (`__hidden`): libbpf verifies it as static. */
  hidden: boolean;
}

/** A relocation before linking: subprogram references still point at (section, instruction). */
type RawTarget =
  | Exclude<RelocationTarget, { kind: "subprog" }>
  | { kind: "subprogRef"; section: number; insn: number; call: boolean };
interface RawRelo {
  /** Instruction index into the section. */
  insn: number;
  symbol: string;
  target: RawTarget;
}

export interface ProgramContext {
  elf: ElfFile;
  btf: Btf | undefined;
  ext: BtfExt | undefined;
  maps: MapSpec[];
  dataSections: DataSectionSpec[];
  externs: ExternSpec[];
}

function isCode(s: ElfSection): boolean {
  return s.type === SHT.PROGBITS && (s.flags & SHF_EXECINSTR) !== 0 && s.size > 0;
}

/** FUNC symbols of a code section, sorted by address, as units. */
function unitsOf(elf: ElfFile, s: ElfSection): FuncUnit[] {
  if (s.size % INSN_SIZE !== 0)
    throw new ObjectError(
      `file '${elf.source}': section '${s.name}': size ${s.size} is not a multiple of 8 (instruction size)`,
      { hint: "the object is corrupt; recompile it" },
    );
  const syms = elf.symbols
    .filter((y) => y.shndx === s.index && y.type === STT_FUNC && y.name)
    .sort((a, b) => a.value - b.value);
  return syms.map((y: ElfSymbol) => {
    if (y.value % INSN_SIZE !== 0 || y.value + y.size > s.size || y.size === 0)
      throw new ObjectError(
        `file '${elf.source}': section '${s.name}': function '${y.name}' has a bad range [${y.value}, +${y.size})`,
        { hint: "the object is corrupt; recompile it" },
      );
    return {
      name: y.name,
      section: s,
      start: y.value / INSN_SIZE,
      count: y.size / INSN_SIZE,
      global: y.bind === STB_GLOBAL,
      hidden: y.bind !== STB_LOCAL && (y.visibility === STV_HIDDEN || y.visibility === STV_INTERNAL),
    };
  });
}

function classify(ctx: ProgramContext, s: ElfSection, code: Insns): RawRelo[] {
  const { elf } = ctx;
  const out: RawRelo[] = [];
  const relocated = new Set<number>();
  const where = (insn: number, sym: string) =>
    `file '${elf.source}': section '${s.name}': insn ${insn} ('${sym}')`;
  for (const r of elf.relocationsFor(s.index)) {
    const insn = r.offset / INSN_SIZE;
    if (!Number.isInteger(insn) || r.offset + INSN_SIZE > s.size)
      throw new ObjectError(
        `file '${elf.source}': section '${s.name}': relocation at bad offset ${r.offset}`,
        {
          hint: "the object is corrupt; recompile it",
        },
      );
    const sym = elf.symbols[r.symbol]!;
    const op = code.code(insn);
    const imm = code.imm(insn);
    relocated.add(insn);
    const push = (target: RawTarget) => out.push({ insn, symbol: sym.name, target });
    if (op === BPF_CALL_INSN) {
      if (sym.shndx === SHN_UNDEF) {
        const ext = ctx.externs.find((e) => e.name === sym.name);
        if (ext?.kind !== "kfunc")
          throw new ObjectError(
            `${where(insn, sym.name)}: call to an undefined function that is not a kfunc`,
            {
              hint: `declare it as a kfunc: extern <prototype> ${sym.name}(…) __ksym;`,
            },
          );
        push({ kind: "kfuncCall", extern: ext.name });
      } else if (isCode(elf.sections[sym.shndx] ?? s)) {
        push({ kind: "subprogRef", section: sym.shndx, insn: sym.value / INSN_SIZE + imm + 1, call: true });
      } else {
        throw new ObjectError(`${where(insn, sym.name)}: call target is not code`, {
          hint: "the object is corrupt; recompile it",
        });
      }
      continue;
    }
    if (op !== BPF_LD_IMM64)
      throw new ObjectError(
        `${where(insn, sym.name)}: relocation on opcode 0x${op.toString(16)}; only call and ld_imm64 can be relocated`,
        { hint: "the object is corrupt or uses an unsupported construct" },
      );
    if (insn + 1 >= s.size / INSN_SIZE)
      throw new ObjectError(`${where(insn, sym.name)}: ld_imm64 is truncated`, {
        hint: "recompile the object",
      });
    if (sym.shndx === SHN_UNDEF) {
      const ext = ctx.externs.find((e) => e.name === sym.name);
      if (!ext)
        throw new ObjectError(
          `${where(insn, sym.name)}: reference to an undefined symbol that is not an extern`,
          {
            hint: `declare it with __ksym (kernel symbol) or __kconfig (CONFIG_ value)`,
          },
        );
      if (ext.kind === "kconfig") push({ kind: "kconfig", extern: ext.name, offset: ext.offset });
      else push({ kind: "ksymAddr", extern: ext.name });
      continue;
    }
    const target = elf.sections[sym.shndx];
    if (!target)
      throw new ObjectError(`${where(insn, sym.name)}: symbol in missing section ${sym.shndx}`, {
        hint: "the object is corrupt; recompile it",
      });
    if (target.name === ".maps" || target.name === "maps") {
      const name =
        sym.type === STT_FUNC || !sym.name || sym.name === target.name
          ? elf.symbols.find((y) => y.shndx === target.index && y.value === sym.value + imm && y.name)?.name
          : sym.name;
      const map = ctx.maps.find((m) => m.name === name && m.dataSection === undefined);
      if (!map)
        throw new ObjectError(
          `${where(insn, sym.name)}: no map definition at '${target.name}'+${sym.value + imm}`,
          {
            hint: "reference maps by their variable (&my_map)",
          },
        );
      push({ kind: "map", map: map.name });
    } else if (ctx.dataSections.some((d) => d.name === target.name)) {
      push({ kind: "data", section: target.name, offset: sym.value + imm });
    } else if (isCode(target)) {
      push({ kind: "subprogRef", section: target.index, insn: (sym.value + imm) / INSN_SIZE, call: false });
    } else {
      throw new ObjectError(
        `${where(insn, sym.name)}: refers to section '${target.name}', which is not a map, global data or code section`,
        { hint: "global variables must live in .data, .rodata, .bss, .data.*, .rodata.* or .bss.*" },
      );
    }
  }
  // bpf-to-bpf calls inside one section need no relocation: imm is already relative.
  const n = s.size / INSN_SIZE;
  for (let i = 0; i < n; i++) {
    if (relocated.has(i) || code.code(i) !== BPF_CALL_INSN || code.src(i) !== BPF_PSEUDO_CALL) continue;
    out.push({
      insn: i,
      symbol: "",
      target: { kind: "subprogRef", section: s.index, insn: i + code.imm(i) + 1, call: true },
    });
  }
  return out;
}

export function readPrograms(ctx: ProgramContext): ProgramSpec[] {
  const { elf } = ctx;
  const units = new Map<number, FuncUnit[]>();
  const relos = new Map<number, RawRelo[]>();
  const codeOf = (s: ElfSection): Insns => new Insns(s.data, elf.littleEndian);
  for (const s of elf.sections) {
    if (!isCode(s)) continue;
    if (s.name !== ".text" && !matchSection(s.name))
      throw new ObjectError(`file '${elf.source}': section '${s.name}': unknown program type`, {
        hint: `known prefixes: ${knownSectionPrefixes().join(", ")}`,
      });
    const list = unitsOf(elf, s);
    if (list.length === 0)
      throw new ObjectError(`file '${elf.source}': section '${s.name}': code without a function symbol`, {
        hint: "is the object stripped? programs need their symbols",
      });
    units.set(s.index, list);
    relos.set(s.index, classify(ctx, s, codeOf(s)));
  }
  const unitAt = (section: number, insn: number, from: string): FuncUnit => {
    const u = units.get(section)?.find((x) => insn === x.start);
    if (!u)
      throw new ObjectError(
        `file '${elf.source}': ${from}: no function starts at instruction ${insn} of section '${elf.sections[section]?.name}'`,
        { hint: "the object is corrupt; recompile it" },
      );
    return u;
  };

  const programs: ProgramSpec[] = [];
  for (const [secIndex, list] of units) {
    const s = elf.sections[secIndex]!;
    if (s.name === ".text") continue;
    const match = matchSection(s.name)!;
    for (const main of list) programs.push(link(ctx, main, match, relos, unitAt));
  }
  return programs;
}

function link(
  ctx: ProgramContext,
  main: FuncUnit,
  match: NonNullable<ReturnType<typeof matchSection>>,
  relos: Map<number, RawRelo[]>,
  unitAt: (section: number, insn: number, from: string) => FuncUnit,
): ProgramSpec {
  const order: FuncUnit[] = [main];
  const offsetOf = new Map<FuncUnit, number>([[main, 0]]);
  let total = main.count;
  const relocations: RelocationSpec[] = [];
  const patches: Array<{ at: number; imm: number; pseudoFunc: boolean }> = [];
  for (let k = 0; k < order.length; k++) {
    const u = order[k]!;
    const base = offsetOf.get(u)!;
    for (const r of relos.get(u.section.index) ?? []) {
      if (r.insn < u.start || r.insn >= u.start + u.count) continue;
      const at = base + (r.insn - u.start);
      const t = r.target;
      if (t.kind !== "subprogRef") {
        relocations.push({ ...t, insnIndex: at, symbol: r.symbol });
        continue;
      }
      const callee = unitAt(t.section, t.insn, `program '${main.name}': ${u.name}+${r.insn - u.start}`);
      let calleeOff = offsetOf.get(callee);
      if (calleeOff === undefined) {
        calleeOff = total;
        offsetOf.set(callee, calleeOff);
        order.push(callee);
        total += callee.count;
      }
      patches.push({ at, imm: calleeOff - at - 1, pseudoFunc: !t.call });
      relocations.push({
        kind: "subprog",
        target: callee.name,
        call: t.call,
        insnIndex: at,
        symbol: callee.name,
      });
    }
  }
  const instructions = new Uint8Array(total * INSN_SIZE);
  const subprograms: SubprogramSpec[] = [];
  for (const u of order) {
    const off = offsetOf.get(u)!;
    instructions.set(
      u.section.data.subarray(u.start * INSN_SIZE, (u.start + u.count) * INSN_SIZE),
      off * INSN_SIZE,
    );
    if (u !== main)
      subprograms.push({
        name: u.name,
        section: u.section.name,
        insnIndex: off,
        insnCount: u.count,
        ...(u.hidden ? { hidden: true } : {}),
      });
  }
  const view = new Insns(instructions, ctx.elf.littleEndian);
  for (const p of patches) {
    view.setImm(p.at, p.imm);
    if (p.pseudoFunc) view.setSrc(p.at, BPF_PSEUDO_FUNC);
  }
  for (const r of relocations) if (r.kind === "kfuncCall") view.setSrc(r.insnIndex, BPF_PSEUDO_KFUNC_CALL);
  relocations.sort((a, b) => a.insnIndex - b.insnIndex);

  const funcInfo: FuncInfoSpec[] = [];
  const lineInfo: LineInfoSpec[] = [];
  const coreRelos: CoreReloSpec[] = [];
  const ext = ctx.ext;
  if (ext) {
    for (const u of order) {
      const off = offsetOf.get(u)!;
      const lo = u.start * INSN_SIZE;
      const hi = (u.start + u.count) * INSN_SIZE;
      const idx = (insnOff: number) => off + (insnOff - lo) / INSN_SIZE;
      for (const f of ext.funcInfo.get(u.section.name) ?? [])
        if (f.insnOff >= lo && f.insnOff < hi) funcInfo.push({ insnIndex: idx(f.insnOff), typeId: f.typeId });
      for (const l of ext.lineInfo.get(u.section.name) ?? [])
        if (l.insnOff >= lo && l.insnOff < hi)
          lineInfo.push({
            insnIndex: idx(l.insnOff),
            fileNameOff: l.fileNameOff,
            lineOff: l.lineOff,
            lineCol: l.lineCol,
          });
      for (const c of ext.coreRelos.get(u.section.name) ?? []) {
        if (c.insnOff < lo || c.insnOff >= hi) continue;
        const kindName = coreReloKindName(c.kind);
        if (!kindName)
          throw new ObjectError(
            `file '${ctx.elf.source}': program '${main.name}': CO-RE relocation of unknown kind ${c.kind}`,
            { hint: "the object was built by a newer clang than kfunc-kit knows; please report it" },
          );
        coreRelos.push({
          insnIndex: idx(c.insnOff),
          typeId: c.typeId,
          accessStr: c.accessStr,
          kind: c.kind,
          kindName,
        });
      }
    }
  }
  const btfFuncId =
    funcInfo.find((f) => f.insnIndex === 0)?.typeId ?? ctx.btf?.findByName(main.name, "FUNC")?.id ?? 0;
  const def = match.def;
  const { section, autoload } = stripAutoloadMark(main.section.name);
  return {
    name: main.name,
    section,
    autoload,
    type: progType(def.progType),
    expectedAttachType: def.hasAttachType ? attachType(def.attachType) : undefined,
    attachTarget: match.attachTarget,
    attachKind: def.attach,
    sleepable: def.sleepable,
    flags: (def.sleepable ? BPF_F_SLEEPABLE : 0) | (def.xdpFrags ? BPF_F_XDP_HAS_FRAGS : 0),
    instructions,
    subprograms,
    relocations,
    funcInfo,
    lineInfo,
    coreRelos,
    btfFuncId,
    global: main.global,
  };
}
