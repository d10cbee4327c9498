// SPDX-License-Identifier: GPL-2.0
/* The verifier must reject this: zoo_obj_acquire() is KF_RET_NULL and its result is used unchecked. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "kfunc_zoo.kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

SEC("syscall")
int no_null_check(void *ctx)
{
	struct zoo_obj *obj = zoo_obj_acquire(3);
	u64 v = obj->value; /* obj may be NULL */

	zoo_obj_release(obj);
	return v;
}
