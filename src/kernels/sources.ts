import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** One `deb` entry of the system's apt sources. */
export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
  signedBy: string | undefined;
  file: string;
}

/** Parses a one-line-style sources file (`deb [signed-by=…] URI suite comp…`). */
export function parseOneLineSources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line.startsWith("deb ") && !line.startsWith("deb\t")) continue;
    let rest = line.slice(4).trim();
    let signedBy: string | undefined;
    const opts = /^\[([^\]]*)\]\s*/.exec(rest);
    if (opts) {
      rest = rest.slice(opts[0].length);
      for (const o of opts[1]!.trim().split(/\s+/)) {
        const [k, v] = o.split("=");
        if (k === "signed-by" && v) signedBy = v;
      }
    }
    const [uri, suite, ...components] = rest.split(/\s+/);
    if (uri && suite) out.push({ uri, suites: [suite], components, signedBy, file });
  }
  return out;
}

/** Parses a deb822 `.sources` file. */
export function parseDeb822Sources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = "";
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#")) continue;
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
        continue;
      }
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) {
        last = m[1]!.toLowerCase();
        fields.set(last, m[2]!.trim());
      }
    }
    const types = (fields.get("types") ?? "").split(/\s+/);
    if (!types.includes("deb") || fields.get("enabled")?.toLowerCase() === "no") continue;
    const words = (k: string) => (fields.get(k) ?? "").split(/\s+/).filter(Boolean);
    for (const uri of words("uris")) {
      out.push({
        uri,
        suites: words("suites"),
        components: words("components"),
        signedBy: fields.get("signed-by") || undefined,
        file,
      });
    }
  }
  return out;
}

/** All `deb` entries of the system's apt configuration (read only; never edited). */
export function readSystemSources(etc = "/etc/apt"): AptSource[] {
  const out: AptSource[] = [];
  const main = join(etc, "sources.list");
  if (existsSync(main)) out.push(...parseOneLineSources(readFileSync(main, "utf8"), main));
  const dir = join(etc, "sources.list.d");
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      const f = join(dir, name);
      if (name.endsWith(".list")) out.push(...parseOneLineSources(readFileSync(f, "utf8"), f));
      else if (name.endsWith(".sources")) out.push(...parseDeb822Sources(readFileSync(f, "utf8"), f));
    }
  }
  return out;
}

/** The system's Debian codename (`bookworm`), from /etc/os-release. */
export function systemCodename(osRelease = "/etc/os-release"): string | undefined {
  if (!existsSync(osRelease)) return undefined;
  return /^VERSION_CODENAME=["']?([a-z]+)/m.exec(readFileSync(osRelease, "utf8"))?.[1];
}

/**
 * The Debian main archive among the system's sources: the entry carrying the release's own suite (not
 * `-security`) with the `main` component.
 */
export function findDebianArchive(sources: AptSource[], codename: string | undefined): AptSource | undefined {
  const isMain = (s: AptSource) => s.components.includes("main");
  return (
    sources.find((s) => isMain(s) && codename !== undefined && s.suites.includes(codename)) ??
    sources.find(
      (s) => isMain(s) && s.suites.some((x) => /^(bookworm|trixie|bullseye|sid|unstable|stable)$/.test(x)),
    )
  );
}
