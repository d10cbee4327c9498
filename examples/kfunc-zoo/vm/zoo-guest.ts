/**
 * Runs inside the VM (kfunc_zoo.ko already insmod'ed) with kfunc-kit's own loader:
 *   node --import tsx examples/kfunc-zoo/vm/zoo-guest.ts <dir with the compiled zoo objects>
 * Test-runs the syscall programs, attaches the kprobe and fentry programs around three unlinks, and loads
 * the programs the verifier must reject. Emits one `zoo` record (src/qemu/result-channel.ts); the host test asserts on it.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatError, isKfuncKitError } from "../../../src/errors.ts";
import { attach, testRun } from "../../../src/kernel/attach/index.ts";
import { loadObjectFile } from "../../../src/kernel/index.ts";
import { emitResult } from "../../../src/qemu/result-channel.ts";

interface ZooResult {
  testRuns: Record<string, number | string>;
  kprobe: { hits: number; result: string } | string;
  fentry: { hits: number; result: string } | string;
  rejected: Record<string, { loaded: boolean; message: string; hint: string | undefined }>;
  /** The module's kernel log lines (the console runs at loglevel 4, so pr_info only shows here). */
  dmesg: string[];
}

const objDir = process.argv[2] ?? ".";
const result: ZooResult = { testRuns: {}, kprobe: "not run", fentry: "not run", rejected: {}, dmesg: [] };

function describe(e: unknown): string {
  return isKfuncKitError(e) ? formatError(e) : String(e);
}

const SYSCALL_PROGRAMS = [
  "sum_bytes",
  "acquire_release",
  "acquire_null",
  "sleepable",
  "weak_probe",
  "live_objects",
];

const coll = await loadObjectFile(join(objDir, "zoo.bpf.o"));
try {
  for (const name of SYSCALL_PROGRAMS) {
    try {
      // retval is the u32 r0; the programs return small non-negative numbers or -1
      result.testRuns[name] = testRun(coll.program(name)).retval | 0;
    } catch (e) {
      result.testRuns[name] = describe(e);
    }
  }
  const work = mkdtempSync(join(tmpdir(), "zoo-"));
  for (const [name, key] of [
    ["zoo_kprobe", "kprobe"],
    ["zoo_fentry", "fentry"],
  ] as const) {
    try {
      const link = attach(coll.program(name));
      try {
        for (let i = 0; i < 3; i++) {
          const f = join(work, `${key}-${i}`);
          writeFileSync(f, "x");
          rmSync(f);
        }
      } finally {
        link.close();
      }
      const hits = Number(coll.variable(`${key}_hits`).get());
      const value = String(coll.variable(`${key}_result`).get());
      result[key] = { hits, result: value };
    } catch (e) {
      result[key] = describe(e);
    }
  }
  rmSync(work, { recursive: true, force: true });
} finally {
  coll.close();
}

for (const name of ["leak", "null", "prog_type"]) {
  try {
    const c = await loadObjectFile(join(objDir, `zoo_reject_${name}.bpf.o`));
    c.close();
    result.rejected[name] = { loaded: true, message: "", hint: undefined };
  } catch (e) {
    result.rejected[name] = {
      loaded: false,
      message: isKfuncKitError(e) ? e.message : String(e),
      hint: isKfuncKitError(e) ? e.hint : undefined,
    };
  }
}

try {
  result.dmesg = execFileSync("dmesg", { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.includes("kfunc_zoo"));
} catch (e) {
  result.dmesg = [`dmesg failed: ${String(e)}`];
}

emitResult({ type: "zoo", ...result });
