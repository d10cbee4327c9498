/**
 * Test helpers for the C printer: a real BTF encoded from model types (ids 1..n in order), for declarator
 * cases that are awkward to get out of clang.
 */
import { type Btf, BtfBuilder, type BtfTypeInit, parseBtf } from "../../src/btf/index.ts";

export function modelBtf(types: BtfTypeInit[], source = "model.btf"): Btf {
  const b = new BtfBuilder({ source });
  for (const t of types) b.add(t);
  return parseBtf(b.encode(), { source });
}
