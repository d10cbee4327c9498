/** Caches kept per Btf object, weakly: a Btf that is dropped drops its entries too. */
import type { Btf } from "./btf.ts";

/** A function that returns the one Map of a Btf (made on first use). */
export function perBtfMaps<K, V>(): (btf: Btf) => Map<K, V> {
  const maps = new WeakMap<Btf, Map<K, V>>();
  return (btf) => {
    let m = maps.get(btf);
    if (!m) {
      m = new Map();
      maps.set(btf, m);
    }
    return m;
  };
}
