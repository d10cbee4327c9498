/**
 * uprobe/uretprobe on this host: symbol → file offset through our ELF reader (checked against nm and
 * readelf), library names resolved like the dynamic linker, and real hits: the test calls libc getpid()
 * through koffi N times and the programs count exactly N (entry) and N returns whose value is our pid.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import koffi from "koffi";
import { isKfuncKitError } from "../../src/errors.ts";
import {
  attach,
  parseUprobeTarget,
  resolveBinary,
  symbolFileOffset,
  tracefsRoot,
} from "../../src/kernel/attach/index.ts";
import { compileFixture } from "../helpers/index.ts";
import { getU64, loadFixture, setU32, type TestObject } from "./attach-helpers.ts";

const getpid = koffi.load("libc.so.6").func("int getpid(void)") as () => number;
let obj: TestObject;
let libc: string;

before(() => {
  obj = loadFixture(compileFixture("attach-counters"), ["up_getpid", "uret_getpid"]);
  setU32(obj.maps.get("config")!.fd, process.pid);
  libc = resolveBinary("libc.so.6");
});
after(() => obj?.close());

const hits = (slot: number) => getU64(obj.maps.get("hits")!.fd, slot);

test("libc.so.6 resolves through the library path to the file the process has mapped", () => {
  const mapped = readFileSync("/proc/self/maps", "utf8")
    .split("\n")
    .map((l) => l.split(/\s+/)[5] ?? "")
    .find((p) => /\/libc\.so\.6$/.test(p));
  assert.ok(mapped, "node maps libc.so.6");
  assert.equal(
    execFileSync("realpath", [libc], { encoding: "utf8" }).trim(),
    execFileSync("realpath", [mapped], { encoding: "utf8" }).trim(),
  );
});

test("symbol file offsets match nm's value relocated by readelf's section table", () => {
  for (const sym of ["getpid", "malloc", "open"]) {
    const nm = execFileSync("nm", ["-D", "--defined-only", libc], { encoding: "utf8" })
      .split("\n")
      .find((l) => new RegExp(` ${sym}(@@?\\S+)?$`).test(l));
    assert.ok(nm, `nm lists ${sym}`);
    const value = Number.parseInt(nm.split(" ")[0]!, 16);
    const text = execFileSync("readelf", ["-SW", libc], { encoding: "utf8" })
      .split("\n")
      .find((l) => /\s\.text\s/.test(l))!;
    const f = text.replace(/^\s*\[\s*\d+\]\s*/, "").split(/\s+/);
    const addr = Number.parseInt(f[2]!, 16);
    const off = Number.parseInt(f[3]!, 16);
    assert.equal(symbolFileOffset(libc, sym), value - addr + off, sym);
  }
  assert.throws(
    () => symbolFileOffset(libc, "no_such_function_xyz"),
    (e: unknown) =>
      isKfuncKitError(e) && /not a function symbol/.test(e.message) && /nm -D/.test(e.hint ?? ""),
  );
});

test("uprobe target strings parse as binary:function[+offset] or binary:offset", () => {
  assert.deepEqual(parseUprobeTarget("libc.so.6:malloc"), {
    binary: "libc.so.6",
    symbol: "malloc",
    offset: 0,
  });
  assert.deepEqual(parseUprobeTarget("/bin/bash:readline+0x10"), {
    binary: "/bin/bash",
    symbol: "readline",
    offset: 16,
  });
  assert.deepEqual(parseUprobeTarget("/proc/self/exe:0x1234"), {
    binary: "/proc/self/exe",
    symbol: undefined,
    offset: 0x1234,
  });
  assert.throws(() => parseUprobeTarget("malloc"), /is not <binary>:<function>/);
});

function callGetpid(n: number): void {
  for (let i = 0; i < n; i++) assert.equal(getpid(), process.pid);
}

test("uprobe + uretprobe on libc getpid count exactly the test's calls (PMU, bpf_link)", () => {
  let h3 = 0;
  let h4 = 0;
  {
    using up = attach(obj.programs.get("up_getpid")!);
    using ret = attach(obj.programs.get("uret_getpid")!);
    // baseline after attaching: the runtime may call getpid() itself while we attach
    h3 = hits(3);
    h4 = hits(4);
    assert.equal(up.info.probeVia, "pmu");
    assert.equal(ret.info.kind, "uretprobe");
    assert.match(up.info.target, /libc\.so\.6:getpid$/);
    callGetpid(40);
  }
  assert.equal(hits(3) - h3, 40);
  assert.equal(hits(4) - h4, 40, "uretprobe saw getpid() return our pid 40 times");
  callGetpid(10);
  assert.equal(hits(3) - h3, 40, "detached: no more hits");
});

test("uprobe with a pid filter and through tracefs uprobe_events; the event is removed on close", () => {
  const link = attach(obj.programs.get("up_getpid")!, { pid: process.pid, forceIoctl: true });
  let h3 = hits(3);
  callGetpid(7);
  link.close();
  assert.equal(hits(3) - h3, 7);

  const events = `${tracefsRoot()}/uprobe_events`;
  const t = attach(obj.programs.get("up_getpid")!, { forceTracefs: true });
  h3 = hits(3) - 7;
  assert.equal(t.info.probeVia, "tracefs");
  assert.match(readFileSync(events, "utf8"), new RegExp(`kfunc_kit/uprobe_.*_${process.pid}_`));
  callGetpid(5);
  t.close();
  assert.equal(hits(3) - h3, 12);
  assert.doesNotMatch(readFileSync(events, "utf8"), new RegExp(`_${process.pid}_`), "event removed on close");
});

test("a uprobe on a binary that does not exist names it", () => {
  assert.throws(
    () => attach(obj.programs.get("up_getpid")!, { target: "/no/such/binary:main" }),
    /uprobe binary '\/no\/such\/binary' does not exist/,
  );
});
