/**
 * The Collection API (cilium/ebpf style): an ObjectSpec is the blueprint, a Collection the loaded objects.
 *
 *   const spec = parseObject(bytes, "prog.bpf.o");
 *   setGlobal(spec, "target_pid", process.pid);          // .rodata before load
 *   using coll = await loadCollection(spec);
 *   coll.programs.get("on_enter"); coll.maps.get("counts"); coll.variables.get("hits")?.get();
 */
import { readFile } from "node:fs/promises";
import { UsageError } from "../errors.ts";
import { parseObject } from "../object/index.ts";
import type { ObjectSpec } from "../object/types.ts";
import type { Fd } from "../sys/fd.ts";
import { type GlobalData, Variable } from "./global-data.ts";
import { CollectionLoader, type LoadOptions, withDefaults } from "./loader.ts";
import type { BpfMap } from "./map.ts";
import type { Program } from "./program.ts";
import { track, untrack } from "./registry.ts";

export type { LoadOptions } from "./loader.ts";

const owners = new WeakMap<object, Collection>();

/** The Collection a loaded program belongs to (USDT attach finds the object's `__bpf_usdt_*` maps through it). */
export function collectionOf(program: object): Collection | undefined {
  return owners.get(program);
}

export class Collection implements Disposable {
  readonly source: string;
  readonly programs: ReadonlyMap<string, Program>;
  readonly maps: ReadonlyMap<string, BpfMap>;
  /** Global variables by name (.data/.bss/.rodata/.kconfig), typed by BTF. */
  readonly variables: ReadonlyMap<string, Variable>;
  readonly #globals: Map<string, GlobalData>;
  readonly #btfFd: Fd | undefined;
  #closed = false;

  constructor(
    source: string,
    programs: Map<string, Program>,
    maps: Map<string, BpfMap>,
    globals: Map<string, GlobalData>,
    btfFd: Fd | undefined,
    spec: ObjectSpec,
  ) {
    this.source = source;
    this.programs = programs;
    this.maps = maps;
    this.#globals = globals;
    this.#btfFd = btfFd;
    const vars = new Map<string, Variable>();
    for (const ds of spec.dataSections) {
      const g = globals.get(ds.name);
      if (!g) continue;
      for (const v of ds.variables)
        if (v.name && !vars.has(v.name)) vars.set(v.name, new Variable(v, g, spec.btf));
    }
    this.variables = vars;
    for (const p of programs.values()) owners.set(p, this);
    track(this);
  }

  /** A program by name; throws a KfuncKitError listing the available names when missing. */
  program(name: string): Program {
    return named(this.programs, name, `${this.source}: no program named`, "programs");
  }

  map(name: string): BpfMap {
    return named(this.maps, name, `${this.source}: no map named`, "maps");
  }

  variable(name: string): Variable {
    return named(this.variables, name, `${this.source}: no global variable named`, "variables");
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes every program, map, mapping and the BTF fd. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    untrack(this);
    for (const p of this.programs.values()) p.close();
    for (const g of this.#globals.values()) g.close();
    for (const m of this.maps.values()) m.close();
    this.#btfFd?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Loads every map and program of `spec` into the running kernel. Transactional: on any error every fd
 * created so far is closed and the error is thrown (VerifierError for rejected programs, KfuncKitError
 * "KFUNC" for unresolvable kfuncs, SyscallError-caused errors otherwise).
 */
export async function loadCollection(
  spec: ObjectSpec,
  options: Partial<LoadOptions> = {},
): Promise<Collection> {
  return loadCollectionSync(spec, options);
}

/** Synchronous variant of {@link loadCollection} (hot loops, benchmarks). */
export function loadCollectionSync(spec: ObjectSpec, options: Partial<LoadOptions> = {}): Collection {
  const loader = new CollectionLoader(spec, withDefaults(options));
  try {
    const parts = loader.run();
    return new Collection(spec.source, parts.programs, parts.maps, parts.globals, parts.btfFd, spec);
  } catch (e) {
    loader.close();
    throw e;
  }
}

/** Reads, parses and loads an object file. */
export async function loadObjectFile(path: string, options: Partial<LoadOptions> = {}): Promise<Collection> {
  const spec = parseObject(await readFile(path), path);
  return loadCollection(spec, options);
}

/** Global variables' initial values live on the spec (src/object/globals.ts); re-exported for loaders' users. */
export { getGlobal, setGlobal } from "../object/globals.ts";

/** `table`'s entry `name`, or a UsageError whose hint lists the names there are. */
function named<T>(table: ReadonlyMap<string, T>, name: string, missing: string, plural: string): T {
  const v = table.get(name);
  if (v === undefined)
    throw new UsageError(`${missing} '${name}'`, {
      hint: `${plural}: ${[...table.keys()].join(", ") || "(none)"}`,
    });
  return v;
}
