/* kfunc-kit's eBPF-side helpers: what newer libbpf headers have and Debian's libbpf 1.1 lacks. */
#ifndef __KFUNC_KIT_H
#define __KFUNC_KIT_H

#ifndef __ksym
#define __ksym __attribute__((section(".ksyms")))
#endif
#ifndef __weak
#define __weak __attribute__((weak))
#endif

/* libbpf 1.2+: true when the (weak) kfunc or ksym exists in the running kernel. */
#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym) ({                                                              \
	_Static_assert(!__builtin_constant_p(!!sym), #sym " should be marked as __weak");    \
	!!sym;                                                                                \
})
#endif

#endif
