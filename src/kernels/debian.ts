import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { KernelUnavailableError } from "../errors.ts";
import { ensureWritableDir, publish, sweepStaleTemps, tempSibling, writeFileAtomic } from "../host/cache.ts";
import { runTool } from "../host/exec.ts";
import type { Progress } from "../progress.ts";
import { type AptStanza, dependsNames, PrivateApt } from "./apt.ts";
import { rememberedRelease, rememberRelease } from "./suite-cache.ts";
import { type KernelVersion, parseKernelVersion } from "./types.ts";
import { extractVmlinux } from "./vmlinux.ts";

export const DEFAULT_KERNEL = "debian:bookworm-backports";

/** Written last into a kernel dir: its presence means the unpack is complete. */
export interface KernelMarker {
  release: string;
  packageVersion: string | undefined;
  version: KernelVersion;
  suite: string | undefined;
  /** Relative to the kernel dir. */
  vmlinuxElf: string | undefined;
  btf: string;
  headersDir: string | undefined;
  modulesDir: string;
  packages: string[];
  createdAt: string;
}

export const MARKER = "kernel.json";

export function kernelDir(cacheDir: string, release: string): string {
  return join(cacheDir, "kernels", release);
}

export function readMarker(dir: string): KernelMarker | undefined {
  const f = join(dir, MARKER);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, "utf8")) as KernelMarker;
  } catch {
    return undefined;
  }
}

export const isExactRelease = (s: string): boolean => /^\d+\.\d+/.test(s);

/** Reads the release a suite's `linux-image-amd64` metapackage points at (from the private apt lists). */
export async function releaseOfSuite(
  apt: PrivateApt,
  suite: string,
): Promise<{ release: string; stanza: AptStanza }> {
  const stanzas = await apt.show(`linux-image-amd64/${suite}`);
  for (const s of stanzas) {
    for (const dep of dependsNames(s.get("Depends"))) {
      const m = /^linux-image-(\d.*)$/.exec(dep);
      if (m) return { release: m[1]!.replace(/-unsigned$/, ""), stanza: s };
    }
  }
  throw new KernelUnavailableError(`Debian suite '${suite}': no linux-image-amd64 package found`, {
    hint: `is '${suite}' a Debian suite (bookworm, bookworm-backports, trixie…)? \`kfunc vm kernels\` lists the kernels that are available`,
  });
}

/** releaseOfSuite, remembered per suite until the apt lists change (saves an apt-cache run per boot). */
async function cachedReleaseOfSuite(apt: PrivateApt, suite: string): Promise<string> {
  const file = join(apt.dir, "resolved.json");
  const stamp = apt.listsStamp();
  let saved: Record<string, { release: string; stamp: string }> = {};
  try {
    saved = JSON.parse(readFileSync(file, "utf8")) as typeof saved;
  } catch {
    // none yet
  }
  const hit = saved[suite];
  if (hit && hit.stamp === stamp) return hit.release;
  const { release } = await releaseOfSuite(apt, suite);
  saved[suite] = { release, stamp };
  writeFileAtomic(file, `${JSON.stringify(saved, null, 2)}\n`);
  return release;
}

