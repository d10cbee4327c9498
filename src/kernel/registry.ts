/**
 * Live kernel objects of this process. Every Program, BpfMap and Collection registers here while open, and
 * is closed on process 'exit' and on SIGINT/SIGTERM when nothing else handles them (the signal is then
 * re-raised so the process still dies the default way). The kernel would close fds at exit anyway; this makes
 * teardown (detach before unpin, link close) happen in a defined order.
 */
interface Closable {
  close(): void;
}

const live = new Set<Closable>();
let installed = false;

function closeAll(): void {
  for (const o of [...live].reverse()) {
    try {
      o.close();
    } catch {
      // best effort at exit
    }
  }
  live.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once("exit", closeAll);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    if (process.listenerCount(sig) > 0) continue;
    const onSignal = () => {
      closeAll();
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.once(sig, onSignal);
  }
}

export function track(o: Closable): void {
  install();
  live.add(o);
}

export function untrack(o: Closable): void {
  live.delete(o);
}

/** Number of live objects (tests use it to prove nothing leaks). */
export function liveObjectCount(): number {
  return live.size;
}
