/**
 * A global data section in the kernel (.data/.bss/.rodata/.kconfig map) and its variables decoded from BTF.
 * Writable sections are mmapped when the map is BPF_F_MMAPABLE (zero-copy, no syscall per access);
 * otherwise reads/writes go through map lookup/update of element 0. {@link mmapDecision} says which.
 */

import { type BtfValue, bytesCodec, codecFor, type ValueCodec } from "../btf/codec.ts";
import type { Btf } from "../btf/index.ts";
import { BTF_VAR_STATIC } from "../btf/types.ts";
import { SyscallError, UsageError } from "../errors.ts";
import type { DataSectionSpec, DataVariableSpec } from "../object/types.ts";
import type { Mapping } from "../sys/mmap.ts";
import type { BpfMap } from "./map.ts";

/** Struct types the kernel manages inside a map value (kernel/bpf/btf.c btf_get_field_type). */
const KERNEL_STRUCTS = new Set([
  "bpf_spin_lock",
  "bpf_res_spin_lock",
  "bpf_timer",
  "bpf_wq",
  "bpf_task_work",
  "bpf_list_head",
  "bpf_list_node",
  "bpf_rb_root",
  "bpf_rb_node",
  "bpf_refcount",
]);
/** Pointer type tags that make a field a kptr/uptr. */
const KPTR_TAGS = new Set(["kptr", "kptr_untrusted", "kptr_ref", "percpu_kptr", "uptr"]);

/**
 * The first field of type `id` that the kernel manages itself (a kptr, spin lock, timer, list/rbtree
 * head…), as "<what> in '<name>'", or undefined. The kernel refuses to mmap a map whose value holds one
 * (bpf_map_mmap: `!IS_ERR_OR_NULL(map->record)` → ENOTSUPP).
 */
export function kernelManagedField(btf: Btf, id: number, depth = 0): string | undefined {
  if (depth > 32 || id === 0) return undefined;
  const t = btf.typeById(id);
  switch (t.kind) {
    case "TYPEDEF":
    case "VOLATILE":
    case "CONST":
    case "RESTRICT":
    case "TYPE_TAG":
    case "VAR":
      return kernelManagedField(btf, t.type, depth + 1);
    case "ARRAY":
      return kernelManagedField(btf, t.type, depth + 1);
    case "PTR": {
      // kptrs are PTR → TYPE_TAG("kptr"…) → [modifiers] → struct
      let cur = t.type;
      for (let i = 0; i < 8 && cur !== 0; i++) {
        const p = btf.typeById(cur);
        if (p.kind === "TYPE_TAG" && KPTR_TAGS.has(p.name)) return `__${p.name} pointer`;
        if (p.kind !== "TYPE_TAG" && p.kind !== "CONST" && p.kind !== "VOLATILE") break;
        cur = p.type;
      }
      return undefined;
    }
    case "STRUCT":
    case "UNION":
      if (KERNEL_STRUCTS.has(t.name)) return `struct ${t.name}`;
      for (const m of t.members) {
        const f = kernelManagedField(btf, m.type, depth + 1);
        if (f) return m.name ? `${f} (member '${m.name}')` : f;
      }
      return undefined;
    default:
      return undefined;
  }
}

/** Whether a global data section's map is created BPF_F_MMAPABLE and mmapped, and why. */
export interface MmapDecision {
  mmap: boolean;
  reason: string;
}

/**
 * libbpf's rule (libbpf.c `map_is_mmapable`, libbpf ≥ 1.2): a global data map is BPF_F_MMAPABLE exactly when
 * its DATASEC has BTF and at least one variable that is not static (a `static` or `__hidden` global is not
 * exposed to user space, so there is nothing to map). One addition: a section holding a field the kernel
 * manages (kptr, spin lock, timer, list/rbtree head…) is not mmapable either, because the kernel refuses to
 * mmap such a map (libbpf sets the flag and then fails the load in its mmap); kfunc-kit reads and writes such
 * a section through map lookup/update instead.
 */
