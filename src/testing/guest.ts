/**
 * The `kfunc test` runner that runs inside the VM (prebuilt into dist/testing/guest.bundle.js) or on the
 * host: `node guest.bundle.js <plan.json>`. Runs every test of every object in the plan in this one
 * process and streams records through the result channel (src/qemu/result-channel.ts): `ready`, then per
 * test `start` and `test`, then `done`. Exits 0 when it ran everything (the verdicts are in the records).
 * With `plan.jobs` > 1 it runs the tests in that many worker processes instead (src/testing/guest-workers.ts).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { formatError, isKfuncKitError } from "../errors.ts";
import { btfFeatures } from "../kernel/features.ts";
import { vmlinuxBtf } from "../kernel/kernel-btf.ts";
import { LoadSession } from "../kernel/load-session.ts";
import { emitResult, runGuestMain } from "../qemu/result-channel.ts";
import { kernelFacts, runObjectTests, unprivilegedBpfDisabled } from "./execute.ts";
import { coordinate, kernelLogNotes, resultNote, runWorker, WORKER_ARG } from "./guest-workers.ts";
import type { GuestPlan } from "./types.ts";

async function main(): Promise<number> {
  const mainMs = Math.round(performance.now());
  const planFile = process.argv[2];
  if (!planFile) {
    process.stderr.write("usage: guest.js <plan.json>\n");
    return 2;
  }
  const plan = JSON.parse(readFileSync(planFile, "utf8")) as GuestPlan;
  const worker = process.argv[3] === WORKER_ARG;
  // before the facts are read (and before the workers start, which read their own)
  if (!worker && plan.allowUnprivileged && unprivilegedBpfDisabled() === 2)
    writeFileSync("/proc/sys/kernel/unprivileged_bpf_disabled", "0");
  const kernel = kernelFacts();
  if (worker) return runWorker(plan, kernel, warmUp);
  if ((plan.jobs ?? 1) > 1) return coordinate(plan, kernel);
  warmUp();
  const warmMs = Math.round(performance.now());
  // one session for the whole run: module BTF enumerated and parsed once, each object's BTF loaded once
  const session = new LoadSession();
  emitResult({
    type: "ready",
    release: kernel.release,
    startMs: Math.round(performance.now()),
    mainMs,
    warmMs,
  });
  const filter = plan.filter ? new RegExp(plan.filter) : undefined;
  const note = kernelLogNotes(plan);
  let count = 0;
  for (const f of plan.files) {
    try {
      await runObjectTests(
        f.object,
        f.file,
        {
          filter,
          session,
          onStart: (tc, title) => {
            emitResult({ type: "start", file: f.file, program: tc.program, title });
            note("start", { file: f.file, program: tc.program, title });
          },
          onResult: (r) => {
            note("result", resultNote(r));
            count++;
            emitResult({ type: "test", ...r });
          },
        },
        kernel,
        { dropCaps: plan.dropCaps },
      );
    } catch (e) {
      emitResult({
        type: "file-error",
        file: f.file,
        message: isKfuncKitError(e) ? formatError(e) : String(e),
      });
    }
  }
  session.close();
  emitResult({ type: "done", count });
  return 0;
}

/**
 * Once per run (per worker), not in the first test's time: parsing the kernel's BTF (its name index is not
 * built: the few names a run looks up are found by a scan), the syscall binding and the kernel feature probes.
 */
function warmUp(): void {
  try {
    vmlinuxBtf();
    btfFeatures();
  } catch {
    // a kernel without BTF or bpf(): each test reports it with its own load
  }
}

runGuestMain("kfunc test (guest)", main);
