// SPDX-License-Identifier: GPL-2.0
/*
 * The reference scenario, host variant: this kernel has no kprobes and no loadable modules, so the
 * program hooks the raw syscall tracepoint with typed arguments (tp_btf/sys_enter), keeps unlinkat
 * (what `rm` calls), and calls vmlinux kfuncs instead of a module's: bpf_task_from_pid() acquires the
 * calling task, the result is that task's tgid read through the trusted pointer, bpf_task_release()
 * drops the reference. Same printk line as the QEMU scenario; the same facts also go to the ring buffer
 * `events` as a `struct event` (what app.ts prints through the generated skeleton), and `unlinks` (.bss)
 * counts them. `target_pid` (.rodata, set before load) keeps only that process and its children; 0 = all.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <kfunc_kit.h>

typedef int s32;
typedef int pid_t;
typedef long long s64;

#define NR_UNLINKAT 263 /* x86-64 */

struct task_struct {
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

char LICENSE[] SEC("license") = "GPL";

struct event {
	pid_t pid;
	pid_t ppid;
	s64 result;
	char comm[16];
};
KFUNC_KIT_RECORD(events, struct event);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

const volatile pid_t target_pid = 0;
unsigned long long unlinks = 0;

/* tp_btf/sys_enter: (struct pt_regs *regs, long id) */
SEC("tp_btf/sys_enter")
int handle_unlinkat(unsigned long long *ctx)
{
	if (ctx[1] != NR_UNLINKAT)
		return 0;
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task_btf();
	pid_t pid = bpf_get_current_pid_tgid() >> 32;
	pid_t ppid = cur->real_parent->tgid;
	if (target_pid && pid != target_pid && ppid != target_pid)
		return 0;
	s64 result = -1;
	struct task_struct *task = bpf_task_from_pid(pid);
	if (task) {
		result = task->tgid;
		bpf_task_release(task);
	}
	bpf_printk("BPF triggered do_unlinkat, PID: %d. Result: %lld", pid, result);
	__sync_fetch_and_add(&unlinks, 1);
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->pid = pid;
		e->ppid = ppid;
		e->result = result;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}
