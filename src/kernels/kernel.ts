import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { KernelUnavailableError, UsageError } from "../errors.ts";
import { defaultCacheDir, ensureWritableDir, publish, tempSibling } from "../host/cache.ts";
import { DEFAULT_KERNEL, prepareDebian } from "./debian.ts";
import { type PreparedKernel, type PrepareKernelOptions, parseKernelVersion } from "./types.ts";
import { bzImageRelease, elfRelease, extractVmlinux, vmlinuxBtf } from "./vmlinux.ts";

export { DEFAULT_KERNEL };

const looksLikePath = (spec: string) => spec.includes("/") || spec.startsWith(".") || existsSync(spec);

/**
 * Makes a kernel ready to boot. `spec` is `debian:<suite>` (the suite's current generic amd64 kernel),
 * `debian:<release>` (exact, e.g. `debian:6.12.95+deb12-amd64`), or a path to a local bzImage / ELF vmlinux.
 * Debian kernels are fetched once through a private apt config and cached by release; a cached kernel
 * needs no network.
 */
/** A cached kernel dir that lost a file (deleted by hand, a disk cleaner) is named, with the fix. */
function checkCachedKernel(k: PreparedKernel, dir: string): void {
  const need: [string, string | undefined][] = [
    ["kernel image", k.image],
    ["BTF", k.btf],
    ["modules dir", k.modulesDir],
    ["kbuild headers", k.headersDir],
  ];
  const lost = need.filter(([, p]) => p !== undefined && !existsSync(p));
  if (lost.length === 0) return;
  throw new KernelUnavailableError(
    `cached kernel ${k.release} in ${dir} is damaged: ${lost.map(([what, p]) => `${what} ${p} is missing`).join(", ")}`,
    {
      hint: `remove it and prepare it again: rm -rf '${dir}' && kfunc vm prepare --kernel ${k.spec}`,
    },
  );
}

export async function prepareKernel(
  spec: string = DEFAULT_KERNEL,
  options: PrepareKernelOptions = {},
): Promise<PreparedKernel> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  if (spec === "debian") spec = DEFAULT_KERNEL;
  if (spec.startsWith("debian:")) {
    const what = spec.slice("debian:".length);
    if (what.endsWith("-cloud-amd64"))
      throw new UsageError(`kernel '${spec}': Debian's cloud flavour has no 9p (CONFIG_NET_9P is not set)`, {
        hint: `use the generic flavour: debian:${what.replace(/-cloud-amd64$/, "-amd64")}`,
      });
    if (!/^[A-Za-z0-9][A-Za-z0-9.+~_-]*$/.test(what))
      throw new UsageError(`kernel spec '${spec}': expected debian:<suite> or debian:<release>`, {
        hint: "e.g. debian:bookworm-backports, debian:bookworm, debian:6.12.95+deb12-amd64",
      });
    const { dir, marker } = await prepareDebian(what, cacheDir, {
      progress: options.progress,
      refresh: options.refresh,
    });
    const vmlinuxElf = marker.vmlinuxElf ? join(dir, marker.vmlinuxElf) : undefined;
    const k: PreparedKernel = {
      spec,
      release: marker.release,
      version: marker.version,
      root: join(dir, "root"),
      image: vmlinuxElf ?? join(dir, "root", "boot", `vmlinuz-${marker.release}`),
      vmlinuxElf,
      btf: join(dir, marker.btf),
      headersDir: marker.headersDir ? join(dir, marker.headersDir) : undefined,
      modulesDir: join(dir, marker.modulesDir),
    };
    checkCachedKernel(k, dir);
    return k;
  }
  if (looksLikePath(spec)) return prepareLocal(spec, cacheDir, options.headers);
  throw new UsageError(`unknown kernel spec '${spec}'`, {
    hint: "use debian:<suite> (debian:bookworm-backports, debian:bookworm), debian:<release>, or a path to a kernel image",
  });
}

/** A local bzImage or ELF vmlinux: release from its header/banner, vmlinux + BTF extracted into the cache. */
async function prepareLocal(
  path: string,
  cacheDir: string,
  headers: string | undefined,
): Promise<PreparedKernel> {
  const image = resolve(path);
  if (!existsSync(image) || !statSync(image).isFile())
    throw new UsageError(`kernel image '${path}': no such file`, {
      hint: "pass a bzImage / vmlinuz or an ELF vmlinux, or a spec like debian:bookworm-backports",
    });
  const bytes = readFileSync(image);
  const isElf = bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
  const release = isElf ? elfRelease(bytes) : bzImageRelease(bytes);
  if (!release)
    throw new KernelUnavailableError(
      `kernel image '${path}': not a bzImage or ELF vmlinux (no version found)`,
      {
        hint: "pass an x86-64 kernel image (arch/x86/boot/bzImage or vmlinux)",
      },
    );
  const st = statSync(image);
  const key = createHash("sha256")
    .update(`${realpathSync(image)}\0${st.size}\0${st.mtimeMs}`)
    .digest("hex")
    .slice(0, 16);
  const dir = join(ensureWritableDir(join(cacheDir, "local")), `${release}-${key}`);
  if (!existsSync(join(dir, "vmlinux.btf"))) {
    const tmp = tempSibling(dir);
    mkdirSync(tmp, { recursive: true });
    let btf: Uint8Array | undefined;
    if (isElf) btf = vmlinuxBtf(bytes, image);
    else {
      const x = await extractVmlinux(bytes, image).catch(() => undefined);
      if (x) {
        writeFileSync(join(tmp, "vmlinux"), x.elf);
        btf = x.btf;
      }
    }
    if (!btf && headers && existsSync(join(headers, "vmlinux"))) btf = readFileSync(join(headers, "vmlinux"));
    if (!btf)
      throw new KernelUnavailableError(
        `kernel image '${path}': no BTF found (.BTF section or <headers>/vmlinux)`,
        {
          hint: "build the kernel with CONFIG_DEBUG_INFO_BTF=y, or pass --headers DIR whose vmlinux carries .BTF",
        },
      );
    writeFileSync(join(tmp, "vmlinux.btf"), btf);
    publish(tmp, dir);
  }
  const vmlinuxElf = isElf ? image : existsSync(join(dir, "vmlinux")) ? join(dir, "vmlinux") : undefined;
  // <root>/boot/vmlinuz-R → <root>/lib/modules/R; else the host's /lib/modules/R
  const nearby = join(dirname(dirname(image)), "lib", "modules", release);
  const modulesDir =
    basename(dirname(image)) === "boot" && existsSync(nearby) ? nearby : join("/lib/modules", release);
  // <root>/boot/vmlinuz-R → <root>/usr/src/linux-headers-R (an unpacked Debian kernel)
  const nearbyHeaders = join(dirname(dirname(image)), "usr", "src", `linux-headers-${release}`);
  if (!headers && basename(dirname(image)) === "boot" && existsSync(join(nearbyHeaders, "Makefile")))
    headers = nearbyHeaders;
  return {
    spec: path,
    release,
    version: parseKernelVersion(release),
    root: dir,
    image: vmlinuxElf ?? image,
    vmlinuxElf,
    btf: join(dir, "vmlinux.btf"),
    headersDir: headers ? resolve(headers) : undefined,
    modulesDir,
  };
}
