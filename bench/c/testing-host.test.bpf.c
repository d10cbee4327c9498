// SPDX-License-Identifier: GPL-2.0
/*
 * bench/testing-host.ts's suite: `kfunc test`-style tests that run on the host kernel, shaped like the
 * kfunc-zoo suite (syscall programs calling kfuncs, acquire/release, global data, refusals), with vmlinux
 * kfuncs in place of the zoo module's.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "kfunc_test.h"

char LICENSE[] SEC("license") = "GPL";

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

u64 calls;
const volatile int bias = 0;

SEC("syscall")
__success __retval(36)
int plain(void *ctx)
{
	u8 buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	int s = 0;

	for (int i = 0; i < 8; i++)
		s += buf[i];
	return s + bias;
}

SEC("syscall")
__success __retval(1)
int acquire_release(void *ctx)
{
	struct task_struct *t = bpf_task_from_pid(bpf_get_current_pid_tgid() >> 32);

	if (!t)
		return -1;
	bpf_task_release(t);
	return 1;
}

SEC("syscall")
__success __retval(0)
int acquire_missing(void *ctx)
{
	struct task_struct *t = bpf_task_from_pid(-1);

	if (!t)
		return 0;
	bpf_task_release(t);
	return 2;
}

SEC("syscall")
__success __retval(1)
int global_data(void *ctx)
{
	__sync_fetch_and_add(&calls, 1);
	return calls > 0;
}

SEC("syscall")
__success __retval(7)
int rcu_section(void *ctx)
{
	bpf_rcu_read_lock();
	bpf_rcu_read_unlock();
	return 7;
}

SEC("?syscall")
__failure __msg("Unreleased reference id={{[0-9]+}}")
int leak(void *ctx)
{
	struct task_struct *t = bpf_task_from_pid(1);

	return t ? 1 : 0;
}

SEC("?syscall")
__failure __msg("invalid mem access '{{[a-z_]*or_null[a-z_]*}}'")
int no_null_check(void *ctx)
{
	struct task_struct *t = bpf_task_from_pid(1);
	int pid = t->pid;

	bpf_task_release(t);
	return pid;
}

SEC("xdp")
__success __retval(2) /* XDP_PASS: 64 bytes of packet data, test_loader's default input */
int xdp_default_input(struct xdp_md *ctx)
{
	return ctx->data_end - ctx->data == 64 ? XDP_PASS : XDP_DROP;
}
