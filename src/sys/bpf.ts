import { lastErrno, SYS_BPF, syscall3, throwErrno } from "./libc.ts";

/** bpf(2) command numbers (enum bpf_cmd), generated from BTF: src/sys/uapi.generated.ts. */
export { BPF_CMD } from "./uapi.generated.ts";

import { BPF_CMD } from "./uapi.generated.ts";

export type BpfCmdName = keyof typeof BPF_CMD;

// The first name of a value wins: BPF_PROG_TEST_RUN, not its alias BPF_PROG_RUN.
const NAME_OF = new Map<number, string>();
for (const [k, v] of Object.entries(BPF_CMD)) if (!NAME_OF.has(v)) NAME_OF.set(v, `BPF_${k}`);

/**
 * The one bpf(2) entry point. `attr` is a pre-encoded `union bpf_attr` prefix sized to the last field used
 * (older kernels answer E2BIG to non-zero bytes they do not know). Returns the syscall's non-negative result;
 * throws SyscallError with the symbolic errno otherwise.
 */
export function bpf(cmd: number, attr: Uint8Array): number {
  const r = syscall3(SYS_BPF, cmd, attr, attr.byteLength);
  if (r < 0) throwErrno(NAME_OF.get(cmd) ?? `bpf cmd ${cmd}`, lastErrno());
  return r;
}

/** Like {@link bpf} but returns -errno instead of throwing (for hot paths and probes). */
export function bpfRaw(cmd: number, attr: Uint8Array): number {
  const r = syscall3(SYS_BPF, cmd, attr, attr.byteLength);
  return r < 0 ? -lastErrno() : r;
}
