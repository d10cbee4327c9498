/**
 * The attach code's view of the bpf(2) ABI: the one attach-type table (src/object/uapi.ts). The link commands
 * themselves (BPF_LINK_CREATE, BPF_RAW_TRACEPOINT_OPEN, BPF_ITER_CREATE) are src/sys/bpf-link.ts, on the
 * generated layouts.
 */
import { ATTACH_TYPE } from "../../object/uapi.ts";

export const ATTACH = ATTACH_TYPE;

export { iterCreate, linkCreate, rawTracepointOpen } from "../../sys/bpf-link.ts";
export { BPF_F_KPROBE_MULTI } from "../../sys/constants.ts";
