/**
 * The host-unlink scenario from TypeScript, on the skeleton `kfunc build unlink.bpf.c --skeleton` writes
 * (unlink.skel.ts, not checked in): every unlinkat() as a typed `event` record from the ring buffer.
 *
 *   npx tsx examples/host-unlink/app.ts [target pid] [seconds]    # 0 (default): every process; 10 s
 */
import { open } from "./unlink.skel.ts";

const target = Number(process.argv[2] ?? 0);
const seconds = Number(process.argv[3] ?? 10);

// Ctrl-C ends the loop below (installed before load, so kfunc-kit's own exit handler stays out of the way)
const stop = AbortSignal.any([AbortSignal.timeout(seconds * 1000), abortOnSigint()]);

const skel = open();
skel.rodata.target_pid = target; // .rodata: set before load, frozen after
using obj = await skel.load();
using links = obj.attach();
process.stderr.write(`attached ${links.links.map((l) => l.toString()).join(", ")}; ${seconds} s\n`);
for await (const ev of obj.maps.events.records({ signal: stop })) {
  console.log(`${ev.comm}: pid ${ev.pid} (parent ${ev.ppid}) unlinkat, kfunc result ${ev.result}`);
}
process.stderr.write(`${obj.bss.unlinks} unlinkat calls seen\n`);

function abortOnSigint(): AbortSignal {
  const ac = new AbortController();
  process.once("SIGINT", () => ac.abort());
  return ac.signal;
}
