/**
 * USDT discovery: the probes of a binary or shared library (its `.note.stapsdt` notes, with the file
 * offsets a uprobe needs), the binaries a process has mapped, and the path resolution libbpf uses for
 * `bpf_program__attach_usdt` (a bare library name through the library path, a bare program name through
 * $PATH).
 */
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import {
  type ElfFile,
  type ElfSegment,
  EM_X86_64,
  ET_DYN,
  ET_EXEC,
  loadSegments,
  PF_X,
  parseElf,
  type StapsdtNote,
  segmentAt,
  stapsdtNotes,
} from "../../elf/index.ts";
import { ElfError, UsageError } from "../../errors.ts";
import { resolveBinary } from "./symbols.ts";

export interface UsdtProbe extends StapsdtNote {
  /** "provider:name" */
  id: string;
  /** The probe's file offset (what the uprobe is placed at). */
  fileOffset: number;
  /** The semaphore's file offset, 0 when the probe has none (what the kernel's ref_ctr_offset wants). */
  semaphoreOffset: number;
}

export interface UsdtBinary {
  path: string;
  /** "exec" (ET_EXEC: addresses are absolute) or "dyn" (ET_DYN: PIE executables and shared libraries). */
  type: "exec" | "dyn";
  probes: UsdtProbe[];
  elf: ElfFile;
  segments: ElfSegment[];
}

function probeError(path: string, n: StapsdtNote, what: string): never {
  throw new ElfError(
    path,
    undefined,
    `USDT probe '${n.provider}:${n.name}' at 0x${n.address.toString(16)}: ${what}`,
    {
      hint: "the probe notes do not match the binary's segments: is the file stripped or rewritten after linking?",
    },
  );
}

/** Parses `path` (already resolved) and returns its USDT probes with their file offsets. */
export function readUsdtBinary(path: string): UsdtBinary {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new UsageError(`USDT binary '${path}': cannot read it`, { cause: e });
  }
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46)
    throw new UsageError(`USDT binary '${path}' is not an ELF executable or shared library`, {
      hint: "give the program or library that contains the probes (for scripts: the interpreter, e.g. /usr/bin/python3)",
    });
  const elf = parseElf(bytes, path);
  if (elf.type !== ET_EXEC && elf.type !== ET_DYN)
    throw new ElfError(path, 16, `ELF type ${elf.type} is not an executable or shared library`, {
      hint: "USDT probes are attached in linked programs and libraries, not in object files",
    });
  if (elf.machine !== EM_X86_64)
    throw new ElfError(
      path,
      18,
      `machine ${elf.machine} is not x86-64, the only USDT architecture supported`,
    );
  const segments = loadSegments(elf);
  const probes: UsdtProbe[] = [];
  for (const n of stapsdtNotes(elf)) {
    const seg = segmentAt(segments, n.address);
    if (!seg) probeError(path, n, "no loadable segment holds its address");
    if (!(seg.flags & PF_X)) probeError(path, n, "its address is not in an executable segment");
    let semaphoreOffset = 0;
    if (n.semaphoreAddress) {
      const s = segmentAt(segments, n.semaphoreAddress);
      if (!s)
        probeError(path, n, `no loadable segment holds its semaphore 0x${n.semaphoreAddress.toString(16)}`);
      if (s.flags & PF_X) probeError(path, n, "its semaphore is in an executable segment");
      semaphoreOffset = n.semaphoreAddress - s.vaddr + s.offset;
    }
    probes.push({
      ...n,
      id: `${n.provider}:${n.name}`,
      fileOffset: n.address - seg.vaddr + seg.offset,
      semaphoreOffset,
    });
  }
  return { path, type: elf.type === ET_EXEC ? "exec" : "dyn", probes, elf, segments };
}

function isLibraryName(name: string): boolean {
  return name.endsWith(".so") || name.includes(".so.");
}

/**
 * libbpf's resolution of a USDT binary: a path is used as it is; "libfoo.so.1" is searched like the
 * dynamic linker would; any other bare name ("java") is searched in $PATH.
 */
export function resolveUsdtBinary(binary: string): string {
  if (binary.includes("/")) {
    if (!existsSync(binary)) throw new UsageError(`USDT binary '${binary}' does not exist`);
    return binary;
  }
  if (isLibraryName(binary)) return resolveBinary(binary);
  const dirs = (process.env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(delimiter).filter(Boolean);
  for (const d of dirs) {
    const p = join(d, binary);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not in this directory
    }
  }
  throw new UsageError(`USDT binary '${binary}': not found in $PATH`, {
    hint: "give the binary's path, or a library name like libfoo.so.1",
  });
}

export interface ProcessMapping {
  start: number;
  end: number;
  /** "r-xp"… */
  perms: string;
  /** File offset of the mapping's start. */
  offset: number;
  path: string;
}

/** The file-backed mappings of a process (/proc/<pid>/maps), or an error naming the pid. */
export function processMappings(pid: number): ProcessMapping[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/maps`, "utf8");
  } catch (e) {
    throw new UsageError(`process ${pid}: cannot read /proc/${pid}/maps`, {
      cause: e,
      hint: "is the pid right and the process still running?",
    });
  }
  const out: ProcessMapping[] = [];
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+([0-9a-f]+)\s+\S+\s+\d+\s+(\/.*)$/.exec(line);
    if (!m) continue;
    out.push({
      start: Number.parseInt(m[1]!, 16),
      end: Number.parseInt(m[2]!, 16),
      perms: m[3]!,
      offset: Number.parseInt(m[4]!, 16),
      path: m[5]!.replace(/ \(deleted\)$/, ""),
    });
  }
  return out;
}

/** The distinct files a process has mapped executable (its program and shared libraries), in map order. */
export function processBinaries(pid: number): string[] {
  const seen = new Set<string>();
  for (const m of processMappings(pid)) if (m.perms[2] === "x" && !seen.has(m.path)) seen.add(m.path);
  return [...seen];
}

/**
 * The load bias of `binary` in process `pid` (run-time address − link-time address; 0 for ET_EXEC), from
 * its executable mapping in /proc/<pid>/maps: for the IP-to-spec map when the kernel has no BPF cookies,
 * and for semaphores raised through /proc/<pid>/mem.
 */
export function loadBias(
  pid: number,
  binary: UsdtBinary,
  mappings: ProcessMapping[] = processMappings(pid),
): number {
  const want = realpathOrSelf(binary.path);
  const mine = mappings.filter((m) => (m.path === want || m.path === binary.path) && m.perms[2] === "x");
  for (const s of binary.segments) {
    if (!(s.flags & PF_X)) continue;
    const m = mine.find((x) => x.offset <= s.offset && s.offset < x.offset + (x.end - x.start));
    if (m) return m.start - m.offset - (s.vaddr - s.offset);
  }
  throw new UsageError(`process ${pid} does not have '${binary.path}' mapped executable`, {
    hint: `is ${pid} running this binary or using this library? see: grep ${binary.path.split("/").pop()} /proc/${pid}/maps`,
  });
}

/** /proc/<pid>/maps shows paths with symlinks resolved. */
function realpathOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
