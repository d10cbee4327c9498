/**
 * Runs inside the VM (the module already insmod'ed): loads an object with kfunc-kit's loader, attaches every
 * program, removes three files, and prints the bpf_printk lines of the trace buffer, then `REF-DONE`.
 *   node --import tsx test/module/vm/reference-guest.ts <object.o>
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatError } from "../../../src/errors.ts";
import { attach, clearTrace, readTraceBuffer } from "../../../src/kernel/attach/index.ts";
import { loadObjectFile } from "../../../src/kernel/index.ts";

const object = process.argv[2];
if (!object) throw new Error("usage: reference-guest.ts <object.o>");
try {
  clearTrace();
  const coll = await loadObjectFile(object);
  const links = [...coll.programs.values()].map((p) => attach(p));
  const work = mkdtempSync(join(tmpdir(), "ref-"));
  for (let i = 0; i < 3; i++) {
    const f = join(work, `f${i}`);
    writeFileSync(f, "x");
    rmSync(f);
  }
  for (const l of links) l.close();
  coll.close();
  for (const t of readTraceBuffer()) process.stdout.write(`TRACE ${t.message}\n`);
} catch (e) {
  process.stdout.write(`REF-ERROR ${formatError(e)}\n`);
}
process.stdout.write("REF-DONE\n");
