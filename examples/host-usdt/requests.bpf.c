// SPDX-License-Identifier: GPL-2.0
/*
 * Prints every myapp:request USDT probe hit with its arguments, read by libbpf's usdt.bpf.h
 * (BPF_USDT / bpf_usdt_arg); kfunc-kit attaches it: kfunc run requests.bpf.o --usdt <app>:myapp:request.
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

SEC("usdt")
int BPF_USDT(on_request, long id, long latency_us, int status)
{
	bpf_printk("request %ld took %ld us, status %d", id, latency_us, status);
	return 0;
}
