/**
 * `kfunc run <obj.o>`: load an eBPF object, attach its programs, stream trace_pipe lines and/or ring
 * buffer records until Ctrl-C, SIGTERM or --duration, then detach and optionally print the maps.
 */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import type { BtfValue } from "../../btf/codec.ts";

interface RunOptions {
  program?: string[];
  trace?: boolean;
  ringbuf?: string[];
  ringbufType?: string;
  duration?: string;
  dumpMaps?: boolean;
  global?: string[];
  usdt?: string[];
  pid?: string;
  json?: boolean;
  pinRoot?: string;
}

export function register(program: Command): void {
  program
    .command("run")
    .description("load an eBPF object, attach its programs and stream their output until Ctrl-C")
    .argument("<obj>", "eBPF object (clang -target bpf -g)")
    .option("-p, --program <name...>", "attach only these programs (default: every attachable one)")
    .option("--trace", "stream bpf_printk() lines from trace_pipe")
    .option("--ringbuf <map...>", "stream records of these BPF_MAP_TYPE_RINGBUF maps")
    .option("--ringbuf-type <struct>", "decode ring buffer records as this struct of the object's BTF")
    .option("-d, --duration <seconds>", "detach and exit after this many seconds")
    .option("--dump-maps", "print every map's contents after detaching")
    .option(
      "-g, --global <name=value...>",
      "set a global (.rodata/.data/.bss) before load, e.g. -g target_pid=42",
    )
    .option(
      "--usdt <[program=]binary:provider:name...>",
      'attach SEC("usdt") programs (all bare ones, or the named one) to this USDT probe',
    )
    .option("--pid <pid>", "uprobe, usdt (and iter/task): only this process")
    .option("--json", "one JSON object per line on stdout (events, then maps)")
    .option("--pin-root <dir>", "bpffs dir for maps pinned by name (default /sys/fs/bpf)")
    .action(async (obj: string, opts: RunOptions) => {
      await run(obj, opts);
    });
}

function emitJson(value: unknown): void {
  process.stdout.write(
    `${JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}\n`,
  );
}

function show(v: BtfValue): string {
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === "bigint" ? x.toString() : x instanceof Uint8Array ? Buffer.from(x).toString("hex") : x,
  );
}

function parseGlobal(s: string): [string, string] {
  const i = s.indexOf("=");
  return i <= 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)];
}

