/**
 * A growable byte buffer for generated C text. Writing bytes (and copying names straight out of the BTF
 * string section) avoids building millions of small strings for a 3 MB header.
 */
import { growBytes } from "./grow.ts";

const encoder = new TextEncoder();

export class ByteOut {
  buf: Uint8Array;
  pos = 0;
  private readonly onChunk: ((chunk: Uint8Array) => void) | undefined;
  private readonly flushAt: number;

  constructor(initial = 1 << 20, onChunk?: (chunk: Uint8Array) => void) {
    this.buf = new Uint8Array(initial);
    this.onChunk = onChunk;
    this.flushAt = initial >>> 1;
  }

  private grow(need: number): void {
    if (this.onChunk && this.pos > 0) {
      this.flush();
      if (this.pos + need <= this.buf.length) return;
    }
    this.buf = growBytes(this.buf, this.pos, need);
  }

  /** Hands the buffered bytes to onChunk (which must consume them before returning). */
  flush(): void {
    if (this.onChunk && this.pos > 0) {
      this.onChunk(this.buf.subarray(0, this.pos));
      this.pos = 0;
    }
  }

  /** Called at natural boundaries (between definitions) to keep chunks bounded when streaming. */
  maybeFlush(): void {
    if (this.onChunk && this.pos >= this.flushAt) this.flush();
  }

  /** Writes a string (ASCII fast path, UTF-8 otherwise). */
  s(str: string): void {
    const n = str.length;
    if (this.pos + n * 3 > this.buf.length) this.grow(n * 3);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = str.charCodeAt(i);
      if (c >= 0x80) {
        p += encoder.encodeInto(str.slice(i), b.subarray(p)).written;
        break;
      }
      b[p++] = c;
    }
    this.pos = p;
  }

  byte(c: number): void {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    this.buf[this.pos++] = c;
  }

  /** Writes a non-negative integer in decimal. */
  uint(n: number): void {
    if (this.pos + 24 > this.buf.length) this.grow(24);
    const buf = this.buf;
    if (n < 10) {
      buf[this.pos++] = 48 + n;
      return;
    }
    if (n > 0xffffffff) {
      this.s(String(n));
      return;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    for (let x = n; ; ) {
      const q = Math.floor(x / 10);
      buf[--p] = 48 + (x - q * 10);
      if (q === 0) break;
      x = q;
    }
  }

  /** Copies the NUL-terminated string at `start` of `bytes`. */
  cstr(bytes: Uint8Array, start: number): void {
    if (this.pos + 512 > this.buf.length) this.grow(512);
    const buf = this.buf;
    const limit = this.pos + 512;
    let p = this.pos;
    let i = start;
    for (;;) {
      const c = bytes[i++];
      if (c === 0 || c === undefined) break;
      if (p === limit) {
        // a long name: finish it the slow way
        this.pos = p;
        let end = i - 1;
        while (bytes[end] !== 0 && end < bytes.length) end++;
        if (this.pos + (end - i + 1) > this.buf.length) this.grow(end - i + 1);
        this.buf.set(bytes.subarray(i - 1, end), this.pos);
        this.pos += end - i + 1;
        return;
      }
      buf[p++] = c;
    }
    this.pos = p;
  }

  /** Tabs for indentation level `lvl` (at most 13, like libbpf). */
  tabs(lvl: number): void {
    const n = Math.min(lvl, 13);
    if (this.pos + n > this.buf.length) this.grow(n);
    for (let i = 0; i < n; i++) this.buf[this.pos++] = 9;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}
