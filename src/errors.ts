/**
 * One error hierarchy for kfunc-kit. Every error carries a `code` from a closed list, and a message that
 * reads like a path: `file 'x.o': section '.BTF': type [12]: dangling type id 99`. Guard with
 * {@link isKfuncKitError} (checks `code`, so it works across duplicate package copies).
 */
export const ERROR_CODES = [
  "ELF", // malformed or unsupported ELF
  "BTF", // malformed BTF / BTF.ext, or a type lookup that failed
  "OBJECT", // a BPF object that parses but does not make sense (unknown section, bad map definition…)
  "RELOCATION", // a relocation that cannot be applied
  "SYSCALL", // a syscall failed with errno
  "VERIFIER", // BPF_PROG_LOAD rejected the program
  "NOT_SUPPORTED", // the running kernel cannot do this
  "KFUNC", // kfunc resolution / registration problems
  "MODULE", // kernel module build or check failed
  "VM", // QEMU runner problem
  "KERNEL", // a kernel to boot or build against cannot be had (package, image, BTF)
  "UVM", // the userspace eBPF runtime stopped a program (wild access, budget, stack overflow…)
  "USAGE", // bad arguments or options (CLI exit code 2)
  "ENVIRONMENT", // a missing tool, package or permission on this machine
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

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

type MessageErrorClass = new (message: string, options?: KfuncKitErrorOptions) => KfuncKitError;

/** The base of the error classes whose constructor takes just a message (and options): the code is the class's. */
function messageError(code: ErrorCode): MessageErrorClass {
  return class extends KfuncKitError {
    constructor(message: string, options: KfuncKitErrorOptions = {}) {
      super(code, message, options);
    }
  };
}

const ERROR_CODE_SET: ReadonlySet<string> = new Set<string>(ERROR_CODES);

export function isKfuncKitError(e: unknown): e is KfuncKitError {
  return e instanceof Error && ERROR_CODE_SET.has(String((e as { code?: unknown }).code)) && "hint" in e;
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

export class ObjectError extends messageError("OBJECT") {
  override readonly name = "ObjectError";
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

export interface SyscallErrorOptions extends KfuncKitErrorOptions {
  /** Replaces the default message `<call>: <ERRNO> (<text>)` (used when a step wraps a failed call). */
  message?: string;
}

/**
 * A syscall failed. `errnoName` is symbolic (EPERM), which is what users search for. A step that wraps a
 * failed call (`kprobe 'p' → f: cannot create the probe`) uses {@link SyscallError.wrap}, so errno stays on
 * the outer error instead of one `.cause` down.
 */
export class SyscallError extends KfuncKitError {
  override readonly name = "SyscallError";
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly errnoName: string,
    options: SyscallErrorOptions = {},
  ) {
    super("SYSCALL", options.message ?? `${call}: ${errnoName}${errnoDescription(errno)}`, options);
  }

  /**
   * `message` for a step that failed because of `cause`: a SyscallError carrying the errno found in the
   * cause chain (ours, or a Node fs error's), else a SYSCALL-coded error without one.
   */
  static wrap(
    message: string,
    cause: unknown,
    options: Omit<KfuncKitErrorOptions, "cause"> = {},
  ): KfuncKitError {
    const inner = findCause(cause, SyscallError);
    if (inner)
      return new SyscallError(inner.call, inner.errno, inner.errnoName, { ...options, message, cause });
    const node = nodeErrno(cause);
    if (node) return new SyscallError(node.call, node.errno, node.name, { ...options, message, cause });
    return new KfuncKitError("SYSCALL", message, { ...options, cause });
  }
}

/** A Node system error (fs, child_process): `{ errno: -13, code: "EACCES", syscall: "open" }`. */
function nodeErrno(e: unknown): { errno: number; name: string; call: string } | undefined {
  if (!(e instanceof Error)) return undefined;
  const { errno, code, syscall } = e as NodeLikeError;
  if (typeof errno !== "number" || typeof code !== "string" || !/^E[A-Z0-9]+$/.test(code)) return undefined;
  return { errno: Math.abs(errno), name: code, call: typeof syscall === "string" ? syscall : "syscall" };
}

interface NodeLikeError {
  errno?: unknown;
  code?: unknown;
  syscall?: unknown;
}

/** The first error in `e`'s cause chain (e included) that is an instance of `type`. */
export function findCause<T extends Error>(
  e: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: any constructor signature
  type: abstract new (...args: any[]) => T,
): T | undefined {
  let cur: unknown = e;
  for (let depth = 0; cur instanceof Error && depth < 16; depth++) {
    if (cur instanceof type) return cur;
    cur = cur.cause;
  }
  return undefined;
}

/** The errno (positive, e.g. 1 for EPERM) behind `e`: from a SyscallError or a Node system error in its cause chain. */
export function errnoOf(e: unknown): number | undefined {
  let cur: unknown = e;
  for (let depth = 0; cur instanceof Error && depth < 16; depth++) {
    if (cur instanceof SyscallError) return cur.errno;
    const node = nodeErrno(cur);
    if (node) return node.errno;
    cur = cur.cause;
  }
  return undefined;
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

export class UsageError extends messageError("USAGE") {
  override readonly name = "UsageError";
}

/** A kfunc that cannot be resolved, registered or called as declared. */
export class KfuncError extends messageError("KFUNC") {
  override readonly name = "KfuncError";
}

/** A kernel module that cannot be configured, built, checked or loaded. */
export class ModuleError extends messageError("MODULE") {
  override readonly name = "ModuleError";
}

/** Something missing on this machine: a tool, a package, a permission, a file system. */
export class EnvironmentError extends messageError("ENVIRONMENT") {
  override readonly name = "EnvironmentError";
}

/**
 * A kernel cannot be acquired or used: no such Debian package, an image without a version or BTF, a damaged
 * cache entry (src/kernels). Booting failures are `VmError` (src/qemu).
 */
export class KernelUnavailableError extends messageError("KERNEL") {
  override readonly name = "KernelUnavailableError";
}

/**
 * The codes with a class of their own: construct the class, never `new KfuncKitError(code, …)` (a test
 * enforces it), so that `instanceof` and the code always agree. VM errors are `VmError` (src/qemu).
 */
export const TYPED_ERROR_CODES: readonly ErrorCode[] = [
  "ELF",
  "BTF",
  "OBJECT",
  "RELOCATION",
  "SYSCALL",
  "VERIFIER",
  "NOT_SUPPORTED",
  "KFUNC",
  "MODULE",
  "USAGE",
  "ENVIRONMENT",
  "KERNEL",
];

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
