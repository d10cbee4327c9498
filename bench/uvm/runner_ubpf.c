/* Benchmark runner for uBPF (interpreter or x86-64 JIT).
 * usage: runner_ubpf <prog.bin> <interp|jit|count> <ctx-file|-> <iters_per_invocation> <invocations_per_sample> <samples>
 * count: runs one invocation in the interpreter and prints the number of eBPF instructions executed.
 * Built by bench/uvm.ts when UBPF_SRC names a uBPF checkout (its vm/*.c compiled with gcc -O2). */
#include "timing.h"
#include <ubpf.h>

uint64_t bench_mix(uint64_t a, uint64_t b); /* native_helper.c */

/* "count" mode: interpreter with a per-instruction debug hook -> dynamic eBPF instruction count. */
static void count_insn(void *ctx, int pc, const uint64_t regs[16], const uint8_t *stack, size_t stack_len,
                       uint64_t reg_mask, const uint8_t *stack_mask)
{
    (void)pc; (void)regs; (void)stack; (void)stack_len; (void)reg_mask; (void)stack_mask;
    ++*(uint64_t *)ctx;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s prog.bin interp|jit ctx|- iters invocations samples\n", argv[0]);
        return 2;
    }
    size_t code_len, mem_len = 0;
    void *code = read_file(argv[1], &code_len);
    int jit = strcmp(argv[2], "jit") == 0;
    uint8_t *mem = NULL;
    if (strcmp(argv[3], "-") != 0) mem = read_file(argv[3], &mem_len);
    double iters = atof(argv[4]);
    long invocations = atol(argv[5]);
    int samples = atoi(argv[6]);
    if (samples < 1 || samples > 64) samples = 5;

    struct ubpf_vm *vm = ubpf_create();
    if (!vm) return 1;
    ubpf_register(vm, 1, "bench_mix", as_external_function_t((void *)bench_mix));
    char *err = NULL;
    if (ubpf_load(vm, code, (uint32_t)code_len, &err) < 0) {
        fprintf(stderr, "ubpf_load: %s\n", err);
        return 1;
    }
    uint64_t ret = 0;
    if (strcmp(argv[2], "count") == 0) {
        uint64_t n = 0;
        ubpf_register_debug_fn(vm, &n, count_insn);
        if (ubpf_exec(vm, mem, mem_len, &ret) < 0) { fprintf(stderr, "exec failed\n"); return 1; }
        printf("count result=0x%016llx insns=%llu insns_per_iter=%.3f\n", (unsigned long long)ret,
               (unsigned long long)n, (double)n / iters);
    } else if (jit) {
        ubpf_jit_fn fn = ubpf_compile(vm, &err);
        if (!fn) { fprintf(stderr, "ubpf_compile: %s\n", err); return 1; }
        RUN_SAMPLES("ubpf-jit", samples, invocations, iters, ret = fn(mem, mem_len), ret);
    } else {
        RUN_SAMPLES("ubpf-interp", samples, invocations, iters,
                    if (ubpf_exec(vm, mem, mem_len, &ret) < 0) { fprintf(stderr, "exec failed\n"); return 1; }, ret);
    }
    ubpf_destroy(vm);
    return 0;
}
