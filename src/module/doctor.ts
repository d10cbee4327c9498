/**
 * `kfunc doctor`: what this host can do for kfunc work — kernel version (KPROBE kfunc hook), BTF and
 * module BTF, module loading, kprobes, trampolines (fentry), pahole, clang, headers, tracefs, privileges,
 * QEMU and cached kernels — each with the evidence, and the fix or the VM alternative.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { release as osRelease } from "node:os";
import { join } from "node:path";
import { formatVersion, parseRelease, versionAtLeast } from "./kernel-features.ts";
import { HOST_BTF, hostCanLoadModules, hostKernelConfig } from "./target.ts";

export type CheckStatus = "ok" | "warn" | "fail" | "skip";

export interface DoctorCheck {
  id: string;
  title: string;
  status: CheckStatus;
  /** What was found (the evidence). */
  detail: string;
  /** The fix, or the VM alternative, when not ok. */
  fix?: string;
}

export interface DoctorReport {
  kernel: string;
  checks: DoctorCheck[];
  /** One line per conclusion: what works here, what needs the VM. */
  summary: string[];
}

export interface DoctorOptions {
  cacheDir?: string | undefined;
  /** Skip the fentry load probe (it needs root and the loader). */
  probeTrampolines?: boolean;
}

const VM_FIX = "run it in a VM instead: `kfunc vm run` / `kfunc demo` boot a Debian kernel that has it";

function tool(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error || r.status !== 0) return undefined;
  return `${r.stdout}${r.stderr}`.trim();
}

function check(id: string, title: string, status: CheckStatus, detail: string, fix?: string): DoctorCheck {
  return fix === undefined || status === "ok"
    ? { id, title, status, detail }
    : { id, title, status, detail, fix };
}

function configValue(text: string | undefined, key: string): string | undefined {
  if (text === undefined) return undefined;
  const m = new RegExp(`^${key}=(.*)$`, "m").exec(text);
  if (m) return m[1];
  return new RegExp(`^# ${key} is not set$`, "m").test(text) ? "n" : undefined;
}

function capabilities(): { eff: bigint; source: string } | undefined {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? { eff: BigInt(`0x${m[1]}`), source: "/proc/self/status" } : undefined;
  } catch {
    return undefined;
  }
}

const CAP = { SYS_ADMIN: 21n, PERFMON: 38n, BPF: 39n } as const;

/** Loads a 2-instruction fentry program on a vmlinux function: the only honest trampoline test. */
async function probeFentry(): Promise<{ status: CheckStatus; detail: string }> {
  let prog: typeof import("../sys/bpf-prog.ts");
  let constants: typeof import("../sys/constants.ts");
  let kbtf: typeof import("../kernel/kernel-btf.ts");
  let caps: typeof import("../kernel/capabilities.ts");
  try {
    [prog, constants, kbtf, caps] = await Promise.all([
      import("../sys/bpf-prog.ts"),
      import("../sys/constants.ts"),
      import("../kernel/kernel-btf.ts"),
      import("../kernel/capabilities.ts"),
    ]);
  } catch (e) {
    return { status: "skip", detail: `not checked: the loader is not available (${(e as Error).message})` };
  }
  const target = ["do_unlinkat", "vfs_unlink", "do_sys_openat2"]
    .map((n) => ({ n, t: kbtf.vmlinuxBtf().findByName(n, "FUNC") }))
    .find((x) => x.t);
  if (!target?.t) return { status: "skip", detail: "not checked: no do_unlinkat/vfs_unlink in vmlinux BTF" };
  const insns = new Uint8Array(16);
  insns[0] = 0xb7; // r0 = 0
  insns[8] = 0x95; // exit
  try {
    prog
      .progLoad({
        type: constants.BPF_PROG_TYPE.TRACING,
        insns,
        license: "GPL",
        name: "kk_doctor",
        expectedAttachType: constants.BPF_ATTACH_TYPE.TRACE_FENTRY,
        attachBtfId: target.t.id,
      })
      .fd.close();
    return { status: "ok", detail: `an fentry/${target.n} program loads` };
  } catch (e) {
    if (!(e instanceof prog.ProgLoadFailure)) throw e;
    const text = e.verifierLog.trim();
    const why = text
      ? `: ${text.split("\n").pop()}`
      : ` with an empty verifier log (${caps.epermHint("fentry", "does this kernel refuse BPF trampolines?", caps.permissionEvidence())})`;
    return { status: "fail", detail: `fentry/${target.n}: BPF_PROG_LOAD → ${e.errnoName}${why}` };
  }
}

function cachedKernels(cacheDir: string): string[] {
  const dir = join(cacheDir, "kernels");
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((k) => existsSync(join(dir, k, "kernel.json")));
}

