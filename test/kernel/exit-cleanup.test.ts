/**
 * What a library user's Ctrl-C leaves in the kernel, on this host (uprobes work here; kprobes only in the
 * VM: exit-cleanup-vm.test.ts). A child process loads an object, attaches a uprobe through tracefs
 * uprobe_events and is sent SIGINT:
 * - after installExitHandlers(), the event is gone and the child still died of SIGINT;
 * - without it (the default for library code), Node runs no JavaScript on the signal and the event stays
 *   listed; the next tracefs attach of any kfunc-kit process removes it, since its owner pid is dead.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { removeStaleEvents } from "../../src/kernel/attach/kprobe.ts";
import { tracefsRoot } from "../../src/kernel/attach/tracefs.ts";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";

const root = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), "kfunc-exit-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const childScript = (obj: string) => `
import { attach } from "${REPO_ROOT}/src/kernel/attach/index.ts";
import { installExitHandlers, loadObjectFile } from "${REPO_ROOT}/src/kernel/index.ts";
if (process.argv[2] === "handlers") installExitHandlers();
const coll = await loadObjectFile(${JSON.stringify(obj)}, { programs: ["up_getpid"] });
const link = attach(coll.program("up_getpid"), { forceTracefs: true });
console.log("ATTACHED " + link.info.probeVia);
setInterval(() => {}, 1000);
`;

interface ChildEnd {
  pid: number;
  during: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the child until it has attached, then sends SIGINT and waits for it to die. */
async function attachThenInterrupt(mode: "handlers" | "none", eventsFile: string): Promise<ChildEnd> {
  const file = join(dir, "child.mts");
  writeFileSync(file, childScript(compileFixture("attach-counters")));
  const child = spawn(process.execPath, ["--import", "tsx", file, mode], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const attached = await new Promise<boolean>((resolve) => {
    child.stdout.on("data", (d) => {
      stdout += d;
      if (stdout.includes("ATTACHED")) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  assert.ok(attached, `the child did not attach:\n${stdout}${stderr}`);
  assert.match(stdout, /ATTACHED tracefs/);
  const during = readFileSync(eventsFile, "utf8");
  child.kill("SIGINT");
  const end = await exited;
  return { pid: child.pid!, during, ...end, stderr };
}

const mine = (events: string, pid: number) =>
  events.split("\n").filter((l) => new RegExp(`^[pr]\\d*:kfunc_kit/\\S+_${pid}_\\d+ `).test(l));

test("Ctrl-C after installExitHandlers(): the uprobe_events entry is removed, the process dies of SIGINT", async (t) => {
  if (!root) return t.skip("needs root to load eBPF programs and write uprobe_events");
  const events = `${tracefsRoot()}/uprobe_events`;
  const r = await attachThenInterrupt("handlers", events);
  assert.equal(mine(r.during, r.pid).length, 1, `one event while attached:\n${r.during}`);
  assert.deepEqual(mine(readFileSync(events, "utf8"), r.pid), [], "no event of the child afterwards");
  assert.equal(r.signal, "SIGINT", `the child ended by the signal it got (code ${r.code}):\n${r.stderr}`);
});

test("Ctrl-C without exit handlers leaves the event (documented); the next attach removes it", async (t) => {
  if (!root) return t.skip("needs root to load eBPF programs and write uprobe_events");
  const events = `${tracefsRoot()}/uprobe_events`;
  const r = await attachThenInterrupt("none", events);
  assert.equal(r.signal, "SIGINT");
  const left = mine(readFileSync(events, "utf8"), r.pid);
  assert.equal(left.length, 1, "Node ran no JavaScript on the signal: the event is still listed");
  const removed = removeStaleEvents(events);
  assert.ok(
    removed.some((e) => e.endsWith(`_${r.pid}_0`)),
    `removed ${removed.join(", ")}`,
  );
  assert.deepEqual(mine(readFileSync(events, "utf8"), r.pid), []);
});
