/**
 * The `kfunc` command's shell: commander, the verb modules argv needs, exit codes and error reports. Run by
 * src/cli/main.ts (the ES-module entry) or, from the CommonJS bundle, by src/cli/bundle-entry.ts.
 */
import type { Command } from "commander";

const VERSION = "0.1.0";

type Verbs = Array<[string, () => Promise<{ register: (program: Command) => void }>]>;

/** The verb modules `argv` needs: its verb's, or all (help, errors: commander lists or suggests them). */
function verbsFor(
  VERBS: Verbs,
  argv: string[],
): Array<() => Promise<{ register: (program: Command) => void }>> {
  const verb = argv.find((a) => !a.startsWith("-"));
  const known = VERBS.find(([name]) => name === verb);
  return known ? [known[1]] : VERBS.map(([, load]) => load);
}

/**
 * `kfunc … | head`: the reader went away. That ends every verb quietly, with the shell's SIGPIPE status
 * (141), as `cat` would. A verb that must clean up first (vm run stops QEMU) adds its own listener, and
 * then this one leaves the pipe error to it.
 */
function exitQuietlyOnClosedStdout(): void {
  const onError = (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    if (process.stdout.listenerCount("error") > 1) return;
    process.exit(141);
  };
  process.stdout.on("error", onError);
}

/** A Node file-system error that escaped a verb, named as the user's file problem it is. */
function userFsError(
  e: unknown,
  explainFsError: (e: unknown, path: string, what: string, writing: boolean) => unknown,
): unknown {
  const path = (e as { path?: unknown } | undefined)?.path;
  const syscall = String((e as { syscall?: unknown } | undefined)?.syscall ?? "");
  if (typeof path !== "string") return e;
  return explainFsError(e, path, "file", /write|mkdir|rename|copyfile|symlink|unlink|rm/.test(syscall));
}

/** Exit codes: 0 ok, 1 failure, 2 usage. */
export async function main(argv: string[]): Promise<number> {
  // `kfunc --version` answers before commander and the verbs are even read (what commander would print)
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  exitQuietlyOnClosedStdout();
  // commander, the error helpers and every verb live in one module (one bundle file: dist/cli/bundle/verbs.js)
  const {
    Command,
    CommanderError,
    VERBS,
    explainFsError,
    formatError,
    installExitHandlers,
    isKfuncKitError,
  } = await import("./verbs.ts");
  // Ctrl-C/SIGTERM detach and remove tracefs probes before the process dies (verbs with their own
  // handlers, like `run`, take over the signal while they run)
  installExitHandlers();
  const program = new Command("kfunc")
    .description("Define, build, load and test custom eBPF kfuncs")
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    for (const mod of await Promise.all(verbsFor(VERBS, argv).map((load) => load()))) mod.register(program);
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (thrown) {
    const e = userFsError(thrown, explainFsError);
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.exitCode === 0)
        return 0;
      return 2;
    }
    if (isKfuncKitError(e)) {
      process.stderr.write(`kfunc: ${formatError(e)}\n`);
      return e.code === "USAGE" ? 2 : 1;
    }
    process.stderr.write(`kfunc: internal error: ${formatError(e)}\n`);
    if (process.env["KFUNC_KIT_DEBUG"] && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    else process.stderr.write("  (set KFUNC_KIT_DEBUG=1 for a stack trace, and please report it)\n");
    return 1;
  }
}
