import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EnvironmentError } from "../errors.ts";
import { runTool } from "../host/exec.ts";
import { withLock } from "../host/lock.ts";
import { log } from "../log.ts";
import { findDebianArchive, readSystemSources, systemCodename } from "./sources.ts";

/** One stanza of `apt-cache show`. */
export type AptStanza = Map<string, string>;

export function parseStanzas(text: string): AptStanza[] {
  const out: AptStanza[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const m: AptStanza = new Map();
    let last = "";
    for (const line of block.split("\n")) {
      if (/^\s/.test(line) && last) m.set(last, `${m.get(last)}\n${line.trim()}`);
      else {
        const kv = /^([^:\s]+):\s?(.*)$/.exec(line);
        if (kv) {
          last = kv[1]!;
          m.set(last, kv[2]!);
        }
      }
    }
    if (m.has("Package")) out.push(m);
  }
  return out;
}

/** Package names in a `Depends:` value (alternatives included, version constraints dropped). */
export function dependsNames(depends: string | undefined): string[] {
  if (!depends) return [];
  return depends
    .split(/[,|]/)
    .map((d) => d.trim().split(/[\s(]/)[0]!)
    .filter(Boolean);
}

/**
 * A private apt configuration under `<cache>/apt`: its own sources list (the system's Debian archive URI
 * and keyring, with the suites kfunc-kit needs), lists and package cache. The system's apt sources are
 * only read, never edited; no root is needed.
 */
export class PrivateApt {
  readonly dir: string;
  readonly sourcesList: string;
  readonly listsDir: string;

  constructor(cacheDir: string) {
    this.dir = join(cacheDir, "apt");
    this.sourcesList = join(this.dir, "sources.list");
    this.listsDir = join(this.dir, "lists");
  }

  private options(): string[] {
    const o = [
      `Dir::Etc::SourceList=${this.sourcesList}`,
      "Dir::Etc::SourceParts=-",
      `Dir::State::Lists=${this.listsDir}`,
      `Dir::Cache=${join(this.dir, "cache")}`,
      "Dir::State::status=/var/lib/dpkg/status",
      "Acquire::Languages=none",
    ];
    // as root apt drops to the _apt user, which cannot read a cache under /root
    if (process.getuid?.() === 0) o.push("APT::Sandbox::User=root");
    return o.flatMap((x) => ["-o", x]);
  }

  /** Suites named in the private sources list. */
  suites(): string[] {
    if (!existsSync(this.sourcesList)) return [];
    const set = new Set<string>();
    for (const line of readFileSync(this.sourcesList, "utf8").split("\n")) {
      const m = /^deb (?:\[[^\]]*\] )?\S+ (\S+)/.exec(line);
      if (m) set.add(m[1]!);
    }
    return [...set];
  }

  private hasLists(): boolean {
    return existsSync(this.listsDir) && readdirSync(this.listsDir).some((f) => f.includes("_Packages"));
  }

  /**
   * Makes sure the private sources name `wanted` suites (plus the system's release and its backports) and
   * that package lists exist; runs `apt-get update` only when something is missing or `refresh` is set.
   */
  async ensure(wanted: string[], options: { refresh?: boolean } = {}): Promise<void> {
    const codename = systemCodename();
    const suites = new Set(this.suites());
    if (codename) {
      suites.add(codename);
      suites.add(`${codename}-backports`);
    }
    for (const s of wanted) suites.add(s);
    const changed = [...suites].some((s) => !this.suites().includes(s));
    if (!changed && this.hasLists() && !options.refresh) return;
    const archive = findDebianArchive(readSystemSources(), codename);
    if (!archive)
      throw new EnvironmentError("no Debian archive found in the system's apt sources", {
        hint: "kfunc-kit takes the mirror URI and keyring from /etc/apt/sources.list(.d); configure a Debian mirror there, or pass a local kernel image with --kernel PATH",
      });
    mkdirSync(join(this.dir, "lists", "partial"), { recursive: true });
    mkdirSync(join(this.dir, "cache", "archives", "partial"), { recursive: true });
    await withLock(join(this.dir, "lock"), async () => {
      const previous = existsSync(this.sourcesList) ? readFileSync(this.sourcesList, "utf8") : undefined;
      const opt = archive.signedBy ? `[signed-by=${archive.signedBy}] ` : "";
      const text = [...suites].map((s) => `deb ${opt}${archive.uri} ${s} main`).join("\n");
      writeFileSync(
        this.sourcesList,
        `# written by kfunc-kit from ${archive.file}; private to this cache\n${text}\n`,
      );
      log.info(`apt-get update (private config ${this.sourcesList})`);
      const r = await runTool("apt-get", [...this.options(), "update"], { allowFailure: true });
      const errors = r.stderr
        .split("\n")
        .filter(
          (l) => l.startsWith("E:") || l.startsWith("W: Failed") || l.includes("does not have a Release"),
        );
      if (r.code !== 0 || errors.length > 0) {
        // a bad suite must not poison later runs: put the previous sources back
        if (previous === undefined) rmSync(this.sourcesList, { force: true });
        else writeFileSync(this.sourcesList, previous);
        throw new EnvironmentError(
          `apt-get update (private kfunc-kit config) failed:\n${errors.join("\n")}`,
          {
            hint: `check the network and the suites in ${this.sourcesList} (a misspelt suite in --kernel debian:<suite>?)`,
          },
        );
      }
    });
  }

  /** Changes whenever `apt-get update` rewrote the lists (for caching answers derived from them). */
  listsStamp(): string {
    if (!existsSync(this.listsDir)) return "";
    return readdirSync(this.listsDir)
      .filter((f) => f.includes("_Packages") || f.endsWith("Release"))
      .map((f) => `${f}:${statSync(join(this.listsDir, f)).mtimeMs}`)
      .join(",");
  }

  /** `apt-cache show pkg[/suite]` → stanzas ([] when apt knows no such package). */
  async show(pkg: string): Promise<AptStanza[]> {
    const r = await runTool("apt-cache", [...this.options(), "show", pkg], { allowFailure: true });
    if (r.code !== 0) return [];
    return parseStanzas(r.stdout.toString());
  }

  /** Names of all packages apt knows that start with `prefix`. */
  async packageNames(prefix: string): Promise<string[]> {
    const r = await runTool("apt-cache", [...this.options(), "pkgnames", prefix], { allowFailure: true });
    return r.stdout.toString().split("\n").filter(Boolean);
  }

  /** `apt-get download` into `dir`. */
  async download(pkgs: string[], dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    await runTool("apt-get", [...this.options(), "download", ...pkgs], { cwd: dir });
  }
}
