/**
 * bpf(2) UAPI constants (include/uapi/linux/bpf.h as of Linux 6.18). `enum bpf_cmd` and `enum bpf_link_type`
 * come from src/sys/uapi.generated.ts (`npm run gen:abi`); the type enums live in the pure src/object/uapi.ts
 * and test/sys/uapi-generated.test.ts holds them equal to the generated ones.
 * Names drop the enum prefix: `BPF_PROG_TYPE.TRACING === 26`.
 */

import { ATTACH_TYPE, MAP_TYPE, PROG_TYPE } from "../object/uapi.ts";

/** enum bpf_prog_type, enum bpf_map_type, enum bpf_attach_type: one table, shared with the pure object layer. */
export const BPF_PROG_TYPE = PROG_TYPE;
export const BPF_MAP_TYPE = MAP_TYPE;
export const BPF_ATTACH_TYPE = ATTACH_TYPE;

/** enum bpf_link_type, generated from BTF (src/sys/uapi.generated.ts). */
export { BPF_LINK_TYPE } from "./uapi.generated.ts";

export type ProgTypeName = keyof typeof BPF_PROG_TYPE;
export type MapTypeName = keyof typeof BPF_MAP_TYPE;
export type AttachTypeName = keyof typeof BPF_ATTACH_TYPE;

/** map_flags, map update flags (BPF_ANY, …), multi-probe flags and the ring buffer header bits, generated from BTF (src/sys/uapi.generated.ts). */
export { BPF_F, BPF_F_KPROBE_MULTI, BPF_F_UPROBE_MULTI, BPF_RINGBUF, BPF_UPDATE } from "./uapi.generated.ts";

/** Program load flags (prog_flags): #defines in the uapi header, so not in BTF; kept by hand. */
export const BPF_PROG_F = {
  STRICT_ALIGNMENT: 1 << 0,
  ANY_ALIGNMENT: 1 << 1,
  TEST_RND_HI32: 1 << 2,
  TEST_STATE_FREQ: 1 << 3,
  SLEEPABLE: 1 << 4,
  XDP_HAS_FRAGS: 1 << 5,
  XDP_DEV_BOUND_ONLY: 1 << 6,
} as const;

/** BPF_PROG_TEST_RUN flags (#defines, not in BTF). */
export const BPF_F_TEST_RUN = { ON_CPU: 1 << 0, XDP_LIVE_FRAMES: 1 << 1 } as const;

/** Instruction encoding and ld_imm64/call src_reg values: pure tables, kept in src/object/uapi.ts. */
export { BPF_INSN, BPF_PSEUDO } from "../object/uapi.ts";

/** BPF_OBJ_NAME_LEN (a #define): the size of the name fields (the generated layouts say it too). */
export const BPF_OBJ_NAME_LEN = 16;

const reverse = <T extends Record<string, number>>(t: T): Map<number, keyof T & string> =>
  new Map(Object.entries(t).map(([k, v]) => [v, k as keyof T & string]));
const PROG_NAMES = reverse(BPF_PROG_TYPE);
const MAP_NAMES = reverse(BPF_MAP_TYPE);
const ATTACH_NAMES = reverse(BPF_ATTACH_TYPE);

/** "TRACING" for 26; `type 99` for unknown numbers. */
export function progTypeName(t: number): string {
  return PROG_NAMES.get(t) ?? `type ${t}`;
}
export function mapTypeName(t: number): string {
  return MAP_NAMES.get(t) ?? `type ${t}`;
}
export function attachTypeName(t: number): string {
  return ATTACH_NAMES.get(t) ?? `attach type ${t}`;
}
