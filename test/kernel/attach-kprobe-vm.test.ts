/**
 * kprobe/kretprobe attach on a real Debian kernel under QEMU (the host has no kprobes): our loader and
 * attach code run inside the guest, through the kprobe PMU and through the tracefs kprobe_events
 * fallback; the probes fire on the guest's own unlink and the tracefs events are gone after close().
 * Needs the QEMU runner's kernel (downloaded and cached on first use); skips with the reason otherwise.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { compileFixture, REPO_ROOT } from "../helpers/index.ts";
import { runGuestScript } from "../helpers/vm-guest.ts";

const KERNEL = process.env["KFUNC_KIT_TEST_KERNEL"] ?? "debian:bookworm-backports";

const guestScript = (obj: string) => `
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { emitResult } from "${REPO_ROOT}/src/qemu/result-channel.ts";
import { loadObjectFile } from "${REPO_ROOT}/src/kernel/index.ts";
import { attach, clearTrace, readTraceBuffer } from "${REPO_ROOT}/src/kernel/attach/index.ts";
const coll = await loadObjectFile(${JSON.stringify(obj)});
const out = {};
for (const via of ["pmu", "tracefs"]) {
  clearTrace();
  const opts = via === "tracefs" ? { forceTracefs: true } : {};
  const a = attach(coll.program("kp"), opts);
  const b = attach(coll.program("krp"), { ...opts, forceIoctl: true });
  const during = readFileSync("/sys/kernel/tracing/kprobe_events", "utf8");
  const f = "/tmp/kk-vm-" + via;
  writeFileSync(f, "x");
  rmSync(f);
  a.close();
  b.close();
  out[via] = {
    links: [a.info, b.info],
    lines: readTraceBuffer().filter((l) => l.pid === process.pid && l.message.includes("hit do_unlinkat")).map((l) => l.message),
    during,
    after: readFileSync("/sys/kernel/tracing/kprobe_events", "utf8"),
  };
}
coll.close();
emitResult({ type: "result", value: out });
`;

type KprobeResult = Record<
  string,
  {
    links: Array<{ kind: string; probeVia: string; mechanism: string }>;
    lines: string[];
    during: string;
    after: string;
  }
>;

test(`kprobe + kretprobe on do_unlinkat inside QEMU (${KERNEL}): PMU and tracefs kprobe_events`, {
  timeout: 900_000,
}, (t) => {
  const obj = compileFixture("attach-kprobe");
  const res = runGuestScript<KprobeResult>(t, KERNEL, guestScript(obj), obj);
  if (!res) return;
  assert.deepEqual(
    res["pmu"]!.links.map((l) => [l.kind, l.probeVia, l.mechanism]),
    [
      ["kprobe", "pmu", "bpf_link"],
      ["kretprobe", "pmu", "perf_event_ioctl"],
    ],
  );
  assert.equal(res["pmu"]!.during, "", "the PMU path writes nothing to kprobe_events");
  assert.deepEqual(
    res["tracefs"]!.links.map((l) => [l.kind, l.probeVia]),
    [
      ["kprobe", "tracefs"],
      ["kretprobe", "tracefs"],
    ],
  );
  assert.match(res["tracefs"]!.during, /^p:kfunc_kit\/kprobe_do_unlinkat_\d+_\d+ do_unlinkat$/m);
  assert.match(res["tracefs"]!.during, /^r\d*:kfunc_kit\/kretprobe_do_unlinkat_\d+_\d+ do_unlinkat$/m);
  assert.equal(res["tracefs"]!.after, "", "close() removed the tracefs events");
  for (const via of ["pmu", "tracefs"]) {
    assert.equal(
      res[via]!.lines.filter((l) => l.startsWith("kprobe hit")).length,
      1,
      `${via}: one kprobe hit`,
    );
    assert.equal(
      res[via]!.lines.filter((l) => l.startsWith("kretprobe hit")).length,
      1,
      `${via}: one kretprobe hit`,
    );
  }
});
