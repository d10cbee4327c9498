/**
 * The guest runner's parallel mode (`GuestPlan.jobs` > 1: `kfunc test --guest-jobs N`). The runner process
 * becomes a coordinator that loads nothing itself: it starts N workers (the same script with `--worker`),
 * hands each one test run at a time from the plan's queue (longest known first) as they finish, and relays
 * their records as whole lines through its own stdout, the one result channel. Each worker has its own
 * LoadSession (module BTF, each object's BTF loaded once per worker). A worker that dies fails the test it was
 * running (`crash`) and is replaced while work is left.
 */
import { spawn } from "node:child_process";
import { openSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { formatError, isKfuncKitError } from "../errors.ts";
import { LoadSession } from "../kernel/load-session.ts";
import { emitResult, resultSplitter } from "../qemu/result-channel.ts";
import {
  dropCapabilities,
  type KernelFacts,
  type ObjectTests,
  openObjectTests,
  runTestRun,
} from "./execute.ts";
import { type GuestPlan, type GuestRecord, KMSG_TAG, type TestOutcome, type WorkItem } from "./types.ts";

/** The argument that makes the runner a worker: `guest.js <plan.json> --worker`. */
export const WORKER_ARG = "--worker";
/** Workers started to replace ones that died, at most, per run. */
const MAX_RESPAWNS = 4;

/**
 * In a VM, each start and verdict also goes to the kernel log (at KERN_ERR, so the console shows it): a
 * panic can lose the last records still in the serial pipeline, the console keeps what happened.
 */
export function kernelLogNotes(plan: GuestPlan): (what: string, rec: Record<string, unknown>) => void {
  const kmsg = plan.kmsg ? openSync("/dev/kmsg", "w") : undefined;
  return (what, rec) => {
    if (kmsg !== undefined) writeSync(kmsg, `<3>${KMSG_TAG}${what} ${asciiJson(rec)}\n`);
  };
}

/** JSON with every non-ASCII character escaped: the serial console does not carry UTF-8 intact (a title's `…`). */
const asciiJson = (v: unknown): string => {
  const j = JSON.stringify(v);
  // the byte count is native and cheap; a regex pass over every note cost ~0.2 ms each under TCG
  return Buffer.byteLength(j) === j.length
    ? j
    : j.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
};

/** What the kernel log keeps of a verdict. */
export function resultNote(r: TestOutcome): Record<string, unknown> {
  return { file: r.file, program: r.program, title: r.title, status: r.status, durationMs: r.durationMs };
}

/** A worker: reads work items (one JSON line each) on stdin until it ends, runs each, emits its records. */
export async function runWorker(plan: GuestPlan, kernel: KernelFacts, warmUp: () => void): Promise<number> {
  warmUp();
  const session = new LoadSession();
  // for the worker's whole life (the sequential runner drops them around each object)
  dropCapabilities({ dropCaps: plan.dropCaps });
  const note = kernelLogNotes(plan);
  const objects = new Map<number, ObjectTests>();
  emitResult({ type: "ready", release: kernel.release, startMs: Math.round(performance.now()) });
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (!line) continue;
    const item = JSON.parse(line) as WorkItem;
    const f = plan.files[item.file]!;
    let obj = objects.get(item.file);
    if (!obj) {
      try {
        obj = openObjectTests(f.object, f.file);
      } catch (e) {
        emitResult({
          type: "file-error",
          file: f.file,
          message: isKfuncKitError(e) ? formatError(e) : String(e),
        });
        continue;
      }
      objects.set(item.file, obj);
    }
    const run = obj.runs.find((r) => r.title === item.title);
    const start = { file: f.file, program: run?.tc.program ?? "(object)", title: item.title };
    emitResult({ type: "start", ...start });
    note("start", start);
    const r: TestOutcome = run
      ? await runTestRun(obj, run, kernel, session)
      : { ...start, status: "error", reason: "the object has no such test", durationMs: 0 };
    note("result", resultNote(r));
    emitResult({ type: "test", ...r });
  }
  session.close();
  return 0;
}

interface Worker {
  pid: number | undefined;
  send(item: WorkItem): void;
  end(): void;
  ready: boolean;
  /** The item handed to it, and its `start` record once it came. */
  busy?: WorkItem | undefined;
  started?: { program: string } | undefined;
  stderr: string;
}

