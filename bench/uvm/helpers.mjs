// Helper #1 of helpercall.bin, bench_mix(a, b) = (a ^ b) * 0x9E3779B97F4A7C15 + 1 (mod 2^64: the runtime
// truncates r0). Registers arrive as bigint (u64).
export default {
  1: (a, b) => (a ^ b) * 0x9e3779b97f4a7c15n + 1n,
};
