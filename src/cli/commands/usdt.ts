/**
 * `kfunc usdt list <binary|pid>`: the USDT probes (`.note.stapsdt`) of a binary or shared library, or of
 * every binary a running process has mapped executable.
 */
import type { Command } from "commander";
import type { ObjectSpec } from "../../object/types.ts";
import { printJson } from "../json.ts";

interface ProbeRow {
  provider: string;
  name: string;
  /** Link-time address of the call site (adjusted for .stapsdt.base). */
  address: number;
  fileOffset: number;
  /** Semaphore address, 0 when the probe has none. */
  semaphore: number;
  semaphoreOffset: number;
  args: string;
}

interface BinaryRow {
  path: string;
  type: "exec" | "dyn";
  probes: ProbeRow[];
}

export function register(program: Command): void {
  const usdt = program
    .command("usdt")
    .description("user-space static tracepoints (USDT, <sys/sdt.h> probes)");
  usdt
    .command("list")
    .description("list the USDT probes of a binary or shared library, or of the binaries a process maps")
    .argument("<binary|pid>", "a path, a library name (libfoo.so.1), a program in $PATH, or a process id")
    .option("--json", "print the probes as JSON")
    .action(async (what: string, opts: { json?: boolean }) => {
      await list(what, opts.json === true);
    });
}

const hex = (n: number) => `0x${n.toString(16)}`;

async function list(what: string, json: boolean): Promise<void> {
  const { readUsdtBinary, resolveUsdtBinary, processBinaries } = await import("../../kernel/attach/index.ts");
  const { isKfuncKitError } = await import("../../errors.ts");
  const pid = /^\d+$/.test(what) ? Number(what) : undefined;
  const rows: BinaryRow[] = [];
  const toRow = (b: ReturnType<typeof readUsdtBinary>): BinaryRow => ({
    path: b.path,
    type: b.type,
    probes: b.probes.map((p) => ({
      provider: p.provider,
      name: p.name,
      address: p.address,
      fileOffset: p.fileOffset,
      semaphore: p.semaphoreAddress,
      semaphoreOffset: p.semaphoreOffset,
      args: p.args,
    })),
  });
  if (pid === undefined) {
    rows.push(toRow(readUsdtBinary(resolveUsdtBinary(what))));
  } else {
    for (const path of processBinaries(pid)) {
      try {
        const b = readUsdtBinary(`/proc/${pid}/root${path}`);
        if (b.probes.length) rows.push({ ...toRow(b), path });
      } catch (e) {
        // a mapping that is not an x86-64 ELF (or vanished) has no probes to list
        if (!isKfuncKitError(e)) throw e;
      }
    }
  }
  if (json) {
    printJson(pid === undefined ? rows[0] : { pid, binaries: rows });
    return;
  }
  if (pid !== undefined && rows.length === 0) {
    process.stdout.write(`process ${pid}: no mapped binary has USDT probes\n`);
    return;
  }
  for (const b of rows) {
    const n = b.probes.length;
    process.stdout.write(
      `${b.path} (${b.type === "exec" ? "ET_EXEC" : "ET_DYN"}): ${n} probe call site${n === 1 ? "" : "s"}\n`,
    );
    const width = Math.max(0, ...b.probes.map((p) => p.provider.length + p.name.length + 1));
    for (const p of b.probes) {
      const sema = p.semaphore ? `  semaphore ${hex(p.semaphore)}` : "";
      process.stdout.write(
        `  ${`${p.provider}:${p.name}`.padEnd(width)}  ${hex(p.address).padStart(8)}${sema}  ${p.args || "(no arguments)"}\n`,
      );
    }
  }
}

export interface UsdtAttachment {
  program: string;
  target: { binary: string; provider: string; name: string };
}

/**
 * `kfunc run --usdt [program=]binary:provider:name`: which SEC("usdt…") program goes to which probe. Without
 * `program=`, every bare SEC("usdt") program (of `names`, when given) is attached to the probe.
 */
export async function usdtAttachments(
  obj: string,
  spec: ObjectSpec,
  values: string[],
  names: string[],
): Promise<UsdtAttachment[]> {
  const { UsageError } = await import("../../errors.ts");
  const { parseUsdtTarget } = await import("../../kernel/attach/usdt.ts");
  const isUsdt = (section: string) => /^usdt(\.s)?(\/|$)/.test(section);
  const usdtPrograms = spec.programs.filter((p) => isUsdt(p.section));
  const out: UsdtAttachment[] = [];
  for (const v of values) {
    const m = /^([A-Za-z_][\w.]*)=(.+)$/.exec(v);
    const target = parseUsdtTarget(m ? m[2]! : v);
    if (m) {
      const p = spec.programs.find((x) => x.name === m[1]);
      if (!p || !isUsdt(p.section))
        throw new UsageError(`${obj}: --usdt ${v}: no SEC("usdt") program named '${m[1]}'`, {
          hint: `usdt programs: ${usdtPrograms.map((x) => x.name).join(", ") || "(none)"}`,
        });
      out.push({ program: p.name, target });
      continue;
    }
    const bare = usdtPrograms.filter(
      (p) =>
        (p.section === "usdt" || p.section === "usdt.s") && (names.length === 0 || names.includes(p.name)),
    );
    if (bare.length === 0)
      throw new UsageError(`${obj}: --usdt ${v}: no bare SEC("usdt") program to attach`, {
        hint: usdtPrograms.length
          ? `name one: --usdt ${usdtPrograms[0]!.name}=${v}`
          : 'the object has no SEC("usdt") programs (include <bpf/usdt.bpf.h> and write one)',
      });
    for (const p of bare) out.push({ program: p.name, target });
  }
  return out;
}
