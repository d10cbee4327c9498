/**
 * `.note.stapsdt` parsing (src/elf/notes.ts) and the probes' file offsets (usdt-probes.ts) on binaries gcc
 * builds here: every note readelf -n shows is found with the same provider, name, location, base,
 * semaphore and argument string; a shared library's too; file offsets agree with readelf's program
 * headers; corrupt notes fail with an ElfError naming the offset.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { type ElfFile, loadSegments, parseElf, parseNotes, stapsdtNotes } from "../../src/elf/index.ts";
import { isKfuncKitError } from "../../src/errors.ts";
import { readUsdtBinary } from "../../src/kernel/attach/index.ts";
import { buildTarget } from "./target.ts";

interface ReadelfNote {
  provider: string;
  name: string;
  location: number;
  base: number;
  semaphore: number;
  args: string;
}

function readelfNotes(path: string): ReadelfNote[] {
  const out: ReadelfNote[] = [];
  let cur: Partial<ReadelfNote> = {};
  for (const line of execFileSync("readelf", ["-n", "--wide", path], { encoding: "utf8" }).split("\n")) {
    const t = line.trim();
    const provider = /(?:^|\s)Provider: (.*)$/.exec(t);
    const name = /^Name: (.*)$/.exec(t);
    const loc = /^Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)$/.exec(t);
    const args = /^Arguments: ?(.*)$/.exec(t);
    if (provider) cur = { provider: provider[1]! };
    else if (name) cur.name = name[1]!;
    else if (loc) {
      cur.location = Number(loc[1]);
      cur.base = Number(loc[2]);
      cur.semaphore = Number(loc[3]);
    } else if (args) {
      cur.args = args[1]!;
      out.push(cur as ReadelfNote);
    }
  }
  return out;
}

const elfOf = (path: string): ElfFile => parseElf(new Uint8Array(readFileSync(path)), path);

test("every .note.stapsdt note of the gcc-built target and its library matches readelf -n", () => {
  const t = buildTarget();
  for (const path of [t.exe, t.lib]) {
    const want = readelfNotes(path);
    assert.ok(want.length > 0, `readelf sees notes in ${path}`);
    const got = stapsdtNotes(elfOf(path));
    assert.deepEqual(
      got.map((n) => ({
        provider: n.provider,
        name: n.name,
        location: n.pc,
        base: n.base,
        semaphore: n.semaphore,
        args: n.args,
      })),
      want,
      path,
    );
    // not prelinked: .stapsdt.base is where the notes say, so nothing moves
    for (const n of got) {
      assert.equal(n.address, n.pc);
      assert.equal(n.semaphoreAddress, n.semaphore);
    }
  }
  const names = stapsdtNotes(elfOf(t.exe)).map((n) => `${n.provider}:${n.name}`);
  for (const p of [
    "regs",
    "mem",
    "consts",
    "dtrace",
    "none",
    "sib",
    "stack",
    "frame",
    "glob",
    "sema",
    "sema_dtrace",
  ])
    assert.ok(names.includes(`kk:${p}`), `kk:${p} in ${names.join(", ")}`);
  assert.equal(names.filter((n) => n === "kk:twice").length, 2, "two call sites of kk:twice");
});

test("probe and semaphore file offsets follow readelf's PT_LOAD segments", () => {
  const t = buildTarget();
  const phdrs = execFileSync("readelf", ["-lW", t.exe], { encoding: "utf8" })
    .split("\n")
    .filter((l) => /^\s+LOAD\s/.test(l))
    .map((l) => {
      const f = l.trim().split(/\s+/);
      return {
        offset: Number(f[1]),
        vaddr: Number(f[2]),
        memsz: Number(f[5]),
        flags: f.slice(6, -1).join(""),
      };
    });
  const segs = loadSegments(elfOf(t.exe));
  assert.deepEqual(
    segs.map((s) => ({ offset: s.offset, vaddr: s.vaddr, memsz: s.memsz })),
    phdrs.map((p) => ({ offset: p.offset, vaddr: p.vaddr, memsz: p.memsz })),
  );
  const bin = readUsdtBinary(t.exe);
  assert.equal(bin.type, "dyn", "gcc on Debian links PIE");
  for (const p of bin.probes) {
    const seg = phdrs.find((s) => s.vaddr <= p.address && p.address < s.vaddr + s.memsz)!;
    assert.match(seg.flags, /E/, `${p.id} is in an executable segment`);
    assert.equal(p.fileOffset, p.address - seg.vaddr + seg.offset, p.id);
    if (p.semaphoreAddress) {
      const ss = phdrs.find((s) => s.vaddr <= p.semaphoreAddress && p.semaphoreAddress < s.vaddr + s.memsz)!;
      assert.equal(p.semaphoreOffset, p.semaphoreAddress - ss.vaddr + ss.offset, `${p.id} semaphore`);
      // the semaphore is the 2-byte variable named <provider>_<name>_semaphore
      const sym = execFileSync("nm", [t.exe], { encoding: "utf8" })
        .split("\n")
        .find((l) => l.endsWith(` ${p.provider}_${p.name}_semaphore`));
      assert.ok(sym, `nm lists ${p.provider}_${p.name}_semaphore`);
      assert.equal(Number.parseInt(sym.split(" ")[0]!, 16), p.semaphoreAddress);
    } else assert.equal(p.semaphoreOffset, 0);
  }
  assert.deepEqual(
    bin.probes.filter((p) => p.semaphoreAddress).map((p) => p.id),
    ["kk:sema", "kk:sema_dtrace"],
  );
});

test("a binary without probes has no notes; a corrupt note is an ElfError with its offset", () => {
  assert.deepEqual(stapsdtNotes(elfOf("/bin/true")), []);
  const t = buildTarget();
  const bytes = new Uint8Array(readFileSync(t.exe));
  const elf = parseElf(bytes, "corrupt");
  const sec = elf.section(".note.stapsdt")!;
  const notes = parseNotes(elf, sec);
  assert.equal(notes.length, stapsdtNotes(elf).length);
  // make the first note's descriptor size run past the section
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(sec.offset + 4, sec.size + 100, true);
  assert.throws(
    () => stapsdtNotes(parseElf(copy, "corrupt")),
    (e: unknown) =>
      isKfuncKitError(e) &&
      e.code === "ELF" &&
      /corrupt: offset \d+: note in '\.note\.stapsdt' runs past/.test(e.message),
  );
  // a provider name without its NUL
  const copy2 = bytes.slice();
  const d = notes[0]!;
  const descAt = d.desc.byteOffset - bytes.byteOffset;
  copy2.fill(0x41, descAt + 24, descAt + d.desc.length);
  assert.throws(
    () => stapsdtNotes(parseElf(copy2, "corrupt")),
    (e: unknown) => isKfuncKitError(e) && /stapsdt note: provider name is not NUL-terminated/.test(e.message),
  );
});
