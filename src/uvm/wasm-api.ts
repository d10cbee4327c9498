/** The slice of the WebAssembly JS API the runtime uses (the project's TS lib set has no DOM typings). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
export interface WasmGlobal {
  value: number;
}
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
interface WasmApi {
  Memory: new (d: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  Global: new (d: { value: "i32" | "i64"; mutable: boolean }, v: number) => WasmGlobal;
}
export const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
