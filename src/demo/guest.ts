/**
 * The reference scenario's in-kernel part, run by `kfunc demo` inside the VM (or on a host that can):
 * load the module, load + attach the eBPF program with kfunc-kit's loader, `rm` files, check every trace
 * line says Result: 10, prove the module is pinned while attached, detach, unload. Prints a summary line
 * record (src/qemu/result-channel.ts, type "demo-summary") for the host side and exits 0 only if everything held.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { formatError, isKfuncKitError } from "../errors.ts";
import { attach } from "../kernel/attach/index.ts";
import { loadObjectFile } from "../kernel/collection.ts";
import type { Link } from "../kernel/links.ts";
import { clearTrace, type TraceLine, tracePipe } from "../kernel/trace-pipe.ts";
import { emitResult, runGuestMain } from "../qemu/result-channel.ts";
import { deleteModule, finitModule } from "../sys/kernel-module.ts";
import { lastKmsgSeq, readKmsg } from "./kmsg.ts";

export interface DemoSummary {
  moduleLoaded: boolean;
  insmodLog: string[];
  attached: string[];
  rmPids: number[];
  traceLines: string[];
  results: number[];
  rmmodWhileAttached: string;
  rmmodAfter: string;
  rmmodLog: string[];
  ok: boolean;
  failures: string[];
}

const say = (s: string) => process.stdout.write(`${s}\n`);
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(2)}s`;

async function collectTrace(expect: number, pids: Set<number>, timeoutMs: number, lines: TraceLine[]) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    for await (const line of tracePipe({ signal: ac.signal, idleMs: 20 })) {
      if (!line.message.includes("BPF triggered do_unlinkat")) continue;
      lines.push(line);
      say(`  trace: ${line.task}-${line.pid} [${line.cpu}] ${line.message.trim()}`);
      const pid = Number(/PID: (\d+)/.exec(line.message)?.[1]);
      pids.delete(pid);
      if (pids.size === 0 && lines.length >= expect) break;
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      ko: { type: "string" },
      obj: { type: "string" },
      module: { type: "string" },
      files: { type: "string", default: "3" },
    },
  });
  if (!values.ko || !values.obj || !values.module) {
    process.stderr.write("usage: guest.js --ko hello.ko --obj kfunc.bpf.o --module hello [--files N]\n");
    return 2;
  }
  const nFiles = Number(values.files);
  const s: DemoSummary = {
    moduleLoaded: false,
    insmodLog: [],
    attached: [],
    rmPids: [],
    traceLines: [],
    results: [],
    rmmodWhileAttached: "",
    rmmodAfter: "",
    rmmodLog: [],
    ok: false,
    failures: [],
  };
  const fail = (m: string) => {
    s.failures.push(m);
    say(`  ✖ ${m}`);
  };

  say(`[${elapsed()}] insmod ${values.ko}`);
  let seq = lastKmsgSeq();
  finitModule(values.ko);
  s.moduleLoaded = true;
  s.insmodLog = readKmsg(seq).map((r) => r.message);
  for (const m of s.insmodLog) say(`  dmesg: ${m}`);

  say(`[${elapsed()}] loading ${values.obj} with kfunc-kit's loader`);
  const links: Link[] = [];
  let coll: Awaited<ReturnType<typeof loadObjectFile>>;
  try {
    coll = await loadObjectFile(values.obj);
  } catch (e) {
    // never leave the module behind (matters with --kernel host)
    try {
      deleteModule(values.module);
    } catch {}
    throw e;
  }
  say(`[${elapsed()}] loaded: kfunc resolved in module BTF, verifier accepted the program`);
  try {
    for (const p of coll.programs.values()) {
      links.push(attach(p));
      s.attached.push(`${p.name} (${p.section})`);
      say(`  attached ${p.name} → ${p.section}`);
    }
    clearTrace();
    say(`[${elapsed()}] rm ${nFiles} files`);
    const pids = new Set<number>();
    const lines: TraceLine[] = [];
    const collecting = collectTrace(nFiles, pids, 10_000, lines);
    // One shell runs every rm (forking the big node process once, not once per file: slow under TCG)
    // and reports each rm's PID, which the program's trace line must name.
    const files = Array.from({ length: nFiles }, (_, i) => `/tmp/kfunc-demo-${process.pid}-${i}`);
    for (const f of files) writeFileSync(f, "x");
    const r = spawnSync(
      "sh",
      ["-c", 'for f; do rm "$f" & echo $!; wait $! || echo "rm $f failed" >&2; done', "sh", ...files],
      {
        encoding: "utf8",
      },
    );
    if (r.status !== 0 || r.stderr) fail(`rm failed: ${r.stderr || `exit ${r.status}`}`);
    for (const pid of r.stdout.split("\n").filter(Boolean).map(Number)) {
      pids.add(pid);
      s.rmPids.push(pid);
    }
    if (s.rmPids.length !== nFiles) fail(`expected ${nFiles} rm PIDs, got ${r.stdout}`);
    await collecting;
    s.traceLines = lines.map((l) => l.message.trim());
    s.results = lines.map((l) => Number(/Result: (-?\d+)/.exec(l.message)?.[1]));
    const seen = new Set(lines.map((l) => Number(/PID: (\d+)/.exec(l.message)?.[1])));
    for (const pid of s.rmPids) if (!seen.has(pid)) fail(`no trace line for rm (PID ${pid})`);
    for (const r of s.results) if (r !== 10) fail(`Result: ${r}, expected 10`);

    say(`[${elapsed()}] rmmod ${values.module} while the program is attached`);
    try {
      deleteModule(values.module);
      s.rmmodWhileAttached = "unloaded";
      fail("the module unloaded while a program using its kfunc was loaded");
    } catch (e) {
      s.rmmodWhileAttached = isKfuncKitError(e) ? e.message : String(e);
      say(`  refused, as it must be: ${s.rmmodWhileAttached}`);
    }
  } finally {
    for (const l of links) l.close();
    coll.close();
  }
  say(`[${elapsed()}] detached and closed; rmmod ${values.module}`);
  seq = lastKmsgSeq();
  // The kernel drops the program's module reference asynchronously (RCU): retry briefly.
  for (let i = 0; ; i++) {
    try {
      deleteModule(values.module);
      s.rmmodAfter = "ok";
      break;
    } catch (e) {
      if (i >= 50) {
        s.rmmodAfter = formatError(e);
        fail(`rmmod after detach: ${s.rmmodAfter}`);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  s.rmmodLog = readKmsg(seq).map((r) => r.message);
  for (const m of s.rmmodLog) say(`  dmesg: ${m}`);
  if (!s.insmodLog.some((m) => m.includes("Hello, world!"))) fail('insmod did not log "Hello, world!"');
  if (s.rmmodAfter === "ok" && !s.rmmodLog.some((m) => m.includes("Goodbye, world!")))
    fail('rmmod did not log "Goodbye, world!"');
  s.ok = s.failures.length === 0 && s.results.length >= nFiles;
  emitResult({ type: "demo-summary", ...s });
  return s.ok ? 0 : 1;
}

runGuestMain("kfunc demo (guest)", main);
