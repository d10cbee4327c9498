/**
 * The kernel's verifier selftests as the CI test needs them: `linux-source-6.12` from Debian at the 6.12
 * guest kernel's version (the closest offered when that one is not), fetched with kfunc-kit's private apt
 * config and unpacked once into the cache (`<cache>/verifier-selftests/<version>/`): the selftests dir, the
 * tree's libbpf headers (with the generated bpf_helper_defs.h) and tools/include/uapi. Also the compile
 * flags of the selftests Makefile (6.12, `CLANG_BPF_BUILD_RULE` with test_progs' `BPF_CFLAGS`; kfunc-kit's
 * compileBpf adds `-g -O2 -target bpf -D__TARGET_ARCH_x86`; `-Werror` is left out: a clang-19 warning the
 * Makefile's clang did not give must not hide the verdicts).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { withLock } from "../../src/host/lock.ts";
import { PrivateApt } from "../../src/kernels/apt.ts";

export interface VerifierSelftests {
  /** The Debian package version used (`6.12.95-1~bpo12+1`). */
  version: string;
  /** Whether it is the guest kernel's own version (else the closest offered). */
  exact: boolean;
  /** tools/testing/selftests/bpf */
  selftests: string;
  /** Every progs/verifier_*.c, sorted. */
  sources: string[];
  /** -I dirs, in the Makefile's order (INCLUDE_DIR, CURDIR, APIDIR). */
  includeDirs: string[];
  /** The rest of the Makefile's flags. */
  cflags: string[];
  defines: string[];
}

/** The Debian version of `linux-source-6.12` that matches `release` (6.12.95+deb12-amd64), or the closest. */
function pickVersion(versions: string[], release: string): { version: string; exact: boolean } {
  const upstream = /^(\d+\.\d+\.\d+)/.exec(release)?.[1] ?? "";
  const exact = versions.find((v) => v.startsWith(`${upstream}-`));
  if (exact) return { version: exact, exact: true };
  const num = (v: string) => (/^\d+\.\d+\.(\d+)/.exec(v)?.[1] ?? "0") as string;
  const want = Number(num(upstream));
  const sorted = [...versions].sort(
    (a, b) => Math.abs(Number(num(a)) - want) - Math.abs(Number(num(b)) - want),
  );
  if (!sorted[0]) throw new Error("apt offers no linux-source-6.12 (bookworm-backports / bookworm-security)");
  return { version: sorted[0], exact: false };
}

function run(cmd: string, args: string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr || r.error}`);
}

export async function verifierSelftests(cacheDir: string, release: string): Promise<VerifierSelftests> {
  const apt = new PrivateApt(cacheDir);
  await apt.ensure(["bookworm-backports"]);
  const versions = (await apt.show("linux-source-6.12"))
    .map((s) => s.get("Version"))
    .filter((v): v is string => !!v);
  const { version, exact } = pickVersion(versions, release);
  const base = join(cacheDir, "verifier-selftests");
  const root = join(base, version.replace(/[^A-Za-z0-9.+-]/g, "_"));
  const tree = join(root, "linux-source-6.12");
  const stamp = join(root, ".complete");
  mkdirSync(base, { recursive: true });
  if (!existsSync(stamp))
    await withLock(join(base, "lock"), async () => {
      if (existsSync(stamp)) return;
      rmSync(root, { recursive: true, force: true });
      const tmp = `${root}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      process.stderr.write(`verifier selftests: fetching linux-source-6.12 ${version}\n`);
      await apt.download([`linux-source-6.12=${version}`], tmp);
      const deb = readdirSync(tmp).find((f) => f.endsWith(".deb"))!;
      const tarball = "./usr/src/linux-source-6.12.tar.xz";
      const members = [
        "tools/testing/selftests/bpf",
        "tools/lib/bpf",
        "tools/include",
        "tools/arch/x86/include",
        "include/uapi",
        "arch/x86/include/uapi",
        "kernel/bpf/disasm.c",
        "kernel/bpf/disasm.h",
        "scripts/bpf_doc.py",
      ].map((m) => `linux-source-6.12/${m}`);
      run(
        "sh",
        [
          "-c",
          `dpkg-deb --fsys-tarfile "$1" | tar -xOf - ${tarball} | tar -xJf - ${members.join(" ")}`,
          "sh",
          join(tmp, deb),
        ],
        tmp,
      );
      rmSync(join(tmp, deb));
      // libbpf's headers as the selftests Makefile installs them (INCLUDE_DIR/bpf), bpf_helper_defs.h generated
      const inc = join(tmp, "include", "bpf");
      mkdirSync(inc, { recursive: true });
      const lib = join(tmp, "linux-source-6.12", "tools", "lib", "bpf");
      for (const f of readdirSync(lib)) if (f.endsWith(".h")) copyFileSync(join(lib, f), join(inc, f));
      const defs = spawnSync(
        "python3",
        ["scripts/bpf_doc.py", "--header", "--file", "include/uapi/linux/bpf.h"],
        { cwd: join(tmp, "linux-source-6.12"), encoding: "utf8", maxBuffer: 64 << 20 },
      );
      if (defs.status !== 0) throw new Error(`bpf_doc.py failed: ${defs.stderr}`);
      writeFileSync(join(inc, "bpf_helper_defs.h"), defs.stdout);
      writeFileSync(join(tmp, ".complete"), `${version}\n`);
      renameSync(tmp, root);
    });
  const selftests = join(tree, "tools", "testing", "selftests", "bpf");
  const progs = join(selftests, "progs");
  return {
    version,
    exact,
    selftests,
    sources: readdirSync(progs)
      .filter((f) => /^verifier_.*\.c$/.test(f))
      .sort()
      .map((f) => join(progs, f)),
    includeDirs: [join(root, "include"), selftests, join(tree, "tools", "include", "uapi")],
    cflags: ["-mlittle-endian", "-Wno-compare-distinct-pointer-types", "-mcpu=v3"],
    defines: ["ENABLE_ATOMICS_TESTS"],
  };
}
