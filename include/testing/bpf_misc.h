/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* For programs written for the kernel selftests: `#include "bpf_misc.h"` gets kfunc-kit's copy of its
 * annotations (same decl-tag strings). A bpf_misc.h next to the test file takes precedence. */
#include "../kfunc_test.h"
