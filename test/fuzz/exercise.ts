/**
 * Walks everything a parsed result offers, so lazy decoding and the accessors run under the fuzzer.
 * Accessors may throw KfuncKitError (a FUNC has no size, a dangling id…); anything else propagates.
 */
import {
  type Btf,
  type BtfExt,
  type BtfType,
  encodeBtf,
  parseBtf,
  parseBtfExt,
} from "../../src/btf/index.ts";
import { type ElfFile, parseElf } from "../../src/elf/index.ts";
import { isKfuncKitError } from "../../src/errors.ts";

function tolerate<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (isKfuncKitError(e)) return undefined;
    throw e;
  }
}

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x));

/** Every type, every accessor, and the writer round trip (encode must reproduce the same types). */
export function exerciseBtf(btf: Btf, maxTypes = 5000): void {
  const own: BtfType[] = [];
  const end = Math.min(btf.nextId, btf.firstId + maxTypes);
  for (let id = btf.firstId; id < end; id++) {
    const t = tolerate(() => btf.typeById(id));
    if (!t) continue;
    own.push(t);
  }
  for (let id = btf.firstId; id < end; id++) {
    tolerate(() => btf.resolve(id));
    tolerate(() => btf.skipModifiers(id));
    tolerate(() => btf.sizeof(id));
    tolerate(() => btf.alignof(id));
    tolerate(() => btf.declTagsOf(id));
  }
  for (const t of own.slice(0, 200)) {
    if (!t.name) continue;
    const found = btf.findByName(t.name, t.kind);
    if (!found) throw new Error(`findByName(${json(t.name)}, ${t.kind}) misses type [${t.id}]`);
    btf.findAllByName(t.name);
  }
  tolerate(() => btf.string(0));
  // writer round trip over the decodable prefix (skipped when some type failed to decode)
  if (own.length === btf.nextId - btf.firstId && own.length <= maxTypes) {
    const bytes = tolerate(() =>
      encodeBtf(own, { littleEndian: btf.littleEndian, ...(btf.base ? { base: btf.base } : {}) }),
    );
    if (bytes) {
      const again = parseBtf(bytes, btf.base ? { base: btf.base } : {});
      const a = json([...again.ownTypes()]);
      if (a !== json(own)) throw new Error("encodeBtf/parseBtf round trip changed the types");
    }
  }
}

export function exerciseExt(ext: BtfExt): number {
  let n = 0;
  for (const m of [ext.funcInfo, ext.lineInfo, ext.coreRelos])
    for (const list of m.values()) n += list.length;
  return n;
}

export function exerciseElf(elf: ElfFile): void {
  for (const s of elf.sections) {
    elf.section(s.name);
    tolerate(() => elf.relocationsFor(s.index));
  }
  for (const sym of elf.symbols) {
    if (sym.shndx !== 0 && sym.shndx < 0xff00 && !elf.sections[sym.shndx])
      throw new Error(`symbol '${sym.name}' points at section ${sym.shndx}, which does not exist`);
  }
}

/** The object pipeline of the pure layers: ELF → .BTF → .BTF.ext. */
export function parseObjectLayers(bytes: Uint8Array): void {
  const elf = parseElf(bytes, "fuzz.o");
  exerciseElf(elf);
  const btfSec = elf.section(".BTF");
  if (!btfSec) return;
  const btf = parseBtf(btfSec.data, { source: "fuzz.o" });
  exerciseBtf(btf);
  const extSec = elf.section(".BTF.ext");
  if (extSec) exerciseExt(parseBtfExt(extSec.data, btf));
}
