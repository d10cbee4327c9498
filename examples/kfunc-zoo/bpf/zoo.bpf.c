// SPDX-License-Identifier: GPL-2.0
/*
 * kfunc-zoo programs. Build: kfunc build examples/kfunc-zoo/bpf/zoo.bpf.c --kernel <k> --module examples/kfunc-zoo
 * vmlinux.h is printed from the target kernel's BTF; kfunc_zoo.kfuncs.h from the module's BTF.
 * The syscall programs are run with BPF_PROG_TEST_RUN: their return values are the oracles.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "kfunc_kit.h"
#include "kfunc_zoo.kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

/* A kfunc no kernel has: __weak, so the program still loads and bpf_ksym_exists() says 0. */
extern int zoo_not_in_any_kernel(void) __weak __ksym;
/* Redeclared __weak so bpf_ksym_exists() may test it (it must not be a link-time constant). */
extern int zoo_live_objects(void) __weak __ksym;

/* pointer + __sz: the verifier checks that data__sz bytes of buf are readable. 1 + … + 8 = 36 */
SEC("syscall")
int sum_bytes(void *ctx)
{
	u8 buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	return zoo_sum_bytes(buf, sizeof(buf));
}

/* KF_ACQUIRE | KF_RET_NULL, then KF_RELEASE on every path: returns 7 * 10 = 70 */
SEC("syscall")
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

/* zoo_obj_acquire(0) returns NULL: the checked path returns 1 */
SEC("syscall")
int acquire_null(void *ctx)
{
	struct zoo_obj *obj = zoo_obj_acquire(0);

	if (!obj)
		return 1;
	zoo_obj_release(obj);
	return 2;
}

/* After the programs above: every object was released (0 alive) */
SEC("syscall")
int live_objects(void *ctx)
{
	return zoo_live_objects();
}

/* KF_SLEEPABLE from a (sleepable) syscall program: 42 when zoo_sleep_us() returned 0 */
SEC("syscall")
int sleepable(void *ctx)
{
	return zoo_sleep_us(100) == 0 ? 42 : -1;
}

/* __weak probing: 0 for the missing kfunc, 1 for the module's = 1 */
SEC("syscall")
int weak_probe(void *ctx)
{
	return (bpf_ksym_exists(zoo_not_in_any_kernel) ? 100 : 0) + (bpf_ksym_exists(zoo_live_objects) ? 1 : 0);
}

/* The reference scenario's call from a kprobe (KPROBE registration, Linux >= 6.10) and from fentry (TRACING) */
u64 kprobe_result;
u32 kprobe_hits;
u64 fentry_result;
u32 fentry_hits;

SEC("kprobe/do_unlinkat")
int zoo_kprobe(void *ctx)
{
	kprobe_result = zoo_add4(1, 2, 3, 4);
	__sync_fetch_and_add(&kprobe_hits, 1);
	return 0;
}

SEC("fentry/do_unlinkat")
int zoo_fentry(void *ctx)
{
	fentry_result = zoo_add4(1, 2, 3, 4);
	__sync_fetch_and_add(&fentry_hits, 1);
	return 0;
}