/** Runs every check; never throws for a missing capability (that is a finding). */
export async function runDoctor(o: DoctorOptions = {}): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const release = osRelease();
  const v = parseRelease(release);
  const config = hostKernelConfig(release);
  const cfg = (k: string) => configValue(config?.text, k);
  const cfgSource = config?.source ?? "no /proc/config.gz or /boot/config-*";

  if (v && versionAtLeast(v, 6, 10))
    checks.push(check("kernel", "kernel >= 6.10 (kfuncs in kprobe programs)", "ok", `Linux ${release}`));
  else
    checks.push(
      check(
        "kernel",
        "kernel >= 6.10 (kfuncs in kprobe programs)",
        "warn",
        `Linux ${release}${v ? ` (${formatVersion(v)})` : ""}: register_btf_kfunc_id_set(BPF_PROG_TYPE_KPROBE) returns -EINVAL`,
        "register kfuncs for TRACING and use fentry/tp_btf programs, or test KPROBE in a 6.12 VM (--kernel debian:bookworm-backports)",
      ),
    );

  const btfOk = existsSync(HOST_BTF);
  checks.push(
    check(
      "btf",
      "CONFIG_DEBUG_INFO_BTF (vmlinux BTF)",
      btfOk ? "ok" : "fail",
      btfOk ? `${HOST_BTF} (${statSync(HOST_BTF).size} bytes)` : `no ${HOST_BTF}`,
      "kfunc calls need a kernel built with CONFIG_DEBUG_INFO_BTF=y; " + VM_FIX,
    ),
  );
  // a readable config without the key means "not set" (Kconfig omits options whose dependencies are off)
  const btfModules = cfg("CONFIG_DEBUG_INFO_BTF_MODULES") ?? (config ? "n" : undefined);
  const moduleBtfs = existsSync("/sys/kernel/btf")
    ? readdirSync("/sys/kernel/btf").filter((f) => f !== "vmlinux")
    : [];
  checks.push(
    check(
      "btf-modules",
      "CONFIG_DEBUG_INFO_BTF_MODULES (module BTF)",
      btfModules === "y" || moduleBtfs.length > 0 ? "ok" : btfModules === undefined ? "warn" : "fail",
      btfModules !== undefined
        ? `CONFIG_DEBUG_INFO_BTF_MODULES=${btfModules} (${cfgSource})`
        : `unknown: ${cfgSource}; ${moduleBtfs.length} module BTF objects in /sys/kernel/btf`,
      "module kfuncs need module BTF: use a kernel with CONFIG_DEBUG_INFO_BTF_MODULES=y; " + VM_FIX,
    ),
  );

  const mods = hostCanLoadModules();
  checks.push(
    check(
      "modules",
      "loadable modules (CONFIG_MODULES)",
      mods.ok ? "ok" : "fail",
      mods.why,
      `custom kfuncs live in a module, so this kernel cannot have them: ${VM_FIX} (kfunc module build targets the QEMU kernel by default)`,
    ),
  );

  const kprobePmu = existsSync("/sys/bus/event_source/devices/kprobe/type");
  const tracefs = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"].find((d) =>
    existsSync(join(d, "trace")),
  );
  const kprobeEvents = tracefs !== undefined && existsSync(join(tracefs, "kprobe_events"));
  checks.push(
    check(
      "kprobes",
      "kprobes (kprobe PMU or kprobe_events)",
      kprobePmu || kprobeEvents ? "ok" : "fail",
      kprobePmu
        ? "/sys/bus/event_source/devices/kprobe/type exists"
        : kprobeEvents
          ? `${tracefs}/kprobe_events exists (no kprobe PMU)`
          : "no kprobe PMU (/sys/bus/event_source/devices/kprobe) and no kprobe_events",
      `kernel built without CONFIG_KPROBE_EVENTS: attach with tp_btf/ or raw_tp/ here, or ${VM_FIX}`,
    ),
  );

  if (o.probeTrampolines === false)
    checks.push(check("trampolines", "trampolines (fentry/fexit)", "skip", "not checked"));
  else {
    const f = await probeFentry();
    checks.push(
      check(
        "trampolines",
        "trampolines (fentry/fexit)",
        f.status,
        f.detail,
        `use tp_btf/ (typed tracepoints) here, or ${VM_FIX}`,
      ),
    );
  }

  checks.push(
    check(
      "tracefs",
      "tracefs (bpf_printk output)",
      tracefs ? "ok" : "warn",
      tracefs ? `${tracefs}/trace` : "tracefs is not mounted",
      "mount -t tracefs nodev /sys/kernel/tracing",
    ),
  );

  const pahole = tool("pahole", ["--version"]);
  const pv = pahole ? /v?(\d+)\.(\d+)/.exec(pahole) : null;
  const paholeNum = pv ? Number(pv[1]) * 100 + Number(pv[2]) : 0;
  checks.push(
    check(
      "pahole",
      "pahole (module BTF generation)",
      !pahole ? "fail" : paholeNum >= 116 ? "ok" : "fail",
      pahole
        ? `pahole ${pahole}${paholeNum < 127 ? " (< 1.27: no bpf_kfunc DECL_TAGs, kfunc-kit reads the kfunc sets instead)" : ""}`
        : "pahole not found",
      "apt-get install dwarves (pahole >= 1.16; >= 1.27 tags kfuncs in BTF)",
    ),
  );
  const clang = tool("clang", ["--version"]);
  const cv = clang ? /clang version (\d+)\.(\d+)/.exec(clang) : null;
  checks.push(
    check(
      "clang",
      "clang (eBPF C compiler)",
      !cv ? "fail" : Number(cv[1]) >= 12 ? "ok" : "warn",
      cv ? `clang ${cv[1]}.${cv[2]}` : "clang not found",
      "apt-get install clang (>= 12 for __ksym kfunc externs; 14 is what kfunc-kit is tested with)",
    ),
  );
  const make = tool("make", ["--version"]);
  const gcc = tool("gcc", ["--version"]);
  checks.push(
    check(
      "kbuild-tools",
      "make and gcc (kernel module builds)",
      make && gcc ? "ok" : "fail",
      `${make ? make.split("\n")[0] : "make not found"}; ${gcc ? gcc.split("\n")[0] : "gcc not found"}`,
      "apt-get install make gcc",
    ),
  );
  const headers = `/lib/modules/${release}/build`;
  const hasHeaders = existsSync(join(headers, "Makefile"));
  checks.push(
    check(
      "headers",
      "kernel headers for the running kernel",
      hasHeaders ? "ok" : mods.ok ? "fail" : "warn",
      hasHeaders ? headers : `no ${headers}`,
      mods.ok
        ? `apt-get install linux-headers-${release}`
        : "not needed here (this kernel cannot load modules): kfunc module build uses the QEMU kernel's headers",
    ),
  );

  const uid = process.getuid?.() ?? -1;
  const caps = capabilities();
  const has = (c: bigint) => caps !== undefined && (caps.eff & (1n << c)) !== 0n;
  const bpfOk = has(CAP.BPF) || has(CAP.SYS_ADMIN);
  checks.push(
    check(
      "privileges",
      "privileges (root or CAP_BPF + CAP_PERFMON)",
      bpfOk && (has(CAP.PERFMON) || has(CAP.SYS_ADMIN)) ? "ok" : "fail",
      `uid ${uid}; CAP_BPF ${has(CAP.BPF) ? "yes" : "no"}, CAP_PERFMON ${has(CAP.PERFMON) ? "yes" : "no"}, CAP_SYS_ADMIN ${has(CAP.SYS_ADMIN) ? "yes" : "no"}${caps ? "" : " (capabilities unreadable)"}`,
      "run as root (sudo), or grant CAP_BPF, CAP_PERFMON (and CAP_SYS_ADMIN for BTF enumeration)",
    ),
  );

  const qemu = tool("qemu-system-x86_64", ["--version"]);
  const kvm = existsSync("/dev/kvm");
  checks.push(
    check(
      "qemu",
      "QEMU (the VM runner)",
      qemu ? "ok" : "fail",
      qemu
        ? `${qemu.split("\n")[0]}; /dev/kvm ${kvm ? "present (used when it works, else TCG)" : "absent (TCG: slower)"}`
        : "qemu-system-x86_64 not found",
      "apt-get install qemu-system-x86 busybox-static",
    ),
  );
  const cacheDir = o.cacheDir ?? (await import("../host/cache.ts")).defaultCacheDir();
  const kernels = cachedKernels(cacheDir);
  checks.push(
    check(
      "kernels",
      "cached QEMU kernels",
      kernels.length ? "ok" : "warn",
      kernels.length
        ? `${kernels.join(", ")} in ${join(cacheDir, "kernels")}`
        : `none in ${join(cacheDir, "kernels")}`,
      "the first `kfunc demo` / `kfunc module build` downloads one (~120 MB): kfunc vm kernels",
    ),
  );

  const ok = (id: string) => checks.find((c) => c.id === id)?.status === "ok";
  const summary: string[] = [];
  if (ok("modules") && ok("btf") && ok("btf-modules"))
    summary.push(
      `custom kfunc modules: on this host${ok("kernel") && ok("kprobes") ? ", including kprobe programs" : " (TRACING/SYSCALL programs; KPROBE needs >= 6.10 and kprobes)"}`,
    );
  else
    summary.push(
      "custom kfunc modules: not on this host kernel — build with `kfunc module build` and run them in the VM",
    );
  if (ok("btf") && ok("privileges"))
    summary.push("vmlinux kfuncs from tp_btf/syscall programs and the TypeScript loader: on this host");
  if (!ok("trampolines")) summary.push("fentry/fexit: not on this host — tp_btf here, or the VM");
  if (ok("qemu") && ok("kbuild-tools") && ok("pahole"))
    summary.push("the VM path (kfunc demo, kfunc vm run, kfunc module build): ready");
  else summary.push("the VM path: missing tools (see the fixes above)");
  return { kernel: release, checks, summary };
}
