/**
 * Uprobe targets: a binary (path, or a library name found the way the dynamic linker would) and a
 * function symbol → the file offset the kernel wants (st_value − section addr + section offset,
 * like libbpf's elf_find_func_offset), from .symtab or .dynsym via our ELF reader.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { parseElf, readCString, STB_GLOBAL, STB_WEAK, STT_FUNC } from "../../elf/index.ts";
import { ObjectError, UsageError } from "../../errors.ts";

const SHT_DYNSYM = 11;
const STT_GNU_IFUNC = 10;

/** Directories the dynamic linker searches (LD_LIBRARY_PATH, /etc/ld.so.conf.d, the defaults). */
function libraryDirs(): string[] {
  const dirs: string[] = [];
  for (const d of (process.env["LD_LIBRARY_PATH"] ?? "").split(":")) if (d) dirs.push(d);
  try {
    for (const f of readdirSync("/etc/ld.so.conf.d")
      .filter((x) => x.endsWith(".conf"))
      .sort()) {
      for (const line of readFileSync(join("/etc/ld.so.conf.d", f), "utf8").split("\n")) {
        const t = line.trim();
        if (t.startsWith("/")) dirs.push(t);
      }
    }
  } catch {
    // no ld.so.conf.d: defaults only
  }
  dirs.push("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib");
  return dirs;
}

/** "libc.so.6" → "/lib/x86_64-linux-gnu/libc.so.6"; paths are returned as they are (if they exist). */
export function resolveBinary(binary: string): string {
  if (isAbsolute(binary) || binary.includes("/")) {
    if (!existsSync(binary)) throw new UsageError(`uprobe binary '${binary}' does not exist`);
    return binary;
  }
  const dirs = libraryDirs();
  for (const d of dirs) {
    const p = join(d, binary);
    if (existsSync(p)) return p;
  }
  throw new UsageError(`uprobe binary '${binary}': not found in the library path`, {
    hint: `give an absolute path, or one of: ${dirs.slice(-6).join(", ")} must contain it`,
  });
}

interface FoundSymbol {
  name: string;
  value: number;
  shndx: number;
  bind: number;
  type: number;
}

function dynamicSymbols(elf: ReturnType<typeof parseElf>): FoundSymbol[] {
  const dynsym = elf.sections.find((s) => s.type === SHT_DYNSYM);
  if (!dynsym || dynsym.link >= elf.sections.length) return [];
  const strtab = elf.sections[dynsym.link]!.data;
  const v = new DataView(dynsym.data.buffer, dynsym.data.byteOffset, dynsym.data.byteLength);
  const out: FoundSymbol[] = [];
  for (let o = 0; o + 24 <= dynsym.data.byteLength; o += 24) {
    const info = v.getUint8(o + 4);
    out.push({
      name: readCString(strtab, v.getUint32(o, true), elf.source, "dynamic symbol name"),
      value: Number(v.getBigUint64(o + 8, true)),
      shndx: v.getUint16(o + 6, true),
      bind: info >> 4,
      type: info & 0xf,
    });
  }
  return out;
}

/** The file offset of function `symbol` in `path` (a resolved binary). */
export function symbolFileOffset(path: string, symbol: string): number {
  const elf = parseElf(new Uint8Array(readFileSync(path)), path);
  const candidates = [...elf.symbols, ...dynamicSymbols(elf)].filter(
    (s) =>
      (s.name === symbol || s.name.split("@")[0] === symbol) &&
      s.shndx !== 0 &&
      s.shndx < elf.sections.length &&
      (s.type === STT_FUNC || s.type === STT_GNU_IFUNC),
  );
  if (candidates.length === 0) {
    throw new ObjectError(`uprobe: '${symbol}' is not a function symbol of ${path}`, {
      hint: `list its functions with: nm -D --defined-only ${path} | grep -w ${symbol}`,
    });
  }
  const best =
    candidates.find((s) => s.bind === STB_GLOBAL) ??
    candidates.find((s) => s.bind === STB_WEAK) ??
    candidates[0]!;
  if (best.type === STT_GNU_IFUNC) {
    throw new ObjectError(`uprobe: '${symbol}' in ${path} is an IFUNC resolver, not the function`, {
      hint: "probe the implementation it selects (e.g. __memcpy_avx_unaligned) by name or offset",
    });
  }
  const sec = elf.sections[best.shndx]!;
  return best.value - sec.addr + sec.offset;
}

export interface UprobeTarget {
  binary: string;
  /** Function name, or undefined when only an offset was given. */
  symbol: string | undefined;
  offset: number;
}

/** "libc.so.6:malloc", "/bin/bash:readline+0x10", "/proc/self/exe:0x1234"… */
export function parseUprobeTarget(target: string): UprobeTarget {
  const colon = target.lastIndexOf(":");
  if (colon <= 0) {
    throw new UsageError(`uprobe target '${target}' is not <binary>:<function>[+<offset>]`, {
      hint: 'write the section as SEC("uprobe/libc.so.6:malloc"), or attach with { binary, symbol }',
    });
  }
  const binary = target.slice(0, colon);
  const spec = target.slice(colon + 1);
  if (/^(0x[0-9a-fA-F]+|\d+)$/.test(spec)) return { binary, symbol: undefined, offset: Number(spec) };
  const m = /^([^+]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(spec);
  if (!m) throw new UsageError(`uprobe target '${target}': cannot parse '${spec}'`);
  return { binary, symbol: m[1]!, offset: m[2] ? Number(m[2]) : 0 };
}
