/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * kfunc_test.h: annotations for `kfunc test`. Every program carrying one is a test.
 *
 * The first group are the kernel selftests' annotations (tools/testing/selftests/bpf/progs/bpf_misc.h,
 * Linux 6.12) with the SAME BTF decl-tag strings, so a program written for test_loader.c runs unchanged:
 *
 *   __success / __failure             the program must load / must be refused by the verifier
 *   __msg("text")                     each must appear in the verifier log, in order; "{{regex}}" parts
 *                                     are POSIX extended regular expressions, the rest is literal
 *   __retval(N)                       BPF_PROG_TEST_RUN must return N (decimal, 0x…, INT_MIN,
 *                                     POINTER_VALUE = any value, TEST_DATA_LEN); default input: 64 zero
 *                                     bytes of packet data, none for SEC("syscall") programs
 *   __description("…"), __log_level(N), __flag(BPF_F_…), __auxiliary (loaded with every test),
 *   the _unpriv variants, __arch_x86_64/__arch_arm64/__arch_riscv64, __caps_unpriv, __btf_path,
 *   __xlated, __jited, __load_if_JITed/__load_if_no_JITed (those kfunc-kit does not run yet are
 *   reported as a skip naming the annotation, never a silent pass)
 *
 * The second group is kfunc-kit's own, under the tag prefix "kfunc:":
 *
 *   __kernel_min("6.10")              skipped (with the reason) on older kernels
 *   __refused_below("6.10", "msg")    on older kernels the program must be refused, with "msg" in the log
 *   __ctx_in("01 00 00 00 …")         test-run context bytes (hex); __data_in("…") packet data
 *   __ctx_in_var(name)                the context is the global `name` (see KFUNC_TEST_INPUT)
 *   __repeat(N)                       test-run N times; every run must give __retval
 *   __printk("text")                  a bpf_printk line containing "text" ({{regex}} allowed) must appear
 *                                     in trace_pipe during the test run
 *
 *   KFUNC_TEST_INPUT(struct args, name) = { .a = 1, .b = 2 };   a C struct initializer as test input
 */
#ifndef __KFUNC_TEST_H
#define __KFUNC_TEST_H

#define __KFUNC_XSTR(s) __KFUNC_STR(s)
#define __KFUNC_STR(s) #s
#define __KFUNC_TAG(s) __attribute__((btf_decl_tag(s)))

/* The kernel selftests' annotations (bpf_misc.h); `__COUNTER__` keeps two equal __msg tags distinct,
 * as clang merges identical attributes. */
#define __msg(msg)		__KFUNC_TAG("comment:test_expect_msg=" __KFUNC_XSTR(__COUNTER__) "=" msg)
#define __xlated(msg)		__KFUNC_TAG("comment:test_expect_xlated=" __KFUNC_XSTR(__COUNTER__) "=" msg)
#define __jited(msg)		__KFUNC_TAG("comment:test_jited=" __KFUNC_XSTR(__COUNTER__) "=" msg)
#define __failure		__KFUNC_TAG("comment:test_expect_failure")
#define __success		__KFUNC_TAG("comment:test_expect_success")
#define __description(desc)	__KFUNC_TAG("comment:test_description=" desc)
#define __msg_unpriv(msg)	__KFUNC_TAG("comment:test_expect_msg_unpriv=" __KFUNC_XSTR(__COUNTER__) "=" msg)
#define __xlated_unpriv(msg)	__KFUNC_TAG("comment:test_expect_xlated_unpriv=" __KFUNC_XSTR(__COUNTER__) "=" msg)
#define __jited_unpriv(msg)	__KFUNC_TAG("comment:test_jited_unpriv=" __KFUNC_XSTR(__COUNTER__) "=" msg)
#define __failure_unpriv	__KFUNC_TAG("comment:test_expect_failure_unpriv")
#define __success_unpriv	__KFUNC_TAG("comment:test_expect_success_unpriv")
#define __log_level(lvl)	__KFUNC_TAG("comment:test_log_level=" #lvl)
#define __flag(flag)		__KFUNC_TAG("comment:test_prog_flags=" #flag)
#define __retval(val)		__KFUNC_TAG("comment:test_retval=" #val)
#define __retval_unpriv(val)	__KFUNC_TAG("comment:test_retval_unpriv=" #val)
#define __auxiliary		__KFUNC_TAG("comment:test_auxiliary")
#define __auxiliary_unpriv	__KFUNC_TAG("comment:test_auxiliary_unpriv")
#define __btf_path(path)	__KFUNC_TAG("comment:test_btf_path=" path)
#define __arch(arch)		__KFUNC_TAG("comment:test_arch=" arch)
#define __arch_x86_64		__arch("X86_64")
#define __arch_arm64		__arch("ARM64")
#define __arch_riscv64		__arch("RISCV64")
#define __caps_unpriv(caps)	__KFUNC_TAG("comment:test_caps_unpriv=" __KFUNC_XSTR(caps))
#define __load_if_JITed()	__KFUNC_TAG("comment:load_mode=jited")
#define __load_if_no_JITed()	__KFUNC_TAG("comment:load_mode=no_jited")

#ifndef CAP_NET_ADMIN
#define CAP_NET_ADMIN		12
#define CAP_SYS_ADMIN		21
#define CAP_PERFMON		38
#define CAP_BPF			39
#endif

/* Magic constants used with __retval() (as bpf_misc.h) */
#ifndef POINTER_VALUE
#define POINTER_VALUE		0xcafe4all
#endif
#ifndef TEST_DATA_LEN
#define TEST_DATA_LEN		64
#endif

#ifndef __naked
#define __naked __attribute__((naked))
#endif
#define __clobber_all "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "memory"
#define __clobber_common "r0", "r1", "r2", "r3", "r4", "r5", "memory"
#define __imm(name) [name]"i"(name)
#define __imm_const(name, expr) [name]"i"(expr)
#define __imm_addr(name) [name]"i"(&name)
#define __imm_ptr(name) [name]"p"(&name)
#define __imm_insn(name, expr) [name]"i"(*(long *)&(expr))
#ifndef __sink
#define __sink(expr) asm volatile("" : "+g"(expr))
#endif

/* kfunc-kit's own annotations */
#define __kernel_min(ver)	__KFUNC_TAG("kfunc:kernel_min=" ver)
#define __refused_below(ver, msg) __KFUNC_TAG("kfunc:refused_below=" ver "=" msg)
#define __ctx_in(hex)		__KFUNC_TAG("kfunc:ctx_in=" hex)
#define __data_in(hex)		__KFUNC_TAG("kfunc:data_in=" hex)
#define __ctx_in_var(name)	__KFUNC_TAG("kfunc:ctx_in_var=" #name)
#define __data_in_var(name)	__KFUNC_TAG("kfunc:data_in_var=" #name)
#define __repeat(n)		__KFUNC_TAG("kfunc:repeat=" #n)
#define __printk(msg)		__KFUNC_TAG("kfunc:printk=" __KFUNC_XSTR(__COUNTER__) "=" msg)

/* A test input written as a C initializer: `KFUNC_TEST_INPUT(struct args, args_1) = { .a = 1 };` then
 * `__ctx_in_var(args_1)` on the program. Kept in its own read-only section; the program never reads it. */
#define KFUNC_TEST_INPUT(type, name) \
	__attribute__((used, section(".rodata.kfunc_test_input"))) const type name

#endif
