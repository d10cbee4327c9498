/** Row-by-row comparison of libbpf's and kfunc-kit's results on the corpus, and its markdown table. */
import type { GuestRow } from "./guest-corpus.ts";

/** A row allowed to differ, with why (test/corpus/known-differences.json). */
export interface KnownDifference {
  object: string;
  reason: string;
}

export interface Verdict {
  name: string;
  status: "ok" | "known" | "FAIL";
  libbpfLoaded: boolean;
  kfuncLoaded: boolean;
  libbpfAttached: number;
  kfuncAttached: number;
  libbpfPerf: number;
  kfuncPerf: number;
  note: string;
}

export function compareRows(rows: GuestRow[], known: KnownDifference[]): Verdict[] {
  return rows.map((r) => {
    const problems: string[] = [];
    if (r.libbpf.loaded && !r.kfunc.loaded) problems.push(`kfunc-kit does not load: ${r.kfunc.error}`);
    if (r.libbpf.loaded && r.kfunc.loaded) {
      if (r.libbpf.attached !== r.kfunc.attached)
        problems.push(
          `attached ${r.libbpf.attached} (libbpf) vs ${r.kfunc.attached} (kfunc-kit)${r.kfunc.attachFailures.length ? `; kfunc-kit: ${r.kfunc.attachFailures.join("; ")}` : ""}${r.libbpf.attachFailures.length ? `; libbpf: ${r.libbpf.attachFailures.join("; ")}` : ""}`,
        );
      if (r.libbpf.perfEvents !== r.kfunc.perfEvents)
        problems.push(`perf_event programs attached ${r.libbpf.perfEvents} vs ${r.kfunc.perfEvents}`);
    }
    const k = known.find((x) => x.object === r.name);
    let note = problems.join("; ");
    if (!note && !r.libbpf.loaded)
      note = `${r.kfunc.loaded ? "libbpf does not load (kfunc-kit does)" : "neither loads"}: ${r.libbpf.error ?? "libbpf: ?"}`;
    else if (!note && r.kfunc.attachFailures.length)
      note = `both fail to attach: ${r.kfunc.attachFailures.map((f) => f.split(":")[0]).join(", ")}`;
    const status = problems.length === 0 ? "ok" : k ? "known" : "FAIL";
    return {
      name: r.name,
      status,
      libbpfLoaded: r.libbpf.loaded,
      kfuncLoaded: r.kfunc.loaded,
      libbpfAttached: r.libbpf.attached,
      kfuncAttached: r.kfunc.attached,
      libbpfPerf: r.libbpf.perfEvents,
      kfuncPerf: r.kfunc.perfEvents,
      note: status === "known" ? `${note} — known: ${k!.reason}` : note,
    };
  });
}

const yes = (b: boolean) => (b ? "yes" : "no");

export function formatTable(verdicts: Verdict[], title: string): string {
  const lines = [
    `| object (${title}) | libbpf loads | kfunc-kit loads | attached libbpf / kfunc-kit | perf_event | row | note |`,
    "|---|---|---|---|---|---|---|",
  ];
  for (const v of verdicts)
    lines.push(
      `| ${v.name} | ${yes(v.libbpfLoaded)} | ${yes(v.kfuncLoaded)} | ${v.libbpfAttached} / ${v.kfuncAttached} | ${v.libbpfPerf || v.kfuncPerf ? `${v.libbpfPerf} / ${v.kfuncPerf}` : ""} | ${v.status} | ${v.note.replace(/\|/g, "\\|")} |`,
    );
  const n = (f: (v: Verdict) => boolean) => verdicts.filter(f).length;
  lines.push(
    "",
    `libbpf loads ${n((v) => v.libbpfLoaded)}/${verdicts.length}, kfunc-kit ${n((v) => v.kfuncLoaded)}/${verdicts.length}; rows ok ${n((v) => v.status === "ok")}, known differences ${n((v) => v.status === "known")}, failing ${n((v) => v.status === "FAIL")}.`,
  );
  return lines.join("\n");
}
