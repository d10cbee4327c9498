// SPDX-License-Identifier: GPL-2.0
/* The verifier must reject this: the reference from zoo_obj_acquire() is never released. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "kfunc_zoo.kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

SEC("syscall")
int leak(void *ctx)
{
	struct zoo_obj *obj = zoo_obj_acquire(3);

	if (!obj)
		return 0;
	return zoo_obj_value(obj); /* no zoo_obj_release(obj) */
}
