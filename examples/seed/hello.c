// SPDX-License-Identifier: GPL-2.0
/* The reference kfunc module: one kfunc, bpf_kfunc_call_test(a, b, c, d) = a + b + c + d, registered for
 * kprobe programs (Linux >= 6.10; see docs/object.md and /work/shared/notes/kfunc-facts.md). */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>

__bpf_kfunc u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d);

__bpf_kfunc_start_defs();

__bpf_kfunc u64 bpf_kfunc_call_test(u32 a, u64 b, u32 c, u64 d)
{
	return a + b + c + d;
}

__bpf_kfunc_end_defs();

BTF_KFUNCS_START(bpf_kfunc_example_ids_set)
BTF_ID_FLAGS(func, bpf_kfunc_call_test)
BTF_KFUNCS_END(bpf_kfunc_example_ids_set)

static const struct btf_kfunc_id_set bpf_kfunc_example_set = {
	.owner = THIS_MODULE,
	.set = &bpf_kfunc_example_ids_set,
};

static int __init hello_init(void)
{
	int ret;

	printk(KERN_INFO "Hello, world!\n");
	ret = register_btf_kfunc_id_set(BPF_PROG_TYPE_KPROBE, &bpf_kfunc_example_set);
	if (ret) {
		pr_err("bpf_kfunc_example: failed to register\n");
		return ret;
	}
	printk(KERN_INFO "bpf_kfunc_example: module loaded\n");
	return 0;
}

static void __exit hello_exit(void)
{
	printk(KERN_INFO "Goodbye, world!\n");
}

module_init(hello_init);
module_exit(hello_exit);
MODULE_LICENSE("GPL");
