/**
 * Ctrl-C of a library script inside QEMU (kprobes exist there, not on the host): a child process attaches a
 * kprobe and a uprobe through tracefs (kprobe_events / uprobe_events) and gets SIGINT. With
 * installExitHandlers() both event files are empty afterwards; without it (library default: no signal
 * handlers) Node runs no JavaScript on the signal and the events stay listed until a later kfunc-kit
 * attach removes them (their owner pid is dead). One boot for both cases.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";
import { runGuestScript } from "../helpers/vm-guest.ts";

const KERNEL = process.env["KFUNC_KIT_TEST_KERNEL"] ?? "debian:bookworm-backports";

const guestScript = (kprobeObj: string, uprobeObj: string) => `
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { emitResult } from "${REPO_ROOT}/src/qemu/result-channel.ts";
import { attach, tracefsRoot } from "${REPO_ROOT}/src/kernel/attach/index.ts";
import { removeStaleEvents } from "${REPO_ROOT}/src/kernel/attach/kprobe.ts";
import { installExitHandlers, loadObjectFile } from "${REPO_ROOT}/src/kernel/index.ts";
const mode = process.argv[2];
if (mode === "handlers" || mode === "none") {
  if (mode === "handlers") installExitHandlers();
  const k = await loadObjectFile(${JSON.stringify(kprobeObj)}, { programs: ["kp"] });
  const u = await loadObjectFile(${JSON.stringify(uprobeObj)}, { programs: ["up_getpid"] });
  const a = attach(k.program("kp"), { forceTracefs: true });
  const b = attach(u.program("up_getpid"), { forceTracefs: true });
  console.log("ATTACHED " + a.info.probeVia + " " + b.info.probeVia);
  setInterval(() => {}, 1000);
} else {
  const root = tracefsRoot();
  const read = () => ({
    kprobe: readFileSync(root + "/kprobe_events", "utf8"),
    uprobe: readFileSync(root + "/uprobe_events", "utf8"),
  });
  const run = (m) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [process.argv[1], m], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      let during;
      child.stdout.on("data", (d) => {
        out += d;
        if (during === undefined && out.includes("ATTACHED")) {
          during = read();
          child.kill("SIGINT");
        }
      });
      child.on("exit", (code, signal) => resolve({ pid: child.pid, out, during, after: read(), code, signal }));
    });
  const handlers = await run("handlers");
  const none = await run("none");
  const removed = [...removeStaleEvents(root + "/kprobe_events"), ...removeStaleEvents(root + "/uprobe_events")];
  emitResult({ type: "result", value: { handlers, none, removed, final: read() } });
}
`;

interface ChildEnd {
  pid: number;
  out: string;
  during: { kprobe: string; uprobe: string } | undefined;
  after: { kprobe: string; uprobe: string };
  code: number | null;
  signal: string | null;
}
interface Result {
  handlers: ChildEnd;
  none: ChildEnd;
  removed: string[];
  final: { kprobe: string; uprobe: string };
}

const lines = (text: string, pid: number) =>
  text.split("\n").filter((l) => new RegExp(`^[pr]\\d*:kfunc_kit/\\S+_${pid}_\\d+ `).test(l));

test(`Ctrl-C inside QEMU (${KERNEL}): tracefs kprobe and uprobe events removed with installExitHandlers()`, {
  timeout: 900_000,
}, (t) => {
  const kprobeObj = compileFixture("attach-kprobe");
  const uprobeObj = compileFixture("attach-counters");
  const res = runGuestScript<Result>(t, KERNEL, guestScript(kprobeObj, uprobeObj), kprobeObj);
  if (!res) return;
  for (const [name, r] of Object.entries({ handlers: res.handlers, none: res.none })) {
    assert.match(r.out, /ATTACHED tracefs tracefs/, `${name}: the child attached both through tracefs`);
    assert.equal(lines(r.during!.kprobe, r.pid).length, 1, `${name}: a kprobe event while attached`);
    assert.equal(lines(r.during!.uprobe, r.pid).length, 1, `${name}: a uprobe event while attached`);
    assert.equal(r.signal, "SIGINT", `${name}: the child died of SIGINT (code ${r.code})`);
  }
  assert.equal(res.handlers.after.kprobe, "", "installExitHandlers(): kprobe_events is empty afterwards");
  assert.equal(res.handlers.after.uprobe, "", "installExitHandlers(): uprobe_events is empty afterwards");
  // the documented negative: no handler, no JavaScript on the signal, the events stay
  assert.equal(lines(res.none.after.kprobe, res.none.pid).length, 1, "no handlers: the kprobe event stays");
  assert.equal(lines(res.none.after.uprobe, res.none.pid).length, 1, "no handlers: the uprobe event stays");
  assert.equal(res.removed.length, 2, `the next attach's sweep removes both: ${res.removed.join(", ")}`);
  assert.deepEqual(res.final, { kprobe: "", uprobe: "" });
});
