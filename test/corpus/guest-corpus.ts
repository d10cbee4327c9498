/**
 * Runs inside the guest (bundled by test/helpers/guest-bundle.ts): for every object, libbpf's answer (the C
 * loader, all objects in one process) and kfunc-kit's (in this process): load, then attach every
 * auto-attachable program and, for SEC("perf_event"), the CPU clock on every CPU. Both sides also report
 * their load times (`repeat` loads per object; the benchmark asks for several).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { attach, attachPerfEvent, isAutoAttachable } from "../../src/kernel/attach/index.ts";
import { loadCollection } from "../../src/kernel/index.ts";
import { parseObject } from "../../src/object/index.ts";

export interface GuestInput {
  objects: Array<{ name: string; path: string }>;
  loader: string;
  repeat: number;
  /** Skip the attach step (the benchmark only loads). */
  loadOnly?: boolean;
}

export interface SideResult {
  loaded: boolean;
  error?: string;
  attached: number;
  perfEvents: number;
  /** Programs whose attach failed, with why. */
  attachFailures: string[];
  loadMs: number[];
}

export interface GuestRow {
  name: string;
  libbpf: SideResult;
  kfunc: SideResult;
}

interface LibbpfLine {
  object: string;
  loadMs: number[];
  loaded: boolean;
  error?: string;
  programs: Array<{ name: string; attach: string; error?: string }>;
  attached: number;
  perfEvents: number;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0]!.slice(0, 300);
}