/** The coordinator: runs the plan's queue on `plan.jobs` workers; resolves with the exit code. */
export function coordinate(plan: GuestPlan, kernel: KernelFacts): Promise<number> {
  const filter = plan.filter ? new RegExp(plan.filter) : undefined;
  const queue = (plan.queue ?? []).filter((it) => !filter || filter.test(it.title));
  const script = process.argv[1]!;
  const planFile = process.argv[2]!;
  const workers = new Set<Worker>();
  const failedFiles = new Set<number>();
  let readySent = false;
  let exclusiveRunning = false;
  let count = 0;
  let respawns = 0;
  let lastStderr = "";
  let resolve!: (code: number) => void;
  const finished = new Promise<number>((r) => {
    resolve = r;
  });

  const startWorker = () => {
    const child = spawn(process.execPath, [...process.execArgv, script, planFile, WORKER_ARG], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    const w: Worker = {
      pid: child.pid,
      ready: false,
      stderr: "",
      send: (item) => child.stdin.write(`${JSON.stringify(item)}\n`),
      end: () => child.stdin.end(),
    };
    workers.add(w);
    const splitter = resultSplitter<GuestRecord>(
      (r) => onRecord(w, r),
      (text) => process.stdout.write(text),
    );
    child.stdout.on("data", (c: Buffer) => splitter.push(c));
    child.stderr.on("data", (c: Buffer) => {
      process.stderr.write(c);
      w.stderr = (w.stderr + c.toString()).slice(-4000);
    });
    child.stdin.on("error", () => {
      // the worker died: its exit is handled below
    });
    let exited = false;
    const onExit = (why: string) => {
      if (exited) return;
      exited = true;
      splitter.flush();
      workerExited(w, why);
    };
    child.on("error", (e) => onExit(`could not start: ${e.message}`));
    child.on("close", (code, signal) => onExit(signal ? `killed by ${signal}` : `exit ${code}`));
  };

  const onRecord = (w: Worker, r: GuestRecord) => {
    if (r.type === "ready") {
      w.ready = true;
      if (!readySent) {
        readySent = true;
        emitResult({ type: "ready", release: kernel.release, startMs: Math.round(performance.now()) });
      }
    } else if (r.type === "start") {
      w.started = { program: r.program };
      emitResult(r);
      return;
    } else if (r.type === "test") {
      count++;
      emitResult({ ...r });
      idle(w);
    } else if (r.type === "file-error") {
      const i = w.busy?.file;
      if (i !== undefined && !failedFiles.has(i)) {
        failedFiles.add(i);
        emitResult(r);
      }
      idle(w);
    }
    dispatch();
  };

  const idle = (w: Worker) => {
    if (w.busy?.exclusive) exclusiveRunning = false;
    w.busy = undefined;
    w.started = undefined;
  };

  const pending = () => queue.filter((it) => !failedFiles.has(it.file)).length;

  const dispatch = () => {
    for (const w of workers) {
      if (!w.ready || w.busy || exclusiveRunning) continue;
      const anyBusy = [...workers].some((x) => x.busy);
      const i = queue.findIndex((it) => !failedFiles.has(it.file) && (!it.exclusive || !anyBusy));
      if (i < 0) break;
      const [item] = queue.splice(i, 1);
      w.busy = item!;
      if (item!.exclusive) exclusiveRunning = true;
      w.send(item!);
    }
    if (pending() === 0 && ![...workers].some((x) => x.busy)) for (const w of workers) w.end();
  };

  const workerExited = (w: Worker, why: string) => {
    workers.delete(w);
    if (w.stderr) lastStderr = w.stderr;
    const item = w.busy;
    const started = w.started;
    idle(w);
    if (item && started) {
      // it died in the test: the test fails, as a panic fails the test that was running
      const f = plan.files[item.file]!;
      const tail = w.stderr.trim().split("\n").slice(-8).join("\n");
      count++;
      emitResult({
        type: "test",
        file: f.file,
        program: started.program,
        title: item.title,
        status: "fail",
        durationMs: 0,
        failure: {
          kind: "crash",
          expected: "the test finishes",
          got: `the test worker (pid ${w.pid}) died while it ran (${why})${tail ? `:\n${tail}` : ""}`,
        },
      });
    } else if (item) queue.unshift(item); // handed out but not started: the next worker runs it
    if (pending() > 0 && respawns < MAX_RESPAWNS) {
      respawns++;
      startWorker();
    }
    if (workers.size === 0) {
      if (pending() > 0) {
        process.stderr.write(
          `kfunc test (guest): the test workers died (${why}); ${pending()} tests not run${lastStderr ? `\n${lastStderr.trim().split("\n").slice(-6).join("\n")}` : ""}\n`,
        );
        resolve(1);
      } else {
        emitResult({ type: "done", count });
        resolve(0);
      }
    } else dispatch();
  };

  const n = Math.max(1, Math.min(plan.jobs ?? 1, queue.length || 1));
  for (let i = 0; i < n; i++) startWorker();
  return finished;
}
