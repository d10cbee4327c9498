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

/*
 * The record type of a ring/perf buffer map, for `kfunc gen skeleton`: KFUNC_KIT_RECORD(events, struct event);
 * at file scope. It declares a global pointer (left out of the skeleton's .bss) whose type puts the struct
 * in the object's BTF even when only functions use it.
 */
#ifndef KFUNC_KIT_RECORD
#define KFUNC_KIT_RECORD(map, type) type *__kfunc_kit_record_##map __attribute__((unused))
#endif

#endif
