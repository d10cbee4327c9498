/**
 * 64-bit eBPF arithmetic on (lo, hi) pairs of int32, shared by the interpreter and the JIT. A function
 * returns the low half and leaves the high half in `OUT[0]`. Division uses BigInt (rare in hot paths);
 * everything else stays in int32.
 */
export const OUT = new Int32Array(2);

export function mul64(al: number, ah: number, bl: number, bh: number): number {
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const p01 = Math.imul(a0, b1);
  const p10 = Math.imul(a1, b0);
  const mid = (Math.imul(a0, b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  OUT[0] =
    (Math.imul(a1, b1) + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + Math.imul(al, bh) + Math.imul(ah, bl)) |
    0;
  return Math.imul(al, bl);
}

export function toU64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

export function toI64(lo: number, hi: number): bigint {
  return (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0);
}

/** Splits a bigint (any sign) into the pair: returns lo, OUT[0] = hi. */
export function fromBig(v: bigint): number {
  OUT[0] = Number(BigInt.asIntN(32, v >> 32n));
  return Number(BigInt.asIntN(32, v));
}

/** Unsigned division; by zero gives 0 (RFC 9669). */
export function udiv64(al: number, ah: number, bl: number, bh: number): number {
  if (bl === 0 && bh === 0) {
    OUT[0] = 0;
    return 0;
  }
  if (ah === 0 && bh === 0) {
    OUT[0] = 0;
    return Math.floor((al >>> 0) / (bl >>> 0)) | 0;
  }
  return fromBig(toU64(al, ah) / toU64(bl, bh));
}

/** Unsigned modulo; by zero leaves the dividend. */
export function umod64(al: number, ah: number, bl: number, bh: number): number {
  if (bl === 0 && bh === 0) {
    OUT[0] = ah;
    return al;
  }
  if (ah === 0 && bh === 0) {
    OUT[0] = 0;
    return ((al >>> 0) % (bl >>> 0)) | 0;
  }
  return fromBig(toU64(al, ah) % toU64(bl, bh));
}

/** Signed division (truncating); by zero gives 0, INT64_MIN / -1 wraps to INT64_MIN. */
export function sdiv64(al: number, ah: number, bl: number, bh: number): number {
  if (bl === 0 && bh === 0) {
    OUT[0] = 0;
    return 0;
  }
  return fromBig(BigInt.asIntN(64, toI64(al, ah) / toI64(bl, bh)));
}

/** Signed modulo (sign of the dividend); by zero leaves the dividend. */
export function smod64(al: number, ah: number, bl: number, bh: number): number {
  if (bl === 0 && bh === 0) {
    OUT[0] = ah;
    return al;
  }
  return fromBig(toI64(al, ah) % toI64(bl, bh));
}

export function udiv32(a: number, b: number): number {
  return b === 0 ? 0 : Math.floor((a >>> 0) / (b >>> 0)) | 0;
}

export function umod32(a: number, b: number): number {
  return b === 0 ? a : ((a >>> 0) % (b >>> 0)) | 0;
}

export function sdiv32(a: number, b: number): number {
  return b === 0 ? 0 : Math.trunc((a | 0) / (b | 0)) | 0;
}

export function smod32(a: number, b: number): number {
  return b === 0 ? a : ((a | 0) % (b | 0)) | 0;
}

export function lsh64(l: number, h: number, n: number): number {
  n &= 63;
  if (n === 0) {
    OUT[0] = h;
    return l;
  }
  if (n < 32) {
    OUT[0] = (h << n) | (l >>> (32 - n));
    return l << n;
  }
  OUT[0] = l << (n - 32);
  return 0;
}

export function rsh64(l: number, h: number, n: number): number {
  n &= 63;
  if (n === 0) {
    OUT[0] = h;
    return l;
  }
  if (n < 32) {
    OUT[0] = h >>> n;
    return (l >>> n) | (h << (32 - n));
  }
  OUT[0] = 0;
  return h >>> (n - 32);
}

export function arsh64(l: number, h: number, n: number): number {
  n &= 63;
  if (n === 0) {
    OUT[0] = h;
    return l;
  }
  if (n < 32) {
    OUT[0] = h >> n;
    return (l >>> n) | (h << (32 - n));
  }
  OUT[0] = h >> 31;
  return h >> (n - 32);
}

export function bswap16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

export function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** 64-bit unsigned a < b. */
export function ult64(al: number, ah: number, bl: number, bh: number): boolean {
  return ah === bh ? al >>> 0 < bl >>> 0 : ah >>> 0 < bh >>> 0;
}

/** 64-bit signed a < b. */
export function slt64(al: number, ah: number, bl: number, bh: number): boolean {
  return ah === bh ? al >>> 0 < bl >>> 0 : (ah | 0) < (bh | 0);
}
