/**
 * The real-world corpus: the BPF objects embedded in Debian's libbpf-tools binaries (each tool's skeleton
 * carries its object), downloaded with kfunc-kit's private apt config (never the system's sources) and
 * cached by package version under the kfunc-kit cache; plus the C loader that gives libbpf's answer.
 * Used by test/corpus/corpus-vm.test.ts and bench/corpus.ts.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultCacheDir } from "../../src/host/cache.ts";
import { PrivateApt } from "../../src/kernels/apt.ts";
import { REPO_ROOT } from "../helpers/fixtures.ts";

export const PACKAGE = "libbpf-tools";
const EM_BPF = 247;

export interface CorpusObject {
  /** The tool it came from ("biolatency"; "-2" etc. when one binary holds several). */
  name: string;
  path: string;
}

export interface Corpus {
  version: string;
  dir: string;
  objects: CorpusObject[];
}

/**
 * Every 64-bit little-endian BPF ELF (e_machine 247) embedded in `bytes`, cut out by its section header
 * table (clang writes it last, so e_shoff + e_shnum·e_shentsize is the object's end).
 */
export function extractBpfObjects(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = buf.indexOf(magic); at >= 0; at = buf.indexOf(magic, at + 4)) {
    if (at + 64 > bytes.length) break;
    if (bytes[at + 4] !== 2 || bytes[at + 5] !== 1) continue; // ELFCLASS64, little-endian
    if (view.getUint16(at + 18, true) !== EM_BPF) continue;
    const shoff = Number(view.getBigUint64(at + 40, true));
    const shentsize = view.getUint16(at + 58, true);
    const shnum = view.getUint16(at + 60, true);
    const end = at + shoff + shentsize * shnum;
    if (shentsize !== 64 || shnum === 0 || end > bytes.length) continue;
    out.push(bytes.slice(at, end));
    at = end - 4;
  }
  return out;
}

/** The candidate version of libbpf-tools in the private apt lists (apt-get update only when there are none). */
async function packageVersion(apt: PrivateApt): Promise<string> {
  await apt.ensure([]);
  const stanzas = await apt.show(PACKAGE);
  const v =
    stanzas.find((s) => s.get("Architecture") === "amd64")?.get("Version") ?? stanzas[0]?.get("Version");
  if (!v) throw new Error(`apt (private kfunc-kit config) knows no package '${PACKAGE}'`);
  return v;
}

/**
 * The corpus: downloads libbpf-tools (apt-get download, not install) once per package version and extracts
 * the BPF objects of every binary; later calls read the cache.
 */
export async function corpus(cacheDir = defaultCacheDir()): Promise<Corpus> {
  const apt = new PrivateApt(cacheDir);
  const version = await packageVersion(apt);
  const dir = join(cacheDir, "corpus", `${PACKAGE}-${version.replace(/[^A-Za-z0-9.+~-]/g, "_")}`);
  const objDir = join(dir, "objects");
  if (!existsSync(join(dir, "complete"))) {
    const work = mkdtempSync(join(tmpdir(), "kfunc-kit-corpus-"));
    try {
      await apt.download([`${PACKAGE}=${version}`], work);
      const deb = readdirSync(work).find((f) => f.endsWith(".deb"));
      if (!deb) throw new Error(`apt-get download ${PACKAGE} left no .deb in ${work}`);
      const root = join(work, "root");
      const x = spawnSync("dpkg-deb", ["-x", join(work, deb), root], { encoding: "utf8" });
      if (x.status !== 0) throw new Error(`dpkg-deb -x ${deb}: ${x.stderr}`);
      const staging = join(work, "objects");
      mkdirSync(staging);
      const seen = new Set<string>();
      const bin = join(root, "usr", "sbin");
      for (const tool of readdirSync(bin).sort()) {
        const p = join(bin, tool);
        if (!lstatSync(p).isFile()) continue; // symlinks (ext4dist → fsdist) are the same tool
        const objs = extractBpfObjects(new Uint8Array(readFileSync(p)));
        objs.forEach((o, i) => {
          const h = createHash("sha256").update(o).digest("hex");
          if (seen.has(h)) return; // hard links and tools that share a skeleton
          seen.add(h);
          writeFileSync(join(staging, `${tool}${i ? `-${i + 1}` : ""}.bpf.o`), o);
        });
      }
      mkdirSync(dir, { recursive: true });
      rmSync(objDir, { recursive: true, force: true });
      renameSync(staging, objDir);
      writeFileSync(join(dir, "complete"), `${version}\n`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const objects = readdirSync(objDir)
    .filter((f) => f.endsWith(".bpf.o"))
    .sort()
    .map((f) => ({ name: f.replace(/\.bpf\.o$/, ""), path: join(objDir, f) }));
  return { version, dir, objects };
}

/** Compiles test/corpus/libbpf-loader.c against the system's libbpf (libbpf-dev), cached by source hash. */
export function libbpfLoader(): string {
  const src = join(REPO_ROOT, "test", "corpus", "libbpf-loader.c");
  const key = createHash("sha256").update(readFileSync(src)).digest("hex").slice(0, 12);
  const out = join(tmpdir(), `kfunc-kit-libbpf-loader-${key}`);
  if (existsSync(out)) return out;
  const tmp = `${out}.${process.pid}`;
  const r = spawnSync("gcc", ["-O2", "-Wall", "-o", tmp, src, "-lbpf"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`compiling ${src} against libbpf-dev failed:\n${r.stderr}`);
  renameSync(tmp, out);
  return out;
}
