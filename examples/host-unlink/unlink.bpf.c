// SPDX-License-Identifier: GPL-2.0
/*
 * The reference scenario, host variant: this kernel has no kprobes and no loadable modules, so the
 * program hooks the raw syscall tracepoint with typed arguments (tp_btf/sys_enter), keeps unlinkat
 * (what `rm` calls), and calls vmlinux kfuncs instead of a module's: bpf_task_from_pid() acquires the
 * calling task, the result is that task's tgid read through the trusted pointer, bpf_task_release()
 * drops the reference. Same printk line as the QEMU scenario.
 */
#define BPF_NO_GLOBAL_DATA
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

typedef int s32;
typedef int pid_t;
typedef long long s64;

#define NR_UNLINKAT 263 /* x86-64 */

struct task_struct {
	pid_t pid;
	pid_t tgid;
} __attribute__((preserve_access_index));

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

char LICENSE[] SEC("license") = "GPL";

/* tp_btf/sys_enter: (struct pt_regs *regs, long id) */
SEC("tp_btf/sys_enter")
int handle_unlinkat(unsigned long long *ctx)
{
	if (ctx[1] != NR_UNLINKAT)
		return 0;
	pid_t pid = bpf_get_current_pid_tgid() >> 32;
	s64 result = -1;
	struct task_struct *task = bpf_task_from_pid(pid);
	if (task) {
		result = task->tgid;
		bpf_task_release(task);
	}
	bpf_printk("BPF triggered do_unlinkat, PID: %d. Result: %lld", pid, result);
	return 0;
}
