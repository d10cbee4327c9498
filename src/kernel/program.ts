/** A loaded eBPF program: owns its fd. */

import { type ProgInfo, progInfo } from "../sys/bpf-obj.ts";
import { attachTypeName, progTypeName } from "../sys/constants.ts";
import type { Fd } from "../sys/fd.ts";
import { KernelObject } from "./kernel-object.ts";

export interface ProgramProps {
  name: string;
  section: string;
  /** BPF_PROG_TYPE_* */
  type: number;
  /** BPF_* attach type (0 when the program type has none). */
  expectedAttachType: number;
  /** What the section names ("sys_enter", "syscalls/sys_enter_openat", "do_unlinkat"), if anything. */
  attachTarget: string | undefined;
  /** BTF id of the attach target (tp_btf/fentry/lsm/iter), 0 otherwise. */
  attachBtfId: number;
  /** Id of the module BTF object the target is in; 0 for vmlinux. */
  attachBtfObjId: number;
  sleepable: boolean;
  /** The verifier log, when loaded with `logLevel` (else ""). */
  verifierLog: string;
}

export class Program extends KernelObject implements ProgramProps {
  readonly name: string;
  readonly section: string;
  readonly type: number;
  readonly expectedAttachType: number;
  readonly attachTarget: string | undefined;
  readonly attachBtfId: number;
  readonly attachBtfObjId: number;
  readonly sleepable: boolean;
  readonly verifierLog: string;
  readonly #dependents = new Set<{ close(): void }>();

  /** Takes ownership of `fd`. */
  constructor(fd: Fd, props: ProgramProps) {
    super(fd);
    this.name = props.name;
    this.section = props.section;
    this.type = props.type;
    this.expectedAttachType = props.expectedAttachType;
    this.attachTarget = props.attachTarget;
    this.attachBtfId = props.attachBtfId;
    this.attachBtfObjId = props.attachBtfObjId;
    this.sleepable = props.sleepable;
    this.verifierLog = props.verifierLog;
  }

  /** "TRACING", "SYSCALL"… */
  get typeName(): string {
    return progTypeName(this.type);
  }

  get attachTypeName(): string {
    return attachTypeName(this.expectedAttachType);
  }

  /**
   * Registers something that must not outlive this program (a perf_event link: the kernel keeps the program
   * alive through it): `close()` closes it first. Returns the function that unregisters it.
   */
  addDependent(d: { close(): void }): () => void {
    this.#dependents.add(d);
    return () => this.#dependents.delete(d);
  }

  override close(): void {
    for (const d of [...this.#dependents].reverse()) d.close();
    this.#dependents.clear();
    super.close();
  }

  /** Kernel-side info: id, tag, run counts (BPF_OBJ_GET_INFO_BY_FD). */
  info(): ProgInfo {
    return progInfo(this.fd);
  }
}
