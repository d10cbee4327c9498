/**
 * Kernel objects shared by many loads in one process, for callers that load the same object again and again
 * (`kfunc test` loads each test program alone, with its auxiliary programs): the module BTF set is
 * enumerated and parsed once, and an object's BTF is sanitized and loaded into the kernel once (its fd is
 * reused by every later load of the same spec or a clone of it). The session owns these fds; a Collection
 * loaded with it does not close them, and stays valid after the session is closed (the kernel keeps what a
 * loaded map or program references). Assumes no module is inserted or removed while the session is open.
 */
import type { Btf } from "../btf/index.ts";
import { UsageError } from "../errors.ts";
import type { Fd } from "../sys/fd.ts";
import { loadModuleBtfs, type ModuleBtfSet } from "./kernel-btf.ts";

export class LoadSession implements Disposable {
  #modules: ModuleBtfSet | undefined;
  #base: Btf | undefined;
  /** Object BTF (by the parsed Btf a spec and its clones share) → the sanitize inputs' key and the loaded fd. */
  readonly #objectBtfs = new Map<Btf, { key: string; fd: Fd }[]>();
  #closed = false;

  /**
   * The module BTFs, split on `base` (enumerated on first use by `enumerate`: the loader passes its
   * Environment's; default the running kernel's).
   */
  modules(base: Btf, enumerate: (base: Btf) => ModuleBtfSet = loadModuleBtfs): ModuleBtfSet {
    this.#check();
    if (!this.#modules || this.#base !== base) {
      this.#modules?.close();
      this.#modules = enumerate(base);
      this.#base = base;
    }
    return this.#modules;
  }

  /**
   * The kernel fd of an object's BTF: loaded by `load` the first time this BTF is seen with this `key` (what
   * else went into the bytes loaded: data section sizes, externs, kernel features), reused afterwards.
   */
  objectBtf(btf: Btf, key: string, load: () => Fd): Fd {
    this.#check();
    const list = this.#objectBtfs.get(btf) ?? [];
    const hit = list.find((x) => x.key === key);
    if (hit) return hit.fd;
    const fd = load();
    list.push({ key, fd });
    this.#objectBtfs.set(btf, list);
    return fd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the module BTF fds and the object BTF fds. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#modules?.close();
    this.#modules = undefined;
    for (const list of this.#objectBtfs.values()) for (const x of list) x.fd.close();
    this.#objectBtfs.clear();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #check(): void {
    if (this.#closed) throw new UsageError("LoadSession used after close()");
  }
}
