import type { Command } from "commander";

const VERSION = "0.1.0";

/** The verb modules `argv` needs: its verb's, or all (help, errors: commander lists or suggests them). */
function verbsFor(
  VERBS: Array<[string, () => Promise<{ register: (program: Command) => void }>]>,
  argv: string[],
): Array<() => Promise<{ register: (program: Command) => void }>> {
  const verb = argv.find((a) => !a.startsWith("-"));
  const known = VERBS.find(([name]) => name === verb);
  return known ? [known[1]] : VERBS.map(([, load]) => load);
}

/** Exit codes: 0 ok, 1 failure, 2 usage. */
export async function main(argv: string[]): Promise<number> {
  // `kfunc --version` answers before commander and the verbs are even read (what commander would print)
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  // commander, the error helpers and every verb live in one module (one bundle file: dist/cli/bundle/verbs.js)
  const { Command, CommanderError, VERBS, formatError, isKfuncKitError } = await import("./verbs.ts");
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
  } catch (e) {
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

process.exitCode = await main(process.argv.slice(2));
