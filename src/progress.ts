/**
 * Progress reporting for long steps (downloads, builds, VM boots). Library functions take a `Progress`
 * and default to {@link silentProgress}; the CLI passes a spinner (src/cli/progress.ts).
 */
export interface Progress {
  /** Starts (or restarts) a step with a title. */
  step(title: string): void;
  /** Updates the current step's detail text (e.g. "42 MB of 122 MB"). */
  detail(text: string): void;
  succeed(text?: string): void;
  fail(text?: string): void;
  /** Leaves a plain line above the spinner. */
  note(text: string): void;
}

/** Reports nothing. */
export const silentProgress: Progress = Object.freeze({
  step() {},
  detail() {},
  succeed() {},
  fail() {},
  note() {},
});