function libbpfSide(input: GuestInput): Map<string, SideResult> {
  const out = new Map<string, SideResult>();
  const run = (paths: string[]) => {
    const r = spawnSync(input.loader, ["-n", String(input.repeat), ...paths], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    for (const line of r.stdout.split("\n")) {
      if (!line.startsWith("{")) continue;
      let j: LibbpfLine;
      try {
        j = JSON.parse(line) as LibbpfLine;
      } catch {
        continue; // a line cut short by a crash
      }
      out.set(j.object, {
        loaded: j.loaded,
        ...(j.error ? { error: j.error } : {}),
        attached: j.attached,
        perfEvents: j.perfEvents,
        attachFailures: j.programs
          .filter((p) => p.attach === "failed" || p.attach === "perf_event failed")
          .map((p) => `${p.name}: ${p.error ?? p.attach}`),
        loadMs: j.loadMs,
      });
    }
    return r;
  };
  const r = run(input.objects.map((o) => o.path));
  // a crash in libbpf on one object must not lose the others: run the missing ones one by one
  for (const o of input.objects) {
    if (out.has(o.path)) continue;
    const one = run([o.path]);
    if (!out.has(o.path))
      out.set(o.path, {
        loaded: false,
        error: `libbpf loader died (${one.signal ?? one.status ?? r.status}): ${one.stderr.trim().split("\n").at(-1) ?? ""}`,
        attached: 0,
        perfEvents: 0,
        attachFailures: [],
        loadMs: [],
      });
  }
  return out;
}

async function kfuncSide(path: string, input: GuestInput): Promise<SideResult> {
  const loadMs: number[] = [];
  const res: SideResult = { loaded: false, attached: 0, perfEvents: 0, attachFailures: [], loadMs };
  for (let i = 0; i < input.repeat; i++) {
    const t0 = performance.now();
    let coll: Awaited<ReturnType<typeof loadCollection>>;
    try {
      coll = await loadCollection(parseObject(new Uint8Array(readFileSync(path)), path));
    } catch (e) {
      loadMs.push(performance.now() - t0);
      res.error = firstLine(e);
      return res;
    }
    loadMs.push(performance.now() - t0);
    res.loaded = true;
    if (i === input.repeat - 1 && !input.loadOnly) {
      for (const p of coll.programs.values()) {
        try {
          if (p.section === "perf_event") {
            attachPerfEvent(p).close();
            res.perfEvents++;
          } else if (isAutoAttachable(p.section)) {
            attach(p).close();
            res.attached++;
          }
        } catch (e) {
          res.attachFailures.push(`${p.name}: ${firstLine(e)}`);
        }
      }
    }
    coll.close();
  }
  return res;
}

/**
 * libbpf reads CONFIG_* from /boot/config-$(uname -r) or /proc/config.gz; the guest has neither (Debian
 * kernels have no IKCONFIG, /boot is the host's). Put the booted kernel's own config there, on a tmpfs of
 * this throwaway guest, so libbpf answers kconfig externs as it would on that kernel installed.
 */
function bootConfigForLibbpf(): void {
  const cfg = process.env["KFUNC_KIT_KCONFIG"];
  const target = `/boot/config-${release()}`;
  if (!cfg || !existsSync(cfg) || existsSync(target)) return;
  const m = spawnSync("mount", ["-t", "tmpfs", "tmpfs", "/boot"], { encoding: "utf8" });
  if (m.status !== 0) throw new Error(`mount tmpfs on /boot: ${m.stderr}`);
  copyFileSync(cfg, target);
}

export async function runCorpus(input: GuestInput): Promise<GuestRow[]> {
  bootConfigForLibbpf();
  const libbpf = libbpfSide(input);
  const rows: GuestRow[] = [];
  for (const o of input.objects)
    rows.push({ name: o.name, libbpf: libbpf.get(o.path)!, kfunc: await kfuncSide(o.path, input) });
  return rows;
}

/** What the corpus lacks, checked on kfunc-kit's own fixtures: values, not only "it loaded". */
export interface OwnChecks {
  kconfig: Record<string, unknown> | string;
  kptr: Record<string, unknown> | string;
  perfEventSamples: number | string;
  autoload: string[] | string;
  linuxHas: Record<string, unknown> | string;
}

async function check<T>(fn: () => Promise<T>): Promise<T | string> {
  try {
    return await fn();
  } catch (e) {
    return `error: ${firstLine(e)}`;
  }
}

export async function ownChecks(paths: Record<string, string>): Promise<OwnChecks> {
  const { testRun } = await import("../../src/kernel/test-run.ts");
  const load = (name: string) => {
    const p = paths[name]!;
    return loadCollection(parseObject(new Uint8Array(readFileSync(p)), p));
  };
  return {
    kconfig: await check(async () => {
      using coll = await load("load-kconfig");
      testRun(coll.program("read_config"));
      return {
        syscall_on: coll.variable("syscall_on").get(),
        absent: coll.variable("absent").get(),
        file: process.env["KFUNC_KIT_KCONFIG"] ?? null,
      };
    }),
    kptr: await check(async () => {
      using coll = await load("load-kptr-globals");
      coll.variable("stashed").set(41);
      const retval = testRun(coll.program("stash_task")).retval;
      return { retval, stashed: coll.variable("stashed").get(), plain: coll.variable("plain").get() };
    }),
    perfEventSamples: await check(async () => {
      using coll = await load("attach-perf-event");
      const link = attachPerfEvent(coll.program("on_sample"), { sampleFreq: 1000 });
      const end = Date.now() + 20_000;
      let x = 0;
      while (Number(coll.variable("total").get()) < 3 && Date.now() < end)
        for (let i = 0; i < 1e6; i++) x += i;
      link.close();
      return x >= 0 ? Number(coll.variable("total").get()) : 0;
    }),
    autoload: await check(async () => {
      using coll = await load("load-autoload");
      return [...coll.programs.keys()];
    }),
    linuxHas: await check(async () => {
      using coll = await load("load-autoload");
      testRun(coll.program("read_kconfig"));
      return { cookie: coll.variable("cookie").get(), wrapper: coll.variable("wrapper").get() };
    }),
  };
}

export interface BenchRow {
  name: string;
  libbpf: { loaded: boolean; loadMs: number[] };
  kfunc: { loaded: boolean; loadMs: number[] };
}

/**
 * The benchmark: `passes` passes over the corpus; in each, every object is loaded (open/parse + load, no
 * attach) by the one libbpf process (`-L -i`, fed paths on stdin) and by this process, alternating which
 * side goes first, so that both see the same machine load.
 */
export async function benchCorpus(input: {
  objects: GuestInput["objects"];
  loader: string;
  passes: number;
}): Promise<BenchRow[]> {
  const { spawn } = await import("node:child_process");
  const { createInterface } = await import("node:readline");
  bootConfigForLibbpf();
  const child = spawn(input.loader, ["-L", "-i"], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const libbpfLoad = async (path: string): Promise<{ loaded: boolean; ms: number }> => {
    child.stdin!.write(`${path}\n`);
    const next = await lines.next();
    if (next.done) throw new Error("the libbpf loader exited");
    const j = JSON.parse(next.value) as LibbpfLine;
    return { loaded: j.loaded, ms: j.loadMs[0]! };
  };
  const kfuncLoad = async (path: string): Promise<{ loaded: boolean; ms: number }> => {
    const t0 = performance.now();
    try {
      const coll = await loadCollection(parseObject(new Uint8Array(readFileSync(path)), path));
      const ms = performance.now() - t0;
      coll.close();
      return { loaded: true, ms };
    } catch {
      return { loaded: false, ms: performance.now() - t0 };
    }
  };
  const rows: BenchRow[] = input.objects.map((o) => ({
    name: o.name,
    libbpf: { loaded: true, loadMs: [] },
    kfunc: { loaded: true, loadMs: [] },
  }));
  for (let pass = 0; pass < input.passes; pass++) {
    for (const [i, o] of input.objects.entries()) {
      const row = rows[i]!;
      const sides: Array<["libbpf" | "kfunc", (p: string) => Promise<{ loaded: boolean; ms: number }>]> = [
        ["libbpf", libbpfLoad],
        ["kfunc", kfuncLoad],
      ];
      if ((pass + i) % 2) sides.reverse();
      for (const [side, load] of sides) {
        const r = await load(o.path);
        row[side].loaded &&= r.loaded;
        row[side].loadMs.push(r.ms);
      }
    }
  }
  child.stdin!.end();
  return rows;
}
