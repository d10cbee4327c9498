/**
 * The allocation-free ring buffer consumers (cursor, consumeBatch, consumeView) and the epoll-driven async
 * iterators, against a real BPF producer on the host: records of every size wrap a one-page ring many times
 * and must arrive whole and in order through every API, discarded ones skipped; a reserved but uncommitted
 * (BUSY) record stops every consumer, records behind it included, until the producer commits it; an idle
 * iterator sleeps in epoll (no timeout) and still ends on abort and on close.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type Collection, loadObjectFile } from "../../src/kernel/index.ts";
import { RingBuffer } from "../../src/kernel/ringbuf.ts";
import { testRun } from "../../src/kernel/test-run.ts";
import { BPF_CMD } from "../../src/sys/bpf.ts";
import { addressNumber, bpfAtAsync, offHeap } from "../../src/sys/bpf-fast.ts";
import { compileFixture } from "../helpers/index.ts";

let objPath: string;
let coll: Collection;
before(async () => {
  objPath = compileFixture("ringbuf-batch");
  coll = await loadObjectFile(objPath);
});
after(() => coll?.close());

const DISCARD_EVERY = 5;
let nextSeq = 1;

/** Runs `produce` once: `count` records from nextSeq on (every 5th seq reserved and discarded). */
function produce(count: number): number[] {
  const args = new Uint8Array(16);
  const v = new DataView(args.buffer);
  v.setUint32(0, count, true);
  v.setUint32(4, nextSeq, true);
  v.setUint32(8, DISCARD_EVERY, true);
  const r = testRun(coll.program("produce"), { ctxIn: args });
  assert.equal(r.retval, 0);
  assert.equal(new DataView(r.ctxOut!.buffer, r.ctxOut!.byteOffset).getUint32(12, true), 0, "ring full");
  const seqs: number[] = [];
  for (let s = nextSeq; s < nextSeq + count; s++) if (s % DISCARD_EVERY !== 0) seqs.push(s);
  nextSeq += count;
  return seqs;
}

/** Checks one record's bytes against what `produce` wrote for its seq; returns the seq. */
function check(d: Uint8Array, off: number, len: number): number {
  const v = new DataView(d.buffer, d.byteOffset);
  const seq = v.getUint32(off, true);
  const size = v.getUint32(off + 4, true);
  assert.equal(size, 8 + ((seq * 13) % 56), `seq ${seq}: size field`);
  assert.equal(len, size, `seq ${seq}: record length`);
  for (let j = 0; j < len - 8; j++) assert.equal(d[off + 8 + j], (seq + j) & 0xff, `seq ${seq}: byte ${j}`);
  return seq;
}

test("records of every size wrap a one-page ring many times and arrive whole, in order, via every consumer", async () => {
  using rb = new RingBuffer(coll.map("rb"));
  assert.equal(rb.size, 4096);
  const apis = ["cursor", "batch", "batch3", "view", "raw", "consume", "batches", "records"] as const;
  let wrapped = 0;
  let total = 0;
  for (let round = 0; round < 80; round++) {
    const api = apis[round % apis.length]!;
    const expected = produce(40); // ≤ 40 × 72 bytes: fits the ring
    const got: number[] = [];
    const note = (d: Uint8Array, off: number, len: number) => {
      if ((off % 4096) + len > 4096) wrapped++;
      got.push(check(d, off, len));
    };
    if (api === "cursor") for (const c = rb.cursor(); c.next(); ) note(c.data, c.offset, c.length);
    else if (api === "batch" || api === "batch3") {
      // batch3: partial batches of 3, so batches end and restart inside the data
      const n = rb.consumeBatch(
        (b) => {
          for (let i = 0; i < b.count; i++) note(b.data, b.offsets[i]!, b.lengths[i]!);
        },
        api === "batch3" ? 3 : undefined,
      );
      assert.equal(n, expected.length);
    } else if (api === "view")
      rb.consumeView((r) => {
        note(r.data, r.offset, r.length);
        // u64 reads an aligned field as a word, an unaligned one through the DataView: both as the bytes say
        const v = new DataView(r.data.buffer, r.data.byteOffset);
        for (const at of [0, 4, 8]) {
          if (at + 8 > r.length) break;
          assert.equal(r.u64(at), v.getBigUint64(r.offset + at, true), `u64(${at}) at ${r.offset}`);
        }
        assert.equal(r.u64(0), (BigInt(r.u32(4)) << 32n) | BigInt(r.u32(0)));
      });
    else if (api === "raw") rb.consumeRaw(note);
    else if (api === "consume") rb.consume((d) => note(d, 0, d.byteLength));
    else if (api === "batches") {
      for await (const b of rb.batches({ max: 7 })) {
        for (let i = 0; i < b.count; i++) note(b.data, b.offsets[i]!, b.lengths[i]!);
        if (got.length >= expected.length) break;
      }
    } else {
      for await (const r of rb.records()) {
        note(r, 0, r.byteLength);
        if (got.length >= expected.length) break;
      }
    }
    assert.deepEqual(got, expected, `round ${round} (${api})`);
    assert.equal(rb.available, 0, `round ${round} (${api}): everything released`);
    total += got.length;
  }
  assert.ok(total > 2000);
  assert.ok(wrapped > 5, `records straddling the ring's end: ${wrapped}`);
});

