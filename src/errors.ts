/**
 * One error hierarchy for kfunc-kit. Every error carries a `code` from a closed list, and a message that
 * reads like a path: `file 'x.o': section '.BTF': type [12]: dangling type id 99`. Guard with
 * {@link isKfuncKitError} (checks `code`, so it works across duplicate package copies).
 */
export type ErrorCode =
  | "ELF" // malformed or unsupported ELF
  | "BTF" // malformed BTF / BTF.ext, or a type lookup that failed
  | "OBJECT" // a BPF object that parses but does not make sense (unknown section, bad map definition…)
  | "RELOCATION" // a relocation that cannot be applied
  | "SYSCALL" // a syscall failed with errno
  | "VERIFIER" // BPF_PROG_LOAD rejected the program
  | "NOT_SUPPORTED" // the running kernel cannot do this
  | "KFUNC" // kfunc resolution / registration problems
  | "MODULE" // kernel module build or check failed
  | "VM" // QEMU runner problem
  | "UVM" // the userspace eBPF runtime stopped a program (wild access, budget, stack overflow…)
  | "USAGE" // bad arguments or options (CLI exit code 2)
  | "ENVIRONMENT"; // a missing tool, package or permission on this machine

export interface KfuncKitErrorOptions {
  cause?: unknown;
  /** A short, actionable fix ("install pahole: apt-get install dwarves"). Printed after the message. */
  hint?: string;
}

export class KfuncKitError extends Error {
  override readonly name: string = "KfuncKitError";
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: KfuncKitErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }
}

const ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  "ELF",
  "BTF",
  "OBJECT",
  "RELOCATION",
  "SYSCALL",
  "VERIFIER",
  "NOT_SUPPORTED",
  "KFUNC",
  "MODULE",
  "VM",
  "UVM",
  "USAGE",
  "ENVIRONMENT",
]);

export function isKfuncKitError(e: unknown): e is KfuncKitError {
  return e instanceof Error && ERROR_CODES.has(String((e as { code?: unknown }).code)) && "hint" in e;
}

/** Malformed ELF input. `file` and `offset` locate the problem. */
export class ElfError extends KfuncKitError {
  override readonly name = "ElfError";
  constructor(
    readonly file: string,
    readonly offset: number | undefined,
    what: string,
    options: KfuncKitErrorOptions = {},
  ) {
    super("ELF", `${file}: ${offset === undefined ? "" : `offset ${offset}: `}${what}`, options);
  }
}

/** Malformed BTF, or a type id that does not resolve. */
export class BtfError extends KfuncKitError {
  override readonly name = "BtfError";
  constructor(
    readonly file: string,
    readonly typeId: number | undefined,
    what: string,
    options: KfuncKitErrorOptions = {},
  ) {
    super("BTF", `${file}: ${typeId === undefined ? "" : `type [${typeId}]: `}${what}`, options);
  }
}

export class ObjectError extends KfuncKitError {
  override readonly name = "ObjectError";
  constructor(message: string, options: KfuncKitErrorOptions = {}) {
    super("OBJECT", message, options);
  }
}

export class RelocationError extends KfuncKitError {
  override readonly name = "RelocationError";
  constructor(
    readonly section: string,
    readonly insnIndex: number,
    readonly symbol: string | undefined,
    what: string,
    options: KfuncKitErrorOptions = {},
  ) {
    super(
      "RELOCATION",
      `section '${section}': insn ${insnIndex}${symbol ? ` (${symbol})` : ""}: ${what}`,
      options,
    );
  }
}

/** A syscall failed. `errnoName` is symbolic (EPERM), which is what users search for. */
export class SyscallError extends KfuncKitError {
  override readonly name = "SyscallError";
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly errnoName: string,
    options: KfuncKitErrorOptions = {},
  ) {
    super("SYSCALL", `${call}: ${errnoName}${errnoDescription(errno)}`, options);
  }
}

export class VerifierError extends KfuncKitError {
  override readonly name = "VerifierError";
  constructor(
    readonly program: string,
    readonly log: string[],
    message: string,
    options: KfuncKitErrorOptions = {},
  ) {
    super("VERIFIER", message, options);
  }
}

export class NotSupportedError extends KfuncKitError {
  override readonly name = "NotSupportedError";
  constructor(
    readonly feature: string,
    readonly minKernel: string | undefined,
    message?: string,
    options: KfuncKitErrorOptions = {},
  ) {
    super(
      "NOT_SUPPORTED",
      message ?? `${feature} not supported${minKernel ? ` (requires Linux >= ${minKernel})` : ""}`,
      options,
    );
  }
}

export class UsageError extends KfuncKitError {
  override readonly name = "UsageError";
  constructor(message: string, options: KfuncKitErrorOptions = {}) {
    super("USAGE", message, options);
  }
}

const ERRNO_TEXT: Record<number, string> = {
  1: "operation not permitted",
  2: "no such file or directory",
  3: "no such process",
  4: "interrupted system call",
  7: "argument list too long",
  9: "bad file descriptor",
  11: "resource temporarily unavailable",
  12: "out of memory",
  13: "permission denied",
  14: "bad address",
  16: "device or resource busy",
  17: "file exists",
  19: "no such device",
  22: "invalid argument",
  24: "too many open files",
  28: "no space left (log buffer too small?)",
  95: "operation not supported",
  524: "operation not supported by the kernel (ENOTSUPP)",
};

function errnoDescription(errno: number): string {
  const t = ERRNO_TEXT[errno];
  return t ? ` (${t})` : "";
}

/** Formats any error for a terminal: message, cause chain and hint; never a stack trace for our errors. */
export function formatError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const lines = [e.message];
  let cause: unknown = e.cause;
  for (let depth = 0; cause instanceof Error && depth < 5; depth++) {
    if (!e.message.includes(cause.message)) lines.push(`  caused by: ${cause.message}`);
    cause = cause.cause;
  }
  if (isKfuncKitError(e) && e.hint) lines.push(`  hint: ${e.hint}`);
  return lines.join("\n");
}

/** What went wrong with a user's file (see src/files.ts). */
export type FileProblem =
  | "missing"
  | "missing-dir"
  | "directory"
  | "special"
  | "too-large"
  | "permission"
  | "io";

/**
 * A user's file cannot be read or written: `path` names it, the hint names the fix. A missing file is a
 * usage error (exit code 2); the rest are failures of the environment (exit code 1).
 */
export class FileError extends KfuncKitError {
  override readonly name = "FileError";
  constructor(
    readonly problem: FileProblem,
    readonly path: string,
    message: string,
    options: KfuncKitErrorOptions = {},
  ) {
    super(problem === "missing" ? "USAGE" : "ENVIRONMENT", message, options);
  }
}
