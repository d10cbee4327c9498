/**
 * Test helpers for the C printer: an in-memory BTF built from model types (ids 1..n in order), for
 * declarator cases that are awkward to get out of clang.
 */
import type { CTypeSource } from "../../src/btf/c-decl.ts";
import type { BtfType } from "../../src/btf/types.ts";

/** Distributes Omit over the union, so each kind keeps its own fields. */
export type NoId<T> = T extends unknown ? Omit<T, "id"> : never;

export function modelBtf(types: NoId<BtfType>[], source = "model.btf"): CTypeSource {
  const all: BtfType[] = [{ id: 0, kind: "VOID", name: "" }];
  types.forEach((t, i) => {
    all.push({ ...t, id: i + 1 } as BtfType);
  });
  return {
    source,
    base: undefined,
    firstId: 1,
    nextId: all.length,
    typeById(id: number): BtfType {
      const t = all[id];
      if (!t) throw new Error(`dangling id ${id}`);
      return t;
    },
  };
}
