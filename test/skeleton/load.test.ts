/**
 * A generated skeleton on the host kernel: open() → set .rodata target_pid to this process → load() →
 * attach() → this process's own `rm` children unlink files → the ring buffer's typed records name each
 * child (pid, ppid, comm, kind, the tgid a kfunc read), .bss counters and a hash map count them; every
 * shape round-trips through a map's set/get and through the mmapped .data; a missing kfunc is a typed
 * load error naming it; close() detaches and closes everything.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { liveObjectCount } from "../../src/kernel/registry.ts";
import { testRun } from "../../src/kernel/test-run.ts";
import { generateSkeleton } from "../../src/skeleton/generate.ts";
import type { KfuncMissingError } from "../../src/skeleton/index.ts";
import { possibleCpus } from "../../src/sys/cpus.ts";
import { compileFixture, REPO_ROOT, tempDir } from "../helpers/index.ts";
import { requireBpf } from "../kernel/load-helpers.ts";

/** Writes the skeleton of a fixture (runtime imported from this checkout's src/) and imports it. */
async function importSkeleton(fixture: string, defines: string[] = []): Promise<Record<string, unknown>> {
  const obj = compileFixture(fixture, { defines });
  const g = generateSkeleton(new Uint8Array(readFileSync(obj)), obj, {
    name: fixture.replace(/-/g, "_"),
    importPath: join(REPO_ROOT, "src/skeleton/index.ts"),
  });
  const dir = tempDir("kfunc-kit-skel-load-");
  const file = join(dir, `${fixture}.skel.ts`);
  writeFileSync(file, g.ts);
  return (await import(file)) as Record<string, unknown>;
}

interface Event {
  pid: number;
  ppid: number;
  seq: bigint;
  comm: string;
  kind: number;
  tgid_via_kfunc: number;
}

// The generated module is imported at run time, so its types are not visible here: the shapes below are
// what generate.test.ts proves tsc sees.
interface ShapesSkeleton {
  rodata: { target_pid: number; label: string };
  data: { data_counter: number; shape_global: Record<string, unknown> };
  load(): Promise<{
    rodata: { target_pid: number; label: string };
    data: { data_counter: number; shape_global: Record<string, unknown> };
    bss: { unlinks: bigint; seq: bigint };
    maps: {
      counts: { get(k: number): bigint | undefined; entries(): Iterable<[number, bigint]> };
      events: {
        consume(cb: (e: Event) => unknown): number;
        records(o: { signal: AbortSignal }): AsyncGenerator<Event>;
      };
      by_key: {
        map: { ops: { key: Uint8Array }; lookupRaw(k: Uint8Array): Uint8Array | undefined };
        set(k: { pid: number; port: number }, v: { x: number; y: number }): void;
        get(k: { pid: number; port: number }): { x: number; y: number } | undefined;
        entries(): Iterable<[{ pid: number; port: number }, { x: number; y: number }]>;
        delete(k: { pid: number; port: number }): boolean;
      };
      shape_map: { set(k: number, v: Record<string, unknown>): void; get(k: number): unknown };
      per_cpu: { get(k: number): bigint[] | undefined; set(k: number, v: bigint[]): void };
    };
    attach(): { links: Array<{ closed: boolean }>; close(): void };
    collection: { closed: boolean };
    close(): void;
  }>;
}

function sample(i: number): Record<string, unknown> {
  return {
    u8: 200 + i,
    s8: i ? -i : 0,
    u16: 60000,
    s16: -3,
    u32: 0xfffffff0,
    s32: -5,
    u64: 0xffff_ffff_ffff_fff0n + BigInt(i),
    s64: -(2n ** 63n),
    u128: 2n ** 127n + 1n,
    flag: i % 2 === 1,
    name: `n${i}`,
    raw: new Uint8Array([i, 0, 255, 7]),
    kind: 2,
    big: 1n,
    lo: 7,
    mid: 8191,
    neg: -16,
    wide: 2n ** 60n - 1n,
    f32: 0.25,
    f64: -1e300,
    nested: { a: 65535, b: -128 },
    anon_a: 1,
    anon_b: 2,
    u: { as_u32: 0x01020304, as_bytes: new Uint8Array([4, 3, 2, 1]) },
    vec: new Uint32Array([i, 1, 2, 3]),
    svec: new BigInt64Array([-1n, 1n]),
    pair: [
      { a: 1, b: 1 },
      { a: 2, b: 2 },
    ],
    grid: [new Uint16Array([1, 2, 3]), new Uint16Array([4, 5, 6])],
    pt: { x: 0xffffffff, y: 0 },
    ptr: 0xdead_beefn,
    many: Array.from({ length: 40 }, (_, j) => ({ a: j * 1000, b: j === 0 ? 0 : -j })),
  };
}

