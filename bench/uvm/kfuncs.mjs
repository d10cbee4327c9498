// The kfunc of kfunccall.bpf.c: 32-bit arguments arrive as numbers.
export function bench_k32(a, b) {
  return (Math.imul(a, 31) + b) >>> 0;
}