function cachedDeb(debsDir: string, pkg: string): string | undefined {
  if (!existsSync(debsDir)) return undefined;
  const hit = readdirSync(debsDir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"));
  return hit ? join(debsDir, hit) : undefined;
}

const MB = (n: number) => `${Math.round(n / 1e6)} MB`;

/**
 * Downloads (through the private apt config) and unpacks a Debian kernel release into
 * `<cache>/kernels/<release>`: image, headers with the flavour Makefile fixed, ELF vmlinux and its BTF.
 * Everything is built in a temp dir and renamed into place; the marker is written last.
 */
export async function fetchDebianKernel(
  cacheDir: string,
  release: string,
  suite: string | undefined,
  apt: PrivateApt,
  progress: Progress | undefined,
): Promise<KernelMarker> {
  const final = kernelDir(cacheDir, release);
  sweepStaleTemps(join(cacheDir, "kernels"));
  sweepStaleTemps(join(cacheDir, "debs"));
  const imagePkg = `linux-image-${release}-unsigned`;
  const imageInfo = (await apt.show(imagePkg))[0];
  if (!imageInfo)
    throw new KernelUnavailableError(
      `Debian kernel '${release}': no package '${imagePkg}' in suites ${apt.suites().join(", ")}`,
      {
        hint: "check the release with `kfunc vm kernels` (e.g. debian:6.12.95+deb12-amd64), or name a suite: debian:bookworm-backports",
      },
    );
  const headersPkg = `linux-headers-${release}`;
  const headersInfo = (await apt.show(headersPkg))[0];
  const pkgs = [imagePkg];
  const sizes = [Number(imageInfo.get("Size") ?? 0)];
  if (headersInfo) {
    pkgs.push(headersPkg);
    sizes.push(Number(headersInfo.get("Size") ?? 0));
    for (const dep of dependsNames(headersInfo.get("Depends"))) {
      if (/^linux-(headers-.*-common|kbuild-.*)$/.test(dep)) {
        pkgs.push(dep);
        sizes.push(Number((await apt.show(dep))[0]?.get("Size") ?? 0));
      }
    }
  }

  const debsDir = join(cacheDir, "debs");
  mkdirSync(debsDir, { recursive: true });
  const missing = pkgs.filter((p) => !cachedDeb(debsDir, p));
  if (missing.length > 0) {
    const total = sizes.filter((_, i) => missing.includes(pkgs[i]!)).reduce((a, b) => a + b, 0);
    progress?.step(`downloading ${missing.length} Debian package(s) for ${release} (${MB(total)})`);
    const tmp = tempSibling(join(debsDir, "download"));
    try {
      await apt.download(missing, tmp);
      for (const f of readdirSync(tmp)) if (f.endsWith(".deb")) renameSync(join(tmp, f), join(debsDir, f));
    } catch (e) {
      progress?.fail();
      throw e;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    progress?.succeed(`downloaded ${missing.join(", ")} (${MB(total)})`);
  }

  progress?.step(`unpacking ${release}`);
  const tmp = tempSibling(final);
  try {
    const root = join(tmp, "root");
    mkdirSync(root, { recursive: true });
    for (const p of pkgs) {
      const deb = cachedDeb(debsDir, p);
      if (!deb) throw new KernelUnavailableError(`package '${p}' missing from ${debsDir} after download`);
      await runTool("dpkg", ["-x", deb, root]);
    }
    const finalRoot = join(final, "root");
    let headersDir: string | undefined;
    const hdr = join("root", "usr", "src", `linux-headers-${release}`);
    if (existsSync(join(tmp, hdr, "Makefile"))) {
      headersDir = hdr;
      const mk = join(tmp, hdr, "Makefile");
      // the flavour Makefile includes the -common one by absolute path: point it at the unpacked copy
      writeFileSync(
        mk,
        readFileSync(mk, "utf8").replace(/^include \/usr\/src\//m, `include ${finalRoot}/usr/src/`),
      );
    }
    progress?.detail("(extracting vmlinux)");
    const vmlinuz = join(root, "boot", `vmlinuz-${release}`);
    if (!existsSync(vmlinuz))
      throw new KernelUnavailableError(`package '${imagePkg}' has no boot/vmlinuz-${release}`);
    const x = await extractVmlinux(readFileSync(vmlinuz), vmlinuz);
    if (!x.btf)
      throw new KernelUnavailableError(`${vmlinuz}: its vmlinux has no .BTF section`, {
        hint: "kfunc-kit needs a kernel built with CONFIG_DEBUG_INFO_BTF=y",
      });
    writeFileSync(join(tmp, "vmlinux"), x.elf);
    writeFileSync(join(tmp, "vmlinux.btf"), x.btf);
    // Debian 6.1 headers ship no vmlinux → kbuild skips module BTF; the image's BTF is the right file
    if (headersDir && !existsSync(join(tmp, headersDir, "vmlinux")))
      copyFileSync(join(tmp, "vmlinux.btf"), join(tmp, headersDir, "vmlinux"));
    const packageVersion = imageInfo.get("Version");
    const marker: KernelMarker = {
      release,
      packageVersion,
      version: parseKernelVersion(packageVersion ?? release),
      suite,
      vmlinuxElf: "vmlinux",
      btf: "vmlinux.btf",
      headersDir,
      modulesDir: join("root", "lib", "modules", release),
      packages: pkgs,
      createdAt: new Date().toISOString(),
    };
    writeFileSync(join(tmp, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    mkdirSync(join(cacheDir, "kernels"), { recursive: true });
    publish(tmp, final);
    progress?.succeed(`unpacked ${release} into ${final}`);
    return readMarker(final) ?? marker;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    progress?.fail();
    throw e;
  }
}

/** Resolves a `debian:<suite-or-release>` spec to a cached (or freshly fetched) kernel. */
export async function prepareDebian(
  what: string,
  cacheDir: string,
  options: { progress?: Progress | undefined; refresh?: boolean | undefined },
): Promise<{ dir: string; marker: KernelMarker }> {
  ensureWritableDir(cacheDir);
  const apt = new PrivateApt(cacheDir);
  let release: string;
  let suite: string | undefined;
  if (isExactRelease(what)) {
    release = what;
    const cached = readMarker(kernelDir(cacheDir, release));
    if (cached) return { dir: kernelDir(cacheDir, release), marker: cached };
    await apt.ensure([], { refresh: options.refresh ?? false });
  } else {
    suite = what;
    const known = options.refresh ? undefined : rememberedRelease(cacheDir, suite);
    const knownMarker = known ? readMarker(kernelDir(cacheDir, known)) : undefined;
    if (known && knownMarker) return { dir: kernelDir(cacheDir, known), marker: knownMarker };
    await apt.ensure([suite], { refresh: options.refresh ?? false });
    release = await cachedReleaseOfSuite(apt, suite);
    const cached = readMarker(kernelDir(cacheDir, release));
    if (cached) {
      rememberRelease(cacheDir, suite, release);
      return { dir: kernelDir(cacheDir, release), marker: cached };
    }
  }
  const marker = await fetchDebianKernel(cacheDir, release, suite, apt, options.progress);
  if (suite) rememberRelease(cacheDir, suite, release);
  return { dir: kernelDir(cacheDir, release), marker };
}