test("a skeleton loads, takes .rodata before load, attaches, and reads typed records and .bss counters", async (t) => {
  if (!requireBpf(t)) return;
  const m = await importSkeleton("skel-shapes");
  const skel = (m["open"] as () => ShapesSkeleton)();
  assert.equal(skel.rodata.target_pid, 0);
  assert.equal(skel.rodata.label, "skel");
  assert.equal(skel.data.data_counter, 5);
  skel.rodata.target_pid = process.pid;
  assert.equal(skel.rodata.target_pid, process.pid);
  const obj = await skel.load();
  try {
    assert.equal(obj.rodata.target_pid, process.pid);
    assert.throws(() => {
      obj.rodata.target_pid = 1;
    }, /'target_pid' is read-only after load/);
    const links = obj.attach();
    assert.equal(links.links.length, 1);
    const children: number[] = [];
    for (let i = 0; i < 3; i++) {
      const f = join(tmpdir(), `kfunc-kit-skel-${process.pid}-${i}`);
      writeFileSync(f, "x");
      const r = spawnSync("rm", [f]);
      assert.equal(r.status, 0);
      assert.ok(!existsSync(f));
      children.push(r.pid!);
    }
    const seen: Event[] = [];
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 10_000);
    for await (const ev of obj.maps.events.records({ signal: ac.signal })) {
      seen.push(ev);
      if (seen.length === children.length) break;
    }
    clearTimeout(timer);
    assert.deepEqual(
      seen.map((e) => [e.pid, e.ppid, e.comm, e.kind, e.tgid_via_kfunc]),
      children.map((pid) => [pid, process.pid, "rm", 1, pid]),
    );
    assert.deepEqual(
      seen.map((e) => e.seq),
      [0n, 1n, 2n],
    );
    assert.equal(obj.bss.unlinks, 3n);
    assert.equal(obj.bss.seq, 3n);
    for (const pid of children) assert.equal(obj.maps.counts.get(pid), 1n);
    assert.equal(obj.maps.counts.get(1), undefined);
    assert.deepEqual(new Set([...obj.maps.counts.entries()].map(([k]) => k)), new Set(children));
    // .bss is written through the mmapped section too
    obj.bss.unlinks = 100n;
    assert.equal(obj.bss.unlinks, 100n);
    obj.close();
    assert.ok(links.links.every((l) => l.closed));
    assert.ok(obj.collection.closed);
  } finally {
    obj.close();
  }
});

test("every shape round-trips through a map's set/get and the mmapped .data; struct keys; per-CPU arrays", async (t) => {
  if (!requireBpf(t)) return;
  const m = await importSkeleton("skel-shapes");
  const skel = (m["open"] as () => ShapesSkeleton)();
  skel.data.shape_global = sample(3);
  const obj = await skel.load();
  try {
    assert.deepEqual(obj.data.shape_global, sample(3));
    for (const i of [0, 1]) {
      obj.maps.shape_map.set(i, sample(i));
      assert.deepEqual(obj.maps.shape_map.get(i), sample(i));
    }
    obj.data.shape_global = sample(4);
    assert.deepEqual(obj.data.shape_global, sample(4));
    // dirty padding in the key buffer: the skeleton must zero it (the kernel hashes every key byte)
    obj.maps.by_key.map.ops.key.fill(0xff);
    obj.maps.by_key.set({ pid: 7, port: 80 }, { x: 1, y: 2 });
    const rawKey = new Uint8Array(8);
    new DataView(rawKey.buffer).setUint32(0, 7, true);
    new DataView(rawKey.buffer).setUint16(4, 80, true);
    assert.ok(obj.maps.by_key.map.lookupRaw(rawKey), "found by its zero-padded bytes");
    assert.deepEqual(obj.maps.by_key.get({ pid: 7, port: 80 }), { x: 1, y: 2 });
    assert.deepEqual(
      [...obj.maps.by_key.entries()],
      [
        [
          { pid: 7, port: 80 },
          { x: 1, y: 2 },
        ],
      ],
    );
    assert.equal(obj.maps.by_key.delete({ pid: 7, port: 80 }), true);
    assert.equal(obj.maps.by_key.get({ pid: 7, port: 80 }), undefined);
    const cpus = possibleCpus();
    const values = Array.from({ length: cpus }, (_, i) => BigInt(i) * 10n);
    obj.maps.per_cpu.set(0, values);
    assert.deepEqual(obj.maps.per_cpu.get(0), values);
    assert.throws(() => obj.maps.per_cpu.set(0, [1n]), new RegExp(`expected an array of ${cpus} values`));
    assert.throws(
      () => obj.maps.shape_map.set(0, { ...sample(0), u64: 1 }),
      /map 'shape_map' value\.u64: expected a bigint, got number 1/,
    );
  } finally {
    obj.close();
  }
});

test("a kfunc the kernel lacks: load() throws KfuncMissingError naming it, and leaves nothing loaded", async (t) => {
  if (!requireBpf(t)) return;
  const m = await importSkeleton("skel-perf", ["MISSING_KFUNC"]);
  const skel = (m["open"] as () => { load(): Promise<unknown> })();
  const live = liveObjectCount();
  await assert.rejects(skel.load(), (e: KfuncMissingError) => {
    assert.equal(e.name, "KfuncMissingError");
    assert.equal(e.code, "KFUNC");
    assert.equal(e.kfunc, "bpf_kfunc_kit_no_such_kfunc");
    assert.match(e.message, /'bpf_kfunc_kit_no_such_kfunc': not found in kernel or module BTFs/);
    return true;
  });
  assert.equal(liveObjectCount(), live);
});