test("a cursor left early hands out the rest next time, after release() nothing twice", () => {
  using rb = new RingBuffer(coll.map("rb"));
  const expected = produce(30);
  const c = rb.cursor();
  const first: number[] = [];
  while (first.length < 10 && c.next()) first.push(check(c.data, c.offset, c.length));
  c.release();
  const rest: number[] = [];
  for (const c2 = rb.cursor(); c2.next(); ) rest.push(check(c2.data, c2.offset, c2.length));
  assert.deepEqual([...first, ...rest], expected);
});

test("cursor, consumeRaw, consumeView and consume publish the consumer position as they go (every quarter ring), not only at the end", () => {
  using rb = new RingBuffer(coll.map("rb"));
  for (const api of ["cursor", "raw", "view", "consume"] as const) {
    const expected = produce(40); // ~1.6–2.9 KiB: more than a quarter of the 4 KiB ring
    const before = rb.available;
    let least = before;
    const got: number[] = [];
    const note = (d: Uint8Array, off: number, len: number) => {
      got.push(check(d, off, len));
      least = Math.min(least, rb.available);
    };
    if (api === "cursor") for (const c = rb.cursor(); c.next(); ) note(c.data, c.offset, c.length);
    else if (api === "raw") rb.consumeRaw(note);
    else if (api === "view") rb.consumeView((r) => note(r.data, r.offset, r.length));
    else rb.consume((d) => note(d, 0, d.byteLength));
    assert.deepEqual(got, expected, api);
    assert.ok(before > 1024, `${api}: ${before} bytes produced`);
    assert.ok(least < before && least > 0, `${api}: released mid-way (${least} of ${before} bytes left)`);
    assert.equal(rb.available, 0, `${api}: everything released at the end`);
  }
});

test("a callback that stops (returns false) or throws releases exactly the records handed out, its own included", () => {
  using rb = new RingBuffer(coll.map("rb"));
  for (const api of ["raw", "view", "consume"] as const) {
    const expected = produce(30);
    const got: number[] = [];
    // `stopAt`: return false from the nth record; `throwAt`: throw from it
    const drain = (stopAt: number, throwAt: number) => {
      let i = 0;
      const note = (d: Uint8Array, off: number, len: number) => {
        got.push(check(d, off, len));
        i++;
        if (i === throwAt) throw new Error(`record ${i}`);
        return i !== stopAt;
      };
      if (api === "raw") return rb.consumeRaw(note);
      if (api === "view") return rb.consumeView((r) => note(r.data, r.offset, r.length));
      return rb.consume((d) => note(d, 0, d.byteLength));
    };
    assert.equal(drain(10, 0), 10, `${api}: stopped at the 10th record`);
    assert.ok(rb.available > 0, `${api}: the rest is still there`);
    assert.throws(() => drain(0, 5), /record 5/, `${api}: the callback's error propagates`);
    assert.equal(got.length, 15, `${api}: 10 + 5 records handed out`);
    assert.equal(drain(0, 0), expected.length - 15, `${api}: the rest, nothing twice`);
    assert.deepEqual(got, expected, `${api}: every record once, in order`);
    assert.equal(rb.available, 0);
  }
});

