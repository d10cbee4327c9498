/** Shared by the loader's host-kernel tests: a vmlinux.h for CO-RE fixtures, fixture compilation, root check. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { dumpC } from "../../src/btf/c-printer.ts";
import { parseBtf } from "../../src/btf/index.ts";
import { parseObject } from "../../src/object/index.ts";
import type { ObjectSpec } from "../../src/object/types.ts";
import { compileFixture, requireRoot } from "../helpers/index.ts";

let dir: string | undefined;

/** A directory holding vmlinux.h for the running kernel (our C printer; bpftool if the printer fails). */
export function vmlinuxHeaderDir(): string {
  if (dir) return dir;
  dir = join(tmpdir(), `kfunc-kit-vmlinux-${release()}`);
  const file = join(dir, "vmlinux.h");
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    let text: string;
    try {
      text = dumpC(parseBtf(readFileSync("/sys/kernel/btf/vmlinux"), { source: "vmlinux" }));
    } catch {
      text = execFileSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"], {
        encoding: "utf8",
        maxBuffer: 64 << 20,
      });
    }
    writeFileSync(`${file}.tmp`, text);
    execFileSync("mv", [`${file}.tmp`, file]);
  }
  return dir;
}

/** Compiles test/fixtures/<name>.bpf.c against vmlinux.h and parses it. */
export function fixtureSpec(name: string, defines: string[] = []): ObjectSpec {
  const obj = compileFixture(name, { includeDirs: [vmlinuxHeaderDir()], defines });
  return parseObject(readFileSync(obj), obj);
}

/** Skips (with the reason) unless we can load BPF programs here. */
export function requireBpf(t: TestContext): boolean {
  if (!requireRoot(t)) return false;
  if (!existsSync("/sys/kernel/btf/vmlinux")) {
    t.skip(`kernel ${release()} has no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF off)`);
    return false;
  }
  return true;
}

/** /proc/<pid>/status field. */
export function procStatus(pid: number, field: string): string {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`));
  return line ? line.slice(field.length + 1).trim() : "";
}