export function mmapDecision(ds: DataSectionSpec | undefined, btf: Btf | undefined): MmapDecision {
  if (!ds || !btf || ds.btfId === 0) return { mmap: false, reason: "no BTF for the section" };
  if (!ds.variables.some((v) => v.linkage !== BTF_VAR_STATIC))
    return { mmap: false, reason: "only static or __hidden variables (nothing exposed, as libbpf)" };
  for (const v of ds.variables) {
    const f = kernelManagedField(btf, v.typeId);
    if (f)
      return {
        mmap: false,
        reason: `variable '${v.name}' holds a ${f}: the kernel does not mmap such a map`,
      };
  }
  return { mmap: true, reason: "has global variables (as libbpf)" };
}

export class GlobalData {
  readonly section: string;
  readonly map: BpfMap;
  readonly readonly: boolean;
  /** Why the section is, or is not, mmapped (see {@link mmapDecision}). */
  readonly mmapReason: string;
  #mapping: Mapping | undefined;
  #bytes: Uint8Array | undefined;

  constructor(
    section: string,
    map: BpfMap,
    readonly: boolean,
    mapping: Mapping | undefined,
    mmapReason = "",
  ) {
    this.section = section;
    this.map = map;
    this.readonly = readonly;
    this.mmapReason = mmapReason;
    this.#mapping = mapping;
    if (mapping) this.#bytes = new Uint8Array(mapping.buffer, 0, map.valueSize);
  }

  get mmapped(): boolean {
    return this.#mapping !== undefined && !this.#mapping.closed;
  }

  /** The section's current contents: a live view when mmapped, else a fresh copy. */
  read(): Uint8Array {
    if (this.#bytes && this.mmapped) return this.#bytes;
    const v = this.map.lookupRaw(new Uint8Array(4));
    if (!v)
      throw new SyscallError(`map lookup (${this.map.name}, key 0)`, 2, "ENOENT", {
        message: `global data '${this.section}': element 0 missing`,
      });
    return v;
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readonly)
      throw new UsageError(`global data '${this.section}' is read-only after load`, {
        hint: "set .rodata variables on the spec before loading (setGlobal(spec, name, value))",
      });
    if (this.#bytes && this.mmapped) {
      this.#bytes.set(data, offset);
      return;
    }
    const cur = this.read();
    cur.set(data, offset);
    this.map.updateRaw(new Uint8Array(4), cur);
  }

  close(): void {
    this.#mapping?.close();
    this.#bytes = undefined;
  }
}

/** A global variable of a loaded collection, typed by its BTF. */
export class Variable {
  readonly name: string;
  readonly section: string;
  readonly offset: number;
  readonly size: number;
  readonly #data: GlobalData;
  readonly #codec: ValueCodec;

  constructor(spec: DataVariableSpec, data: GlobalData, btf: Btf | undefined) {
    this.name = spec.name;
    this.section = data.section;
    this.offset = spec.offset;
    this.size = spec.size;
    this.#data = data;
    const c = btf && spec.typeId ? codecFor(btf, spec.typeId) : undefined;
    this.#codec = c && c.size === spec.size ? c : bytesCodec(spec.size);
  }

  get readonly(): boolean {
    return this.#data.readonly;
  }

  get(): BtfValue {
    return this.#codec.decode(this.#data.read(), this.offset);
  }

  getRaw(): Uint8Array {
    return new Uint8Array(this.#data.read().subarray(this.offset, this.offset + this.size));
  }

  set(value: BtfValue): void {
    const buf = new Uint8Array(this.size);
    this.#codec.encode(value, buf, 0);
    this.#data.write(this.offset, buf);
  }

  /** Writes the variable's bytes (`size` of them) as they are. */
  setRaw(bytes: Uint8Array): void {
    if (bytes.byteLength !== this.size)
      throw new UsageError(`variable '${this.name}': ${bytes.byteLength} bytes, expected ${this.size}`);
    this.#data.write(this.offset, bytes);
  }
}
