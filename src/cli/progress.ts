import oraSpinner, { type Ora } from "ora";
import { type Progress, silentProgress } from "../progress.ts";

// a spinner only on a terminal with a width (a pty of 0 columns made ora redraw without end). ora is imported
// statically: the CLI's CommonJS bundle (src/cli/bundle-loader.ts) cannot hold a top-level await, and only
// the long-running verbs (build, vm, run, test, module, demo) import this module
const spinnerTerminal = process.stderr.isTTY && (process.stderr.columns ?? 0) > 0;
const ora = spinnerTerminal ? oraSpinner : undefined;

export type { Progress };

/**
 * Progress for long steps (downloads, builds, VM boots): a spinner on a terminal, plain lines on stderr
 * otherwise, nothing with `quiet` (used by --json).
 */
export function createProgress(options: { quiet?: boolean } = {}): Progress {
  if (options.quiet) return silentProgress;
  if (!ora) {
    let current = "";
    return {
      step(t) {
        current = t;
        process.stderr.write(`… ${t}\n`);
      },
      detail() {},
      succeed(t) {
        process.stderr.write(`✔ ${t ?? current}\n`);
      },
      fail(t) {
        process.stderr.write(`✖ ${t ?? current}\n`);
      },
      note(t) {
        process.stderr.write(`${t}\n`);
      },
    };
  }
  let spinner: Ora | undefined;
  let title = "";
  return {
    step(t) {
      // one spinner at a time: a step left open by a nested task is closed (neutrally) by the next one
      spinner?.stopAndPersist({ symbol: "·", text: title });
      title = t;
      spinner = ora({ text: t, stream: process.stderr }).start();
    },
    detail(d) {
      if (spinner) spinner.text = `${title} ${d}`;
    },
    succeed(t) {
      spinner?.succeed(t ?? title);
      spinner = undefined;
    },
    fail(t) {
      spinner?.fail(t ?? title);
      spinner = undefined;
    },
    note(t) {
      if (spinner) {
        spinner.clear();
        process.stderr.write(`${t}\n`);
        spinner.render();
      } else process.stderr.write(`${t}\n`);
    },
  };
}