async function run(obj: string, opts: RunOptions): Promise<void> {
  const { UsageError } = await import("../../errors.ts");
  const { readBpfObject } = await import("../bpf-object.ts");
  const { parseObject } = await import("../../object/index.ts");
  const { loadCollection, setGlobal, getGlobal } = await import("../../kernel/index.ts");
  const { attachAll, describePerfEvent, isAutoAttachable, notAttachableReason, closeAll } = await import(
    "../../kernel/attach/index.ts"
  );
  const { createProgress } = await import("../progress.ts");
  const progress = createProgress({ quiet: opts.json === true });

  const { secondsOption } = await import("../options.ts");
  const durationMs = opts.duration === undefined ? undefined : secondsOption("--duration", opts.duration);
  if (!existsSync(obj))
    throw new UsageError(`object '${obj}' does not exist`, { hint: "build it first: kfunc build" });
  const spec = parseObject(await readBpfObject(obj, "run"), obj);
  const known = spec.programs.map((p) => p.name);
  const names = opts.program ?? [];
  for (const n of names) {
    if (!known.includes(n)) {
      throw new UsageError(`${obj}: no program named '${n}'`, {
        hint: `programs: ${known.join(", ") || "(none)"}`,
      });
    }
  }
  for (const m of opts.ringbuf ?? []) {
    const ms = spec.maps.find((x) => x.name === m);
    if (ms?.type.id !== 27) {
      const rbs = spec.maps.filter((x) => x.type.id === 27).map((x) => x.name);
      throw new UsageError(`${obj}: no BPF_MAP_TYPE_RINGBUF map named '${m}'`, {
        hint: `ring buffers: ${rbs.join(", ") || "(none)"}`,
      });
    }
  }
  let recordType: number | undefined;
  if (opts.ringbufType) {
    const t = spec.btf?.findByName(opts.ringbufType, "STRUCT");
    if (!t)
      throw new UsageError(`${obj}: no struct '${opts.ringbufType}' in the object's BTF`, {
        hint: "a struct only used by local variables is not in BTF: reference it from a global (e.g. `struct event *unused;`)",
      });
    recordType = t.id;
  }
  for (const g of opts.global ?? []) {
    const [name, raw] = parseGlobal(g);
    if (!g.includes("="))
      throw new UsageError(`-g '${g}': expected name=value`, { hint: "e.g. -g target_pid=42" });
    const current = getGlobal(spec, name);
    const value = typeof current === "string" ? raw : /^-?\d+$/.test(raw) ? BigInt(raw) : raw;
    const v =
      typeof value === "bigint" &&
      value <= BigInt(Number.MAX_SAFE_INTEGER) &&
      value >= BigInt(Number.MIN_SAFE_INTEGER)
        ? Number(value)
        : value;
    setGlobal(spec, name, v);
    // the variable's type decides what fits: a value that came back different was truncated or wrapped
    const back = getGlobal(spec, name);
    const same =
      typeof back === "boolean"
        ? (v === 0 || v === 1) && back === (v === 1)
        : typeof back === "number" || typeof back === "bigint"
          ? (typeof v === "number" || typeof v === "bigint") && BigInt(back) === BigInt(v)
          : typeof back === "string"
            ? back === v
            : true;
    if (!same)
      throw new UsageError(
        `-g ${name}=${raw}: the value does not fit the variable (it would become ${show(back)})`,
        {
          hint: "give a value in the variable's range (its C type is in the object's BTF: kfunc inspect)",
        },
      );
  }
  const { usdtAttachments } = await import("./usdt.ts");
  const pid = opts.pid === undefined ? undefined : Number(opts.pid);
  if (pid !== undefined && !(Number.isInteger(pid) && pid > 0))
    throw new UsageError(`--pid '${opts.pid}' is not a process id`);
  const usdt = await usdtAttachments(obj, spec, opts.usdt ?? [], names);
  const toLoad = [
    ...new Set([
      ...(names.length > 0
        ? names
        : spec.programs
            .filter((p) => p.autoload && (isAutoAttachable(p.section) || p.section === "perf_event"))
            .map((p) => p.name)),
      ...usdt.map((u) => u.program),
    ]),
  ];
  for (const p of spec.programs) {
    if (names.length === 0 && !toLoad.includes(p.name))
      progress.note(
        `skipping ${p.name} (${p.section}): ${p.autoload ? notAttachableReason(p.section) : 'autoload off (SEC("?…")): name it with --program'}`,
      );
  }
  if (toLoad.length === 0) {
    throw new UsageError(`${obj}: no program to attach`, {
      hint: "name one with --program, or use kfunc test-run for xdp/tc/socket/syscall programs",
    });
  }

  const { requireBpfPrivilege } = await import("../privilege.ts");
  requireBpfPrivilege("run");
  const { checkPinRoot } = await import("../pin-root.ts");
  const pinPath = checkPinRoot(spec, opts.pinRoot);
  // while these handlers are installed, the CLI's exit handlers (registry.ts) leave detaching and the
  // map dump to us
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  progress.step(`loading ${obj}`);
  let coll: Awaited<ReturnType<typeof loadCollection>>;
  try {
    coll = await loadCollection(spec, { programs: toLoad, pinPath });
  } catch (e) {
    process.removeListener("SIGINT", stop);
    process.removeListener("SIGTERM", stop);
    progress.fail(`loading ${obj} failed`);
    throw e;
  }
  const links: import("../../kernel/links.ts").Link[] = [];
  const rings: import("../../kernel/ringbuf.ts").RingBuffer[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    progress.succeed(`loaded ${coll.programs.size} program(s), ${coll.maps.size} map(s)`);
    for (const p of coll.programs.values())
      if (p.section === "perf_event")
        progress.note(`perf_event program ${p.name}: sampling ${describePerfEvent()} (the default)`);
    const viaUsdt = new Set(usdt.map((u) => u.program));
    const others = toLoad.filter((n) => !viaUsdt.has(n));
    if (others.length)
      links.push(...attachAll(coll.programs, others, pid !== undefined ? { pid } : {}).links);
    const { attachUsdt } = await import("../../kernel/attach/usdt.ts");
    for (const u of usdt)
      links.push(attachUsdt(coll.program(u.program), { ...u.target, ...(pid !== undefined ? { pid } : {}) }));
    for (const l of links) {
      const via = `${l.info.probeVia ? `, ${l.info.probeVia}` : ""}${l.info.sites ? `, ${l.info.sites} call site(s)` : ""}`;
      progress.note(
        `attached ${l.info.program} → ${l.info.kind} ${l.info.target} (${l.info.mechanism}${via})`,
      );
      if (opts.json) emitJson({ type: "attached", ...l.info });
    }
    const { RingBuffer } = await import("../../kernel/ringbuf.ts");
    for (const m of opts.ringbuf ?? [])
      rings.push(
        new RingBuffer(
          coll.map(m),
          recordType ? { typeId: recordType, ...(spec.btf ? { btf: spec.btf } : {}) } : {},
        ),
      );

    if (durationMs !== undefined) timer = setTimeout(stop, durationMs);
    progress.note(
      `running${opts.trace ? ", streaming trace_pipe" : ""}${rings.length ? `, reading ${rings.length} ring buffer(s)` : ""}; ${durationMs ? `stopping after ${opts.duration} s` : "Ctrl-C to stop"}`,
    );

    if (opts.json) emitJson({ type: "running", durationMs: durationMs ?? null });
    const tasks: Promise<void>[] = [];
    if (opts.trace) {
      const { tracePipe } = await import("../../kernel/trace-pipe.ts");
      tasks.push(
        (async () => {
          for await (const l of tracePipe({ signal: ac.signal })) {
            if (opts.json) emitJson({ type: "trace", ...l });
            else
              process.stdout.write(
                `${l.task}-${l.pid} [${String(l.cpu).padStart(3, "0")}] ${l.timestamp.toFixed(6)}: ${l.message}\n`,
              );
          }
        })(),
      );
    }
    for (const rb of rings) {
      tasks.push(
        (async () => {
          for await (const r of rb.records({ signal: ac.signal })) {
            const value = recordType ? rb.decode(r) : r.slice();
            if (opts.json)
              emitJson({
                type: "record",
                map: rb.map.name,
                value: value instanceof Uint8Array ? Buffer.from(value).toString("hex") : value,
              });
            else process.stdout.write(`${rb.map.name}: ${show(value)}\n`);
          }
        })(),
      );
    }
    if (tasks.length === 0)
      tasks.push(new Promise<void>((resolve) => ac.signal.addEventListener("abort", () => resolve())));
    await Promise.all(tasks);
  } finally {
    if (timer) clearTimeout(timer);
    process.removeListener("SIGINT", stop);
    process.removeListener("SIGTERM", stop);
    for (const rb of rings) rb.close();
    closeAll(links);
    if (links.length) progress.note(`detached ${links.length} program(s)`);
    if (opts.dumpMaps) dumpMaps(coll, opts.json === true);
    coll.close();
  }
}

