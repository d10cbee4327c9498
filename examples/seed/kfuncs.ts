/**
 * The seed kfunc in TypeScript, for the userspace runtime (`kfunc uvm run … --kfuncs examples/seed/kfuncs.ts`).
 * The same semantics as hello.c's `u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)`: u32 arrives as
 * number, u64 as bigint; the u64 result is returned as bigint.
 */
export function bpf_kfunc_call_test(a: number, b: bigint, c: number, d: bigint): bigint {
  return BigInt.asUintN(64, BigInt(a) + b + BigInt(c) + d);
}
