/**
 * What attach needs from a loaded program: its fd, name and ELF section (the section says how to attach,
 * as in libbpf's section_defs). The loader's `Program` satisfies this structurally.
 */
export interface AttachableProgram {
  readonly name: string;
  /** ELF section name: "tracepoint/syscalls/sys_enter_getpid", "tp_btf/sys_enter", "uprobe/libc.so.6:malloc"… */
  readonly section: string;
  /** The program fd: a raw number or an owned Fd. */
  readonly fd: number | { readonly value: number };
}

export function programFd(p: AttachableProgram): number {
  return typeof p.fd === "number" ? p.fd : p.fd.value;
}

/** The section's kind prefix and the rest ("kprobe/do_unlinkat" → ["kprobe", "do_unlinkat"]). */
export function splitSection(section: string): { prefix: string; rest: string } {
  const i = section.indexOf("/");
  return i < 0 ? { prefix: section, rest: "" } : { prefix: section.slice(0, i), rest: section.slice(i + 1) };
}
