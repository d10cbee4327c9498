/**
 * The running kernel's BTF: vmlinux (parsed once per process) and module BTFs (enumerated once per load,
 * each parsed as split BTF on vmlinux). Module BTF fds are owned by the returned ModuleBtfSet.
 */
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { type Btf, parseBtf } from "../btf/index.ts";
import { NotSupportedError, SyscallError } from "../errors.ts";
import { log } from "../log.ts";
import { btfInfo, fdById, getNextId } from "../sys/bpf-obj.ts";
import type { Fd } from "../sys/fd.ts";
import { type Mapping, mmapReadOnly } from "../sys/mmap.ts";

import { VMLINUX_BTF_PATH } from "./host.ts";

export { VMLINUX_BTF_PATH };

let vmlinux: Btf | undefined;
/** The running kernel's vmlinux BTF, mapped (kept for the life of the process, as `vmlinux` is). */
let vmlinuxMapping: Mapping | undefined;

/**
 * /sys/kernel/btf/vmlinux mapped read-only (Linux ≥ 6.16), else undefined. Reading it costs ~13 ms here,
 * the same in C: sysfs hands it out a page per read(); the mapping costs ~0.1 ms. Its bytes are never
 * written (a write would fault): parseBtf and the passes over it only read.
 */
function mapVmlinux(path: string): Uint8Array | undefined {
  if (process.env["KFUNC_KIT_NO_BTF_MMAP"]) return undefined;
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 24) return undefined;
    vmlinuxMapping = mmapReadOnly(fd, size, path);
    return new Uint8Array(vmlinuxMapping.buffer);
  } catch (e) {
    log.debug(`${path}: not mapped (${(e as Error).message}); reading it`);
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** True when `btf` is the running kernel's vmlinux BTF as parsed by {@link vmlinuxBtf}. */
export function isRunningVmlinux(btf: Btf): boolean {
  return btf === vmlinux;
}

/** vmlinux BTF of the running kernel (cached). */
export function vmlinuxBtf(path = VMLINUX_BTF_PATH): Btf {
  if (vmlinux && path === VMLINUX_BTF_PATH) return vmlinux;
  let bytes: Uint8Array | undefined = path === VMLINUX_BTF_PATH ? mapVmlinux(path) : undefined;
  try {
    bytes ??= readFileSync(path);
  } catch (e) {
    throw new NotSupportedError("kernel BTF", "5.4", `kernel BTF is missing at '${path}'`, {
      cause: e,
      hint: "was the kernel built with CONFIG_DEBUG_INFO_BTF=y? (kfunc calls and CO-RE need it)",
    });
  }
  const btf = parseBtf(bytes, { source: path });
  if (path === VMLINUX_BTF_PATH) vmlinux = btf;
  return btf;
}

export interface ModuleBtf {
  /** Module name as the kernel reports it ("bpf_testmod"). */
  name: string;
  /** Kernel BTF object id. */
  id: number;
  /** Owned by the ModuleBtfSet; passed to the kernel in fd_array / ld_imm64 insn[1].imm. */
  fd: Fd;
  /** Split BTF on vmlinux (parsed lazily). */
  readonly btf: Btf;
}

/** Module BTFs of the running kernel, opened once. Close it (or hand the fds on) when done. */
export class ModuleBtfSet implements Disposable {
  readonly modules: ModuleBtf[];
  constructor(modules: ModuleBtf[]) {
    this.modules = modules;
  }
  close(): void {
    for (const m of this.modules) m.fd.close();
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Enumerates kernel BTF objects (BTF_GET_NEXT_ID → BTF_GET_FD_BY_ID → OBJ_GET_INFO_BY_FD), skipping vmlinux
 * and non-kernel BTF. EPERM while enumerating → no module BTF (warned), like libbpf's load_module_btfs.
 */
export function loadModuleBtfs(base: Btf = vmlinuxBtf()): ModuleBtfSet {
  const modules: ModuleBtf[] = [];
  try {
    for (let id = getNextId("btf", 0); id !== undefined; id = getNextId("btf", id)) {
      const fd = fdById("btf", id);
      if (!fd) continue;
      let keep = false;
      try {
        const info = btfInfo(fd.value);
        if (!info.kernelBtf || info.name === "vmlinux") continue;
        let parsed: Btf | undefined;
        const fdRef = fd;
        modules.push({
          name: info.name,
          id,
          fd,
          get btf(): Btf {
            parsed ??= parseBtf(btfInfo(fdRef.value, true).data!, {
              base,
              source: `module BTF '${info.name}'`,
            });
            return parsed;
          },
        });
        keep = true;
      } finally {
        if (!keep) fd.close();
      }
    }
  } catch (e) {
    if (e instanceof SyscallError && e.errnoName === "EPERM") {
      log.warn("cannot enumerate kernel module BTF (EPERM): module kfuncs and types will not be found");
    } else {
      for (const m of modules) m.fd.close();
      throw e;
    }
  }
  return new ModuleBtfSet(modules);
}