interface ViewEv {
  seq: number;
  neg: number;
  big: bigint;
  name: string;
  odd: boolean;
  lo: number;
  hi: number;
  in: { a: number; b: number };
  pair: Uint32Array;
  sbig: bigint;
}
const VIEW_FIELDS = ["seq", "neg", "big", "name", "odd", "lo", "hi", "in", "pair", "sbig"] as const;
type View = Readonly<ViewEv> & { toObject(): ViewEv; copy(): Uint8Array };
interface ViewsSkeleton {
  load(): Promise<{
    programs: { produce: Parameters<typeof testRun>[0] };
    maps: {
      rb: {
        consume(cb: (e: ViewEv) => unknown): number;
        consumeView(cb: (e: View) => unknown): number;
        cursor(): { next(): boolean; readonly record: View; release(): void };
      };
    };
    close(): void;
  }>;
}

test("typed record views (cursor, consumeView) read every field as decoding does, truncated records zero-padded", async (t) => {
  if (!requireBpf(t)) return;
  const m = await importSkeleton("skel-views");
  const obj = await (m["open"] as () => ViewsSkeleton)().load();
  try {
    const produce = (first: number, count: number) => {
      const args = new Uint8Array(16);
      const v = new DataView(args.buffer);
      v.setUint32(0, count, true);
      v.setUint32(4, first, true);
      v.setUint32(8, 4, true); // every 4th record is 6 bytes long
      testRun(obj.programs.produce, { ctxIn: args });
    };
    const rb = obj.maps.rb;
    let first = 1;
    // each round writes the same records three times: decoded copies (the reference), the cursor, consumeView
    for (let round = 0; round < 12; round++, first += 30) {
      produce(first, 30);
      const want: ViewEv[] = [];
      assert.equal(
        rb.consume((e) => want.push(e)),
        30,
      );
      produce(first, 30);
      const viaCursor: Array<{ fields: unknown[]; obj: ViewEv; len: number }> = [];
      for (const c = rb.cursor(); c.next(); ) {
        const r = c.record;
        viaCursor.push({ fields: VIEW_FIELDS.map((f) => r[f]), obj: r.toObject(), len: r.copy().byteLength });
      }
      produce(first, 30);
      const viaView: Array<{ fields: unknown[]; obj: ViewEv }> = [];
      rb.consumeView((r) => {
        viaView.push({ fields: VIEW_FIELDS.map((f) => r[f]), obj: r.toObject() });
      });
      assert.equal(viaCursor.length, 30, `round ${round}: cursor`);
      assert.equal(viaView.length, 30, `round ${round}: consumeView`);
      for (const [i, w] of want.entries()) {
        const at = `round ${round}, record ${i} (seq ${w.seq})`;
        assert.deepEqual(viaCursor[i]!.obj, w, `${at}: cursor toObject()`);
        assert.deepEqual(
          viaCursor[i]!.fields,
          VIEW_FIELDS.map((f) => w[f]),
          `${at}: cursor getters`,
        );
        assert.deepEqual(viaView[i]!.obj, w, `${at}: consumeView toObject()`);
        assert.deepEqual(
          viaView[i]!.fields,
          VIEW_FIELDS.map((f) => w[f]),
          `${at}: consumeView getters`,
        );
        const seq = first + i;
        if (seq % 4 === 0) {
          // truncated: seq and two bytes of neg survive, the rest reads as zero
          assert.equal(viaCursor[i]!.len, 6, at);
          assert.equal(w.seq, seq, at);
          assert.equal(w.big, 0n, at);
          assert.equal(w.name, "", at);
        } else {
          assert.equal(viaCursor[i]!.len, 48, at);
          assert.deepEqual(
            [w.seq, w.neg, w.big, w.name, w.odd, w.lo, w.hi, w.in, w.pair, w.sbig],
            [
              seq,
              -seq,
              (BigInt(seq) << 40n) | 0xabcdefn,
              `e${seq % 10}`,
              (seq & 1) === 1,
              seq & 7,
              (seq >> 3) & 31,
              { a: (seq * 3) & 0xffff, b: -(seq & 63) },
              new Uint32Array([seq + 1, seq + 2]),
              -BigInt(seq) * 1000000007n,
            ],
            at,
          );
        }
      }
    }
    // a cursor kept past close() throws instead of reading the unmapped ring
    produce(first, 3);
    const kept = rb.cursor();
    assert.equal(kept.next(), true);
    obj.close();
    assert.throws(() => kept.next(), /ring buffer 'rb': used after close/);
    assert.throws(() => rb.cursor(), /used after close/);
  } finally {
    obj.close();
  }
});
