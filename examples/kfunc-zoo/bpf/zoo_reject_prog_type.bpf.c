// SPDX-License-Identifier: GPL-2.0
/* The verifier must reject this: kfunc_zoo registers its kfuncs for TRACING, SYSCALL and (Linux >= 6.10) KPROBE, not XDP. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "kfunc_zoo.kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int zoo_xdp(struct xdp_md *ctx)
{
	return zoo_add4(1, 2, 3, 4) == 10 ? XDP_PASS : XDP_DROP;
}
