// SPDX-License-Identifier: GPL-2.0
/*
 * The seed module's tests (`kfunc test examples/seed`): hello.ko registers bpf_kfunc_call_test for KPROBE
 * programs only (Linux >= 6.10), so a kprobe may call it and other program types are refused.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "kfunc_test.h"
#include "hello.kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

SEC("kprobe/do_unlinkat")
__description("the reference program's call loads")
__success __kernel_min("6.10")
int kprobe_calls_it(void *ctx)
{
	return bpf_kfunc_call_test(1, 2, 3, 4) == 10 ? 0 : 1;
}

SEC("?syscall")
__description("not registered for syscall programs")
__failure __msg("calling kernel function bpf_kfunc_call_test is not allowed")
int syscall_may_not_call(void *ctx)
{
	return bpf_kfunc_call_test(1, 2, 3, 4);
}

SEC("?kprobe/do_unlinkat")
__description("a u32 argument must be a scalar, not a pointer")
__failure __msg("R1 {{(is not a scalar|type=fp expected=scalar)}}")
int pointer_for_a_scalar(void *ctx)
{
	u32 x = 1;

	return bpf_kfunc_call_test((u32)(unsigned long)&x, 2, 3, 4);
}
