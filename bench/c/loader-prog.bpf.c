// The benchmark object: a tracepoint variant of the reference program (unlinkat + a vmlinux kfunc and
// printk) plus maps and globals, loaded by both loaders.
#define BPF_NO_KFUNC_PROTOTYPES
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} per_pid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

const volatile u32 filter_tgid = 0;
u64 total = 0;
u64 last_result = 0;

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int handle_unlinkat(void *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (filter_tgid && pid != filter_tgid)
		return 0;
	u64 result = 0;
	struct task_struct *t = bpf_task_from_pid(pid);
	if (t) {
		result = t->pid + 1 + 2 + 3 + 4;
		bpf_task_release(t);
	}
	bpf_printk("BPF triggered do_unlinkat, PID: %d. Result: %lld\n", pid, result);
	u64 one = 1, *v = bpf_map_lookup_elem(&per_pid, &pid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&per_pid, &pid, &one, BPF_ANY);
	u32 k = 0;
	u64 *c = bpf_map_lookup_elem(&counters, &k);
	if (c)
		__sync_fetch_and_add(c, 1);
	u64 *e = bpf_ringbuf_reserve(&events, sizeof(u64), 0);
	if (e) {
		*e = result;
		bpf_ringbuf_submit(e, 0);
	}
	total++;
	last_result = result;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
