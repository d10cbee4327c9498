// A TypeScript kfunc with two 32-bit arguments called 10^6 times (bench/uvm.ts, kfuncs.mjs).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "kfunc_kit.h"

typedef unsigned int u32;

extern u32 bench_k32(u32 a, u32 b) __ksym;

char LICENSE[] SEC("license") = "GPL";

SEC("syscall")
int kcall(void *ctx)
{
	u32 acc = 0;
	for (u32 i = 0; i < 1000000; i++)
		acc = bench_k32(acc, i);
	return acc;
}
