/**
 * RingBuffer on the host kernel: a tracepoint program sends one record per openat() of this process on a
 * unique path prefix; every record must arrive, in order, with the right contents; discarded records are
 * skipped; async iteration stops on abort; BTF decoding gives the struct's fields.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { parseBtf } from "../../src/btf/index.ts";
import { parseElf } from "../../src/elf/index.ts";
import { attach } from "../../src/kernel/attach/index.ts";
import { RingBuffer } from "../../src/kernel/ringbuf.ts";
import { compileFixture, rootSkip } from "../helpers/index.ts";
import {
  decodeEvent,
  loadFixture,
  openFdCount,
  openMissing,
  setStreamConfig,
  type TestObject,
} from "./attach-helpers.ts";

let obj: TestObject;
let objPath: string;
const prefix = `/tmp/kk-rb-${process.pid}-`;

const NOT_ROOT = rootSkip();

before(() => {
  if (NOT_ROOT) return;
  objPath = compileFixture("attach-streams");
  obj = loadFixture(objPath, ["rb_openat"]);
  setStreamConfig(obj.maps.get("config")!.fd, prefix);
});
after(() => obj?.close());

test("every record of N openat calls arrives once, in order, with its path; discarded ones are skipped", {
  skip: NOT_ROOT,
}, () => {
  using link = attach(obj.programs.get("rb_openat")!);
  using rb = new RingBuffer(obj.maps.get("events")!);
  assert.equal(rb.size, 1 << 16);
  const N = 300;
  const paths: string[] = [];
  for (let i = 0; i < N; i++) {
    // every 7th path contains "discard": the program reserves and discards it
    const tag = i % 7 === 3 ? "discard" : "keep";
    paths.push(`${prefix}${tag}${i}`);
    openMissing(`${prefix}${tag}${i}`, 1, "-");
  }
  void link;
  const got: ReturnType<typeof decodeEvent>[] = [];
  // 300 records × 88 bytes do not fit 64 KiB at once in general, so the test consumes as it goes below
  for (let round = 0; round < 20 && got.length < paths.filter((p) => !p.includes("discard")).length; round++)
    rb.poll(50, (d) => {
      got.push(decodeEvent(d));
    });
  const expected = paths.filter((p) => !p.includes("discard")).map((p) => `${p}-0`);
  assert.equal(got.length, expected.length);
  assert.deepEqual(
    got.map((e) => e.path),
    expected,
  );
  for (const [i, e] of got.entries()) {
    assert.equal(e.pid, process.pid);
    assert.equal(e.cookie, 0x1122334455667788n);
    if (i > 0) assert.ok(e.seq > got[i - 1]!.seq, "sequence numbers increase");
  }
  assert.equal(rb.available, 0);
});

test("a full ring drops records in the kernel but never hands out a partial or duplicate one", {
  skip: NOT_ROOT,
}, () => {
  using _link = attach(obj.programs.get("rb_openat")!);
  using rb = new RingBuffer(obj.maps.get("events")!);
  rb.consume(() => {});
  // 64 KiB / 88-byte records: ~744 fit; make 2000 without consuming
  openMissing(`${prefix}flood`, 2000);
  const seqs: number[] = [];
  rb.consume((d) => {
    const e = decodeEvent(d);
    assert.match(e.path, /flood\d+$/);
    seqs.push(e.seq);
  });
  assert.ok(seqs.length > 100 && seqs.length < 2000, `got ${seqs.length}`);
  assert.equal(new Set(seqs).size, seqs.length);
  // after draining, new records flow again
  openMissing(`${prefix}again`, 10);
  let again = 0;
  rb.consume((d) => {
    if (decodeEvent(d).path.includes("again")) again++;
  });
  assert.equal(again, 10);
});

test("records() yields records as they come and ends promptly on abort", { skip: NOT_ROOT }, async () => {
  using _link = attach(obj.programs.get("rb_openat")!);
  using rb = new RingBuffer(obj.maps.get("events")!);
  rb.consume(() => {});
  const ac = new AbortController();
  setTimeout(() => openMissing(`${prefix}async`, 40), 50);
  const paths: string[] = [];
  for await (const r of rb.records({ signal: ac.signal })) {
    paths.push(decodeEvent(r).path);
    if (paths.length === 40) ac.abort();
  }
  assert.equal(paths.length, 40);
  assert.equal(paths[39], `${prefix}async39`);
  // and an idle iterator stops on abort too
  const ac2 = new AbortController();
  setTimeout(() => ac2.abort(), 150);
  let n = 0;
  for await (const _r of rb.records({ signal: ac2.signal, pollMs: 50 })) n++;
  assert.equal(n, 0);
});

test("values() decodes records with the object's BTF type", { skip: NOT_ROOT }, async () => {
  const elf = parseElf(new Uint8Array(readFileSync(objPath)), objPath);
  const btf = parseBtf(elf.section(".BTF")!.data, { source: objPath });
  const ev = btf.findByName("event", "STRUCT")!;
  using _link = attach(obj.programs.get("rb_openat")!);
  using rb = new RingBuffer(obj.maps.get("events")!, { btf, typeId: ev.id });
  rb.consume(() => {});
  openMissing(`${prefix}typed`, 3);
  const ac = new AbortController();
  const out: unknown[] = [];
  for await (const v of rb.values({ signal: ac.signal })) {
    out.push(v);
    if (out.length === 3) ac.abort();
  }
  assert.deepEqual(
    out.map((v) => {
      const o = v as { pid: number; path: string; cookie: number | bigint };
      return [o.pid, o.path, BigInt(o.cookie)];
    }),
    [0, 1, 2].map((i) => [process.pid, `${prefix}typed${i}`, 0x1122334455667788n]),
  );
});

test("open/close leaves no fds or mappings behind", { skip: NOT_ROOT }, () => {
  const fds = openFdCount();
  const maps = readFileSync("/proc/self/maps", "utf8").split("\n").length;
  for (let i = 0; i < 100; i++) new RingBuffer(obj.maps.get("events")!).close();
  assert.equal(openFdCount(), fds);
  assert.equal(readFileSync("/proc/self/maps", "utf8").split("\n").length, maps);
});

test("a map that is not a ring buffer is refused by name", { skip: NOT_ROOT }, () => {
  assert.throws(() => new RingBuffer(obj.maps.get("config")!), /map 'config' is not a BPF_MAP_TYPE_RINGBUF/);
});
