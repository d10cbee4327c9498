/** Human-readable rendering of inspect reports. */
import type { ModuleReport, ObjectReport } from "./report.ts";

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

export function formatObjectReport(r: ObjectReport): string {
  const out: string[] = [`${r.file}: eBPF object, license "${r.license}"`];
  out.push("", `programs (${r.programs.length}):`);
  for (const p of r.programs) {
    const attach = p.expectedAttachType ? ` ${p.expectedAttachType}` : "";
    out.push(
      `  ${p.name}  SEC("${p.autoload ? "" : "?"}${p.section}")  ${p.type}${attach}${p.sleepable ? " sleepable" : ""}` +
        (p.autoload ? "" : "  (autoload off: loaded only when named)"),
      `    attach target: ${p.attachTarget ?? "-"}; ${p.instructions} instructions` +
        (p.subprograms.length ? `; subprograms: ${p.subprograms.join(", ")}` : "") +
        (p.kfuncCalls.length ? `; calls kfuncs: ${p.kfuncCalls.join(", ")}` : "") +
        (p.coreRelocations ? `; ${p.coreRelocations} CO-RE relocations` : ""),
    );
  }
  out.push("", `maps (${r.maps.length}):`);
  for (const m of r.maps) {
    const kv =
      m.keyType || m.valueType
        ? ` key ${m.keyType ?? `${m.keySize} bytes`}, value ${m.valueType ?? `${m.valueSize} bytes`}`
        : ` key ${m.keySize} bytes, value ${m.valueSize} bytes`;
    out.push(
      `  ${m.name}  ${m.type}${kv}, max_entries ${m.maxEntries}` +
        (m.flags ? `, flags ${hex(m.flags)}` : "") +
        (m.pinned ? ", pinned by name" : "") +
        (m.innerMap ? `, inner ${m.innerMap}` : "") +
        (m.initialValues.length ? `, values ${m.initialValues.join(", ")}` : ""),
    );
  }
  out.push("", `globals (${r.globals.length} sections):`);
  for (const g of r.globals) {
    out.push(`  ${g.section}  ${g.size} bytes${g.readonly ? ", read-only" : ""}`);
    for (const v of g.variables)
      out.push(`    +${v.offset}  ${v.type ? `${v.type} ` : ""}${v.name} (${v.size} bytes)`);
  }
  out.push("", `kfuncs (${r.kfuncs.length}):`);
  for (const k of r.kfuncs)
    out.push(
      `  ${k.prototype}${k.weak ? "  __weak" : ""}${k.lookupName !== k.name ? `  (looked up as ${k.lookupName})` : ""}`,
    );
  if (r.ksyms.length) {
    out.push("", `ksyms (${r.ksyms.length}):`);
    for (const k of r.ksyms) out.push(`  ${k.declaration}${k.weak ? "  __weak" : ""}`);
  }
  if (r.kconfig.length) {
    out.push("", `kconfig (${r.kconfig.length}):`);
    for (const k of r.kconfig)
      out.push(`  ${k.declaration}${k.weak ? "  __weak" : ""}  (.kconfig+${k.offset})`);
  }
  const kinds = Object.entries(r.coreRelocations.byKind)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  out.push("", `CO-RE relocations: ${r.coreRelocations.total}${kinds ? ` (${kinds})` : ""}`);
  return out.join("\n");
}

export function formatModuleReport(r: ModuleReport): string {
  const out: string[] = [`${r.file}: kernel module '${r.name ?? "?"}'`];
  if (r.vermagic) out.push(`  vermagic: ${r.vermagic.trim()}`);
  out.push(
    `  BTF: ${r.hasBtf ? `yes${r.hasDistilledBase ? " (with distilled base .BTF.base)" : ""}` : "NO (.BTF missing: kbuild found no vmlinux; the kfuncs will not be registered)"}`,
  );
  if (r.base) out.push(`  base BTF: ${r.base}`);
  if (r.baseProblem) out.push(`  cannot print prototypes: ${r.baseProblem}`);
  out.push("", `kfunc id sets (${r.kfuncSets.length}):`);
  for (const s of r.kfuncSets) {
    out.push(
      `  ${s.name} (${s.kind}${s.flags ? `, flags ${hex(s.flags)}` : ""}): ${s.resolved ? "ids resolved" : "ids NOT resolved (resolve_btfids did not run: module built without BTF)"}`,
    );
    for (const f of s.functions)
      out.push(`    [${f.id}] ${f.prototype ?? f.name}${f.flags ? `  flags ${hex(f.flags)}` : ""}`);
  }
  return out.join("\n");
}
