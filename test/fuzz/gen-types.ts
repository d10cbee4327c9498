/**
 * Generative input for the writer: turns fuzz bytes into a list of BtfTypes with field values drawn from
 * edge cases (negative, 2^32, fractions, NaN, huge bigints, names with NUL or non-ASCII). encodeBtf must
 * either reject the list with a BtfError or encode it so that parseBtf gives the same types back.
 */
import { type BtfType, encodeBtf, parseBtf } from "../../src/btf/index.ts";

const NUMS = [
  0, 1, 2, 3, 4, 7, 8, 16, 32, 64, 128, 255, 256, 0xffff, 0x10000, 0xffffff, 0x1000000, 0x7fffffff,
];
const BAD = [-1, 0x100000000, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -0x80000001];
const NAMES = ["", "a", "int", "task_struct", "bpf_kfunc", "ünïcode", "名前", "x".repeat(300)];
const BIGS = [
  0n,
  1n,
  -1n,
  0xffffffffn,
  1n << 53n,
  (1n << 63n) - 1n,
  -(1n << 63n),
  (1n << 64n) - 1n,
  1n << 64n,
];

class Stream {
  private i = 0;
  /** Half of the lists are valid (they must round-trip); the other half carry exactly one bad value. */
  private badLeft: number;
  constructor(private readonly b: Uint8Array) {
    this.badLeft = this.byte() % 2;
  }
  byte(): number {
    return this.b.length ? this.b[this.i++ % this.b.length]! ^ (this.i >> 8) : 0;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.byte() % xs.length]!;
  }
  /** True at most once per list, at a position chosen by the bytes. */
  useBad(): boolean {
    if (this.badLeft > 0 && this.byte() < 40) {
      this.badLeft--;
      return true;
    }
    return false;
  }
  num(): number {
    return this.useBad() ? this.pick(BAD) : this.pick(NUMS);
  }
  id(n: number): number {
    return this.useBad() ? this.pick([n + 1, 1 << 20, -1, 0.5]) : this.byte() % (n + 1);
  }
  name(): string {
    return this.useBad() ? "nul\0inside" : this.pick(NAMES);
  }
  /** One of `good`, or (once per bad list) one of `bad`. */
  choice<T>(good: readonly T[], bad: readonly T[]): T {
    return this.useBad() ? this.pick(bad) : this.pick(good);
  }
}

export function generateTypes(bytes: Uint8Array): BtfType[] {
  const s = new Stream(bytes);
  const count = 1 + (s.byte() % 12);
  const types: BtfType[] = [];
  for (let k = 0; k < count; k++) {
    const id = s.useBad() ? k + 2 : k + 1;
    const name = s.name();
    const last = count;
    switch (s.byte() % 14) {
      case 0:
        types.push({
          id,
          name,
          kind: "INT",
          size: s.num(),
          encoding: s.pick([0, 1, 2, 4, 16]),
          bitOffset: s.num() % 300,
          bits: s.num(),
        });
        break;
      case 1:
        types.push({ id, name, kind: "PTR", type: s.id(last) });
        break;
      case 2:
        types.push({ id, name, kind: "ARRAY", type: s.id(last), indexType: s.id(last), nelems: s.num() });
        break;
      case 3: {
        const kindFlag = s.byte() % 2 === 0;
        // without kindFlag a member cannot be a bitfield: bitfieldSize 3 is the bad value there
        const members = Array.from({ length: s.byte() % 4 }, () => ({
          name: s.name(),
          type: s.id(last),
          bitOffset: s.num(),
          bitfieldSize: kindFlag ? s.choice([0, 1, 3, 255], [256, -1, 1.5, Number.NaN]) : s.choice([0], [3]),
        }));
        types.push({ id, name, kind: s.byte() % 2 ? "STRUCT" : "UNION", size: s.num(), kindFlag, members });
        break;
      }
      case 4: {
        const is64 = s.byte() % 2 === 0;
        const signed = s.byte() % 2 === 0;
        const values = Array.from({ length: s.byte() % 4 }, () => ({
          name: s.name(),
          value: s.choice<number | bigint>(
            is64
              ? signed
                ? [0, 1, -1, -5, 1n << 53n, (1n << 63n) - 1n, -(1n << 63n)]
                : [0, 1, 0xffffffff, 1n << 53n, (1n << 64n) - 1n, 2 ** 40]
              : signed
                ? [0, 1, -1, -0x80000000, 0x7fffffff]
                : [0, 1, 0xffffffff, 0x80000000],
            [...BAD, ...BIGS, -5],
          ),
        }));
        types.push({ id, name, kind: is64 ? "ENUM64" : "ENUM", size: s.pick([1, 2, 4, 8]), signed, values });
        break;
      }
      case 5:
        types.push({ id, name, kind: "FWD", union: s.byte() % 2 === 0 });
        break;
      case 6:
        types.push({
          id,
          name,
          kind: s.pick(["TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "TYPE_TAG"] as const),
          type: s.id(last),
        });
        break;
      case 7:
        types.push({
          id,
          name,
          kind: "FUNC",
          type: s.id(last),
          linkage: s.pick([0, 1, 2, 3, -1, 0x10000, 1.5]),
        });
        break;
      case 8:
        types.push({
          id,
          name,
          kind: "FUNC_PROTO",
          returnType: s.id(last),
          params: Array.from({ length: s.byte() % 3 }, () => ({ name: s.name(), type: s.id(last) })),
        });
        break;
      case 9:
        types.push({ id, name, kind: "VAR", type: s.id(last), linkage: s.choice([0, 1, 2], [-1, 1.5]) });
        break;
      case 10:
        types.push({
          id,
          name,
          kind: "DATASEC",
          size: s.num(),
          vars: Array.from({ length: s.byte() % 3 }, () => ({
            type: s.id(last),
            offset: s.num(),
            size: s.num(),
          })),
        });
        break;
      case 11:
        types.push({ id, name, kind: "FLOAT", size: s.num() });
        break;
      case 12:
        types.push({
          id,
          name,
          kind: "DECL_TAG",
          type: s.id(last),
          componentIdx: s.pick([-1, 0, 1, 5, -2, 0x10000, 0.5]),
        });
        break;
      default:
        if (s.useBad()) types.push({ id: 0, name: "", kind: "VOID" });
        else types.push({ id, name, kind: "FLOAT", size: 8 });
    }
  }
  return types;
}

const canon = (v: unknown) =>
  JSON.stringify(v, (_k, x) =>
    typeof x === "bigint" ? (x >= -(2n ** 53n) && x <= 2n ** 53n ? Number(x) : `${x}n`) : x,
  );

/** encodeBtf must reject (BtfError) or round-trip exactly. */
export function encodeRoundTrip(bytes: Uint8Array): void {
  const types = generateTypes(bytes);
  const le = bytes.length % 2 === 0;
  const encoded = encodeBtf(types, { littleEndian: le, source: "generated" });
  const back = [...parseBtf(encoded, { source: "generated" }).ownTypes()];
  // the writer stores what C stores: ENUM values are 32-bit, signedness from the flag
  const want = types.map((t) =>
    t.kind === "ENUM" ? { ...t, values: t.values.map((v) => ({ ...v, value: Number(v.value) })) } : t,
  );
  if (canon(back) !== canon(want))
    throw new Error(`encodeBtf/parseBtf round trip differs:\n  in:  ${canon(want)}\n  out: ${canon(back)}`);
}
