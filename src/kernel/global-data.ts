/**
 * A global data section in the kernel (.data/.bss/.rodata/.kconfig map) and its variables decoded from BTF.
 * Writable sections are mmapped when the map is BPF_F_MMAPABLE (zero-copy, no syscall per access);
 * otherwise reads/writes go through map lookup/update of element 0.
 */
import type { Btf } from "../btf/index.ts";
import { SyscallError, UsageError } from "../errors.ts";
import type { DataVariableSpec } from "../object/types.ts";
import type { Mapping } from "../sys/mmap.ts";
import { type BtfValue, bytesCodec, codecFor, type ValueCodec } from "./btf-codec.ts";
import type { BpfMap } from "./map.ts";

export class GlobalData {
  readonly section: string;
  readonly map: BpfMap;
  readonly readonly: boolean;
  #mapping: Mapping | undefined;
  #bytes: Uint8Array | undefined;

  constructor(section: string, map: BpfMap, readonly: boolean, mapping: Mapping | undefined) {
    this.section = section;
    this.map = map;
    this.readonly = readonly;
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
}
