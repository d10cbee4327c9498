/**
 * The CLI's verbs: name → its command module, imported only when the verb is used (help imports them all).
 * Order = the order in --help. New verbs go here (src/cli/main.ts only decides which to load). Also re-exports
 * commander and the error helpers, so the CLI shell reads nothing else once it needs more than --version.
 */
import type { Command } from "commander";

export { Command, CommanderError } from "commander";
export { formatError, isKfuncKitError } from "../errors.ts";
export { explainFsError } from "../files.ts";
export { installExitHandlers } from "../kernel/registry.ts";

export type Register = (program: Command) => void;

export const VERBS: Array<[string, () => Promise<{ register: Register }>]> = [
  ["inspect", () => import("./commands/inspect.ts")],
  ["btf", () => import("./commands/btf.ts")],
  ["kfuncs", () => import("./commands/kfuncs.ts")],
  ["run", () => import("./commands/run.ts")],
  ["test-run", () => import("./commands/test-run.ts")],
  ["usdt", () => import("./commands/usdt.ts")],
  ["build", () => import("./commands/build.ts")],
  ["gen", () => import("./commands/gen.ts")],
  ["module", () => import("./commands/module.ts")],
  ["vm", () => import("./commands/vm.ts")],
  ["demo", () => import("./commands/demo.ts")],
  ["doctor", () => import("./commands/doctor.ts")],
  ["uvm", () => import("./commands/uvm.ts")],
  ["test", () => import("./commands/test.ts")],
  ["new", () => import("./commands/new.ts")],
];
