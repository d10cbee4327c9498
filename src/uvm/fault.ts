import { KfuncKitError } from "../errors.ts";

/** What stopped a program. */
export type FaultKind =
  | "wild-access" // a load/store outside every region the program may touch
  | "read-only" // a store into a read-only region (.rodata)
  | "budget" // the instruction budget ran out (an infinite or too long loop)
  | "stack-overflow" // bpf-to-bpf calls nested deeper than the frame limit
  | "unknown-helper" // a helper id with no implementation
  | "kfunc" // a kfunc call that has no binding (only a poisoned __weak one can reach run time)
  | "tail-call" // more than 33 tail calls in a row
  | "helper" // a helper refused its arguments
  | "core" // an instruction whose CO-RE relocation failed (poisoned) was reached
  | "bad-program"; // the bytecode itself is malformed (found at load)

/**
 * A program stopped by the runtime. `pc` is the instruction index (in the program's own numbering),
 * `line` the C source line from line_info when the object has it ("file.c:12: return x;").
 */
export class UvmFault extends KfuncKitError {
  override readonly name = "UvmFault";
  constructor(
    readonly kind: FaultKind,
    readonly program: string,
    readonly pc: number,
    what: string,
    readonly line?: string,
  ) {
    super("UVM", `program '${program}': insn ${pc}: ${kind}: ${what}${line ? `\n  at ${line}` : ""}`);
  }
}

/** Thrown by a helper that ends the program at once with r0 (uBPF's "unwind" test helper). */
export class Unwind {
  constructor(
    readonly lo: number,
    readonly hi: number,
  ) {}
}

/** A helper refused its arguments; the engine turns it into a UvmFault at the calling instruction. */
export class HelperFault extends Error {
  override readonly name = "HelperFault";
}

/** bpf_tail_call succeeded: the runtime replaces the running program with `program`. */
export class TailCall {
  constructor(
    readonly program: string,
    readonly ctxLo: number,
    readonly ctxHi: number,
  ) {}
}
