/**
 * Live kernel resources of this process: every Program, BpfMap, Collection and Link registers here while
 * open, with its close(). The kernel closes a dying process's fds by itself, but it never deletes a tracefs
 * kprobe/uprobe event: only running the Link's close() does. So:
 *
 * - on process 'exit' (the event loop drained, `process.exit()`, an uncaught exception) everything still
 *   open is closed, newest first (links before the programs they run); this hook is installed on first use
 *   and changes nothing else about the process;
 * - library code installs no signal handler. A SIGINT/SIGTERM with no handler kills the process without
 *   'exit' (Node runs no JavaScript then), so tracefs events stay listed in kprobe_events/uprobe_events
 *   (inert: their perf events are gone). {@link installExitHandlers} (the `kfunc` CLI calls it) closes
 *   everything on those signals first and then lets the signal end the process the default way.
 */
interface Closable {
  close(): void;
}

const live = new Set<Closable>();
let exitHook = false;

/** Closes every live resource, newest first; never throws. */
export function closeAllLive(): void {
  for (const o of [...live].reverse()) {
    try {
      o.close();
    } catch {
      // best effort: one failing close must not keep the others open
    }
  }
  live.clear();
}

export function track(o: Closable): void {
  if (!exitHook) {
    exitHook = true;
    process.once("exit", closeAllLive);
  }
  live.add(o);
}

export function untrack(o: Closable): void {
  live.delete(o);
}

/** Number of live resources (tests use it to prove nothing leaks). */
export function liveObjectCount(): number {
  return live.size;
}

export interface ExitHandlerOptions {
  /** The signals to handle (default SIGINT, SIGTERM, SIGHUP). */
  signals?: NodeJS.Signals[];
}

/**
 * Makes the given signals close every live kernel resource (links first: tracefs probe events are
 * removed) before the process dies of the signal, as it would have without a handler (exit status
 * 128 + signal). When the application has its own listener for a signal, that listener decides: this one
 * then does nothing, and whatever is left open is closed on 'exit'. Returns a function that uninstalls.
 */
export function installExitHandlers(options: ExitHandlerOptions = {}): () => void {
  const signals = options.signals ?? ["SIGINT", "SIGTERM", "SIGHUP"];
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const sig of signals) {
    const onSignal = () => {
      // ours runs first (prepended), so another listener — even a once() one — is still counted here
      if (process.listenerCount(sig) > 1) return;
      closeAllLive();
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    };
    handlers.set(sig, onSignal);
    process.prependListener(sig, onSignal);
  }
  return () => {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
  };
}