function dumpMaps(coll: import("../../kernel/collection.ts").Collection, json: boolean): void {
  const STREAMS = new Set([4, 27, 3, 12, 13]); // perf event array, ringbuf, prog array, maps of maps
  const out: Record<string, Array<{ key: BtfValue; value: BtfValue }>> = {};
  /** Maps read one element per syscall because BPF_MAP_LOOKUP_BATCH is missing: why. */
  const elementwise: Record<string, string> = {};
  for (const [name, m] of coll.maps) {
    if (STREAMS.has(m.type) || m.keySize === 0 || name.startsWith(".")) continue;
    const entries: Array<{ key: BtfValue; value: BtfValue }> = [];
    for (const [key, value] of m.entries()) entries.push({ key, value });
    out[name] = entries;
    if (m.batchFallback) elementwise[name] = m.batchFallback;
  }
  const globals: Record<string, BtfValue> = {};
  for (const [name, v] of coll.variables) if (!v.section.startsWith(".rodata")) globals[name] = v.get();
  if (json) {
    emitJson({
      type: "maps",
      maps: out,
      globals,
      ...(Object.keys(elementwise).length ? { elementwise } : {}),
    });
    return;
  }
  for (const [name, value] of Object.entries(globals))
    process.stdout.write(`global ${name} = ${show(value)}\n`);
  for (const [name, entries] of Object.entries(out)) {
    const how = elementwise[name] ? `, read element by element: ${elementwise[name]}` : "";
    process.stdout.write(`map ${name} (${entries.length} entr${entries.length === 1 ? "y" : "ies"}${how})\n`);
    for (const e of entries) process.stdout.write(`  ${show(e.key)} → ${show(e.value)}\n`);
  }
}
