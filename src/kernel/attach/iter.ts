/**
 * iter/<kind> (task, bpf_map_elem, …): BPF_LINK_CREATE with BPF_TRACE_ITER gives a link; each
 * BPF_ITER_CREATE on it gives a fresh fd whose read() runs the program over the objects and returns what
 * it printed with bpf_seq_printf / BPF_SEQ_PRINTF.
 */
import { readSync } from "node:fs";
import { SyscallError } from "../../errors.ts";
import { Link } from "../links.ts";
import { ATTACH, iterCreate, linkCreate } from "./attrs.ts";
import { type AttachableProgram, programFd } from "./program.ts";

export interface IterOptions {
  /** For iter/bpf_map_elem and similar: the map to iterate. */
  mapFd?: number;
  /** For iter/task, task_file, task_vma: only this task (tid) … */
  tid?: number;
  /** … or only the threads of this process. */
  pid?: number;
}

export class IterLink extends Link {
  /** Runs the iterator once and returns everything it wrote. */
  read(): Uint8Array {
    const fd = iterCreate(this.fd, `iter ${this.info.program}`);
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const buf = Buffer.allocUnsafe(64 * 1024);
        const n = readSync(fd.value, buf, 0, buf.length, null);
        if (n === 0) break;
        chunks.push(buf.subarray(0, n));
        total += n;
      }
      return new Uint8Array(Buffer.concat(chunks, total));
    } catch (e) {
      throw SyscallError.wrap(`iter '${this.info.program}' → ${this.info.target}: read failed`, e);
    } finally {
      fd.close();
    }
  }

  /** {@link read} decoded as UTF-8. */
  readText(): string {
    return new TextDecoder().decode(this.read());
  }
}

export function attachIter(program: AttachableProgram, target: string, options: IterOptions = {}): IterLink {
  try {
    const fd = linkCreate(
      { progFd: programFd(program), attachType: ATTACH.TRACE_ITER, iter: options },
      `iter link ${program.name}`,
    );
    return new IterLink({ kind: "iter", program: program.name, target, mechanism: "bpf_link" }, [fd]);
  } catch (e) {
    throw SyscallError.wrap(`iter '${program.name}' → ${target}: attach failed`, e, {
      ...(target.startsWith("bpf_map") && options.mapFd === undefined
        ? { hint: "map iterators need the map: attach(program, { mapFd })" }
        : {}),
    });
  }
}