test("two ring buffers on one map, each with its own callback (each has a consume loop of its own), see the same records", () => {
  using a = new RingBuffer(coll.map("rb"));
  using b = new RingBuffer(coll.map("rb"));
  const expected = produce(20);
  const got: number[] = [];
  let half = 0;
  a.consumeRaw((d, off, len) => {
    got.push(check(d, off, len));
    return ++half < 10;
  });
  b.consumeRaw((d, off, len) => void got.push(check(d, off, len) + 0));
  assert.deepEqual(got, expected);
  assert.equal(a.available, 0);
});

test("a reserved, uncommitted (BUSY) record stops every consumer until the producer commits it", async () => {
  using rb = new RingBuffer(coll.map("rb"));
  const flag = coll.map("flag");
  flag.set(0, 0);
  flag.set(1, 0);
  // `hold` reserves record 1, commits record 2 behind it, and keeps 1 busy until flag[0] is set
  const attr = offHeap(80);
  new DataView(attr.buffer).setUint32(0, coll.program("hold").fd, true);
  const run = bpfAtAsync(BPF_CMD.PROG_TEST_RUN, addressNumber(attr), 80);
  try {
    for (let i = 0; rb.available === 0; i++) {
      assert.ok(i < 5000, "the producer did not reserve within 5 s");
      await sleep(1);
    }
    const c = rb.cursor();
    assert.equal(c.next(), false, "the cursor must not pass a busy record");
    assert.equal(c.busy, true);
    assert.equal(
      rb.consumeBatch(() => {}),
      0,
    );
    assert.equal(
      rb.consumeRaw(() => {}),
      0,
    );
    assert.equal(
      rb.consume(() => {}),
      0,
    );
    assert.equal(
      rb.consumeView(() => {}),
      0,
    );
    assert.ok(rb.available > 0, "nothing was released past the busy record");
  } finally {
    flag.set(0, 1);
    assert.equal(await run, 0, "test run of 'hold'");
  }
  assert.equal(flag.get(1), 1, "the producer gave up waiting before the consumer saw the busy record");
  const seqs: number[] = [];
  for (const c = rb.cursor(); c.next(); ) seqs.push(c.view.getUint32(c.offset, true));
  assert.deepEqual(seqs, [1, 2]);
});

test("an idle async iterator sleeps in epoll with no timeout and ends on abort, and on close", {
  timeout: 20_000,
}, async () => {
  using rb = new RingBuffer(coll.map("rb"));
  rb.consume(() => {});
  const ac = new AbortController();
  let expected: number[] = [];
  setTimeout(() => {
    expected = produce(12);
  }, 100);
  const got: number[] = [];
  for await (const b of rb.batches({ signal: ac.signal })) {
    for (let i = 0; i < b.count; i++) got.push(check(b.data, b.offsets[i]!, b.lengths[i]!));
    if (expected.length > 0 && got.length >= expected.length) ac.abort();
  }
  assert.deepEqual(got, expected);
  // idle, no pollMs: only the abort's wake-up can end it
  const ac2 = new AbortController();
  setTimeout(() => ac2.abort(), 100);
  let n = 0;
  for await (const _b of rb.batches({ signal: ac2.signal })) n++;
  for await (const _r of rb.records({ signal: AbortSignal.abort() })) n++;
  assert.equal(n, 0);
  // and close() wakes a sleeping iterator too
  const it = rb.records();
  const pending = it.next();
  await sleep(50);
  rb.close();
  assert.deepEqual(await pending, { value: undefined, done: true });
});

test("a cursor kept past close() throws 'used after close' instead of reading the unmapped pages", () => {
  const rb = new RingBuffer(coll.map("rb"));
  rb.consume(() => {});
  produce(6);
  const c = rb.cursor();
  const own = rb.newCursor().reset();
  assert.equal(c.next(), true, "a record is there to read");
  rb.close();
  // without the stop, next() reads the next header from the unmapped data pages: SIGSEGV, not an error
  for (const [what, call] of [
    ["next()", () => c.next()],
    ["release()", () => c.release()],
    ["reset()", () => c.reset()],
    ["newCursor's next()", () => own.next()],
  ] as const)
    assert.throws(call, /ring buffer 'rb': used after close/, what);
  assert.throws(() => rb.cursor(), /used after close/);
});
