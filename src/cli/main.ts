import { Command, CommanderError } from "commander";
import { formatError, isKfuncKitError } from "../errors.ts";
import { explainFsError } from "../files.ts";
import { installExitHandlers } from "../kernel/registry.ts";
import { register as btf } from "./commands/btf.ts";
import { register as build } from "./commands/build.ts";
import { register as demo } from "./commands/demo.ts";
import { register as doctor } from "./commands/doctor.ts";
import { register as gen } from "./commands/gen.ts";
import { register as inspect } from "./commands/inspect.ts";
import { register as kfuncs } from "./commands/kfuncs.ts";
import { register as module } from "./commands/module.ts";
import { register as newModule } from "./commands/new.ts";
import { register as run } from "./commands/run.ts";
import { register as test } from "./commands/test.ts";
import { register as testRun } from "./commands/test-run.ts";
import { register as usdt } from "./commands/usdt.ts";
import { register as uvm } from "./commands/uvm.ts";
import { register as vm } from "./commands/vm.ts";

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
function userFsError(e: unknown): unknown {
  const path = (e as { path?: unknown } | undefined)?.path;
  const syscall = String((e as { syscall?: unknown } | undefined)?.syscall ?? "");
  if (typeof path !== "string") return e;
  return explainFsError(e, path, "file", /write|mkdir|rename|copyfile|symlink|unlink|rm/.test(syscall));
}

/** Exit codes: 0 ok, 1 failure, 2 usage. */
export async function main(argv: string[]): Promise<number> {
  exitQuietlyOnClosedStdout();
  // Ctrl-C/SIGTERM detach and remove tracefs probes before the process dies (verbs with their own
  // handlers, like `run`, take over the signal while they run)
  installExitHandlers();
  const program = new Command("kfunc")
    .description("Define, build, load and test custom eBPF kfuncs")
    .version("0.1.0")
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const reg of [
    inspect,
    btf,
    kfuncs,
    run,
    testRun,
    usdt,
    build,
    gen,
    module,
    vm,
    demo,
    doctor,
    uvm,
    test,
    newModule,
  ])
    reg(program);
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (thrown) {
    const e = userFsError(thrown);
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
