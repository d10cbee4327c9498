/**
 * `Link`: an attached program. It owns the fds that keep the attachment alive (a bpf link fd, a perf event
 * fd, or both) and any cleanup (a tracefs kprobe event to delete). `close()` detaches: it closes the fds in
 * reverse order of creation and runs the cleanups; it is idempotent and never throws. Open links are in the
 * process registry (registry.ts), which closes them at exit and, with installExitHandlers(), on signals.
 */
import { log } from "../log.ts";
import type { Fd } from "../sys/fd.ts";
import { track, untrack } from "./registry.ts";

export type LinkKind =
  | "tracepoint"
  | "raw_tp"
  | "tp_btf"
  | "fentry"
  | "fexit"
  | "fmod_ret"
  | "lsm"
  | "kprobe"
  | "kretprobe"
  | "kprobe.multi"
  | "kretprobe.multi"
  | "uprobe"
  | "uretprobe"
  | "usdt"
  | "iter"
  | "perf_event";

/** How the kernel holds the attachment: a bpf link, or a perf event with the program set by ioctl. */
export type LinkMechanism = "bpf_link" | "perf_event_ioctl" | "raw_tracepoint_open";

export interface LinkInfo {
  kind: LinkKind;
  /** The program's name. */
  program: string;
  /** What it is attached to ("syscalls/sys_enter_getpid", "do_unlinkat+0", "/usr/lib/…/libc.so.6:getpid"). */
  target: string;
  mechanism: LinkMechanism;
  /** kprobe/uprobe: "pmu" (perf_event_open on the dynamic PMU) or "tracefs" (kprobe_events fallback). */
  probeVia?: "pmu" | "tracefs";
  /** usdt: how many call sites (one uprobe each) the link holds. */
  sites?: number;
}

export class Link implements Disposable {
  readonly info: LinkInfo;
  readonly #fds: Fd[];
  readonly #cleanups: Array<() => void>;
  #closed = false;

  constructor(info: LinkInfo, fds: Fd[], cleanups: Array<() => void> = []) {
    this.info = info;
    this.#fds = fds;
    this.#cleanups = cleanups;
    track(this);
  }

  get kind(): LinkKind {
    return this.info.kind;
  }

  get target(): string {
    return this.info.target;
  }

  /** The fd that represents the attachment (the bpf link fd if there is one, else the perf event fd). */
  get fd(): number {
    const last = this.#fds[this.#fds.length - 1];
    if (!last || this.#closed) throw new Error(`link ${describe(this.info)}: used after close`);
    return last.value;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Detaches. Safe to call twice; errors from cleanups are logged, not thrown. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    untrack(this);
    for (let i = this.#fds.length - 1; i >= 0; i--) this.#fds[i]!.close();
    for (const c of this.#cleanups) {
      try {
        c();
      } catch (e) {
        log.warn(
          `link ${describe(this.info)}: cleanup failed: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return describe(this.info);
  }
}

function describe(i: LinkInfo): string {
  return `${i.kind} '${i.program}' → ${i.target}`;
}

/** Closes several links; never throws (what `kfunc run` does on exit). */
export function closeAll(links: Iterable<Link>): void {
  for (const l of [...links].reverse()) l.close();
}
