// SPDX-License-Identifier: GPL-2.0
/*
 * kfunc-zoo's tests for `kfunc test examples/kfunc-zoo`: what each kfunc returns (BPF_PROG_TEST_RUN of
 * syscall programs) and what the verifier must refuse. Annotations: include/kfunc_test.h (docs/testing.md).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "kfunc_kit.h"
#include "kfunc_test.h"
#include "kfunc_zoo.kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

extern int zoo_not_in_any_kernel(void) __weak __ksym;
extern int zoo_live_objects(void) __weak __ksym;

SEC("syscall")
__description("pointer + __sz: 1 + 2 + … + 8")
__success __retval(36)
int sum_bytes(void *ctx)
{
	u8 buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	return zoo_sum_bytes(buf, sizeof(buf));
}

SEC("syscall")
__description("KF_ACQUIRE | KF_RET_NULL, then KF_RELEASE")
__success __retval(70)
int acquire_release(void *ctx)
{
	struct zoo_obj *obj = zoo_obj_acquire(7);
	u64 v;

	if (!obj)
		return -1;
	v = zoo_obj_value(obj);
	zoo_obj_release(obj);
	return v;
}

SEC("syscall")
__description("acquire(0) is NULL")
__success __retval(1)
int acquire_null(void *ctx)
{
	struct zoo_obj *obj = zoo_obj_acquire(0);

	if (!obj)
		return 1;
	zoo_obj_release(obj);
	return 2;
}

SEC("syscall")
__description("KF_SLEEPABLE from a sleepable program")
__success __retval(42)
int sleepable(void *ctx)
{
	return zoo_sleep_us(100) == 0 ? 42 : -1;
}

SEC("syscall")
__description("bpf_ksym_exists: 0 for a missing kfunc, 1 for the module's")
__kernel_min("6.4") __success __retval(1)
int weak_probe(void *ctx)
{
	return (bpf_ksym_exists(zoo_not_in_any_kernel) ? 100 : 0) + (bpf_ksym_exists(zoo_live_objects) ? 1 : 0);
}

struct add4_args {
	u32 a;
	u64 b;
	u32 c;
	u64 d;
};
KFUNC_TEST_INPUT(struct add4_args, one_to_four) = { .a = 1, .b = 2, .c = 3, .d = 4 };

SEC("syscall")
__description("the context is a C struct initializer")
__ctx_in_var(one_to_four) __retval(10) __repeat(5)
int add4_ctx(struct add4_args *args)
{
	return zoo_add4(args->a, args->b, args->c, args->d);
}

/*
 * Not on 6.1: in the Debian 6.1 guest under TCG this line was missing from trace_pipe in about a third of
 * the runs on a loaded machine (not understood yet; 6.12 always has it), and the zoo's matrix runs in CI.
 */
SEC("syscall")
__description("bpf_printk shows the result")
__kernel_min("6.2") __printk("zoo: add4 = 10") __retval(0)
int add4_printk(void *ctx)
{
	bpf_printk("zoo: add4 = %llu", zoo_add4(1, 2, 3, 4));
	return 0;
}

SEC("syscall")
__description("every object was released")
__success __retval(0)
int live_objects(void *ctx)
{
	return zoo_live_objects();
}

SEC("?syscall")
__description("a leaked reference is refused")
__failure __msg("Unreleased reference id={{[0-9]+}}")
int leak(void *ctx)
{
	struct zoo_obj *obj = zoo_obj_acquire(3);

	if (!obj)
		return 0;
	return zoo_obj_value(obj);
}

SEC("?syscall")
__description("a KF_RET_NULL result used unchecked is refused")
__failure __msg("invalid mem access '{{[a-z_]*or_null[a-z_]*}}'")
int no_null_check(void *ctx)
{
	struct zoo_obj *obj = zoo_obj_acquire(3);
	u64 v = obj->value;

	zoo_obj_release(obj);
	return v;
}

SEC("?xdp")
__description("XDP is not a registered program type")
__failure __msg("calling kernel function zoo_add4 is not allowed")
int zoo_xdp(struct xdp_md *ctx)
{
	return zoo_add4(1, 2, 3, 4) == 10 ? XDP_PASS : XDP_DROP;
}

SEC("?kprobe/do_unlinkat")
__description("a kprobe may call it from Linux 6.10")
__success __refused_below("6.10", "calling kernel function zoo_add4 is not allowed")
int zoo_kprobe(void *ctx)
{
	return zoo_add4(1, 2, 3, 4) == 10 ? 0 : 1;
}
