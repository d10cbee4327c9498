/** src/sys/attr.ts: attrs and records written by field name on the generated layouts, sized to the last field. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Attr, addressOf, attrEnd, LayoutReader } from "../../src/sys/attr.ts";
import { encodeLinkCreate } from "../../src/sys/bpf-link.ts";
import { encodeFuncInfo, encodeLineInfo } from "../../src/sys/bpf-prog.ts";
import { encodePerfEventAttr } from "../../src/sys/perf.ts";
import {
  ITER_LINK_INFO,
  LINE_INFO,
  LINK_CREATE_ATTR,
  MAP_CREATE_ATTR,
  MAP_INFO,
  PROG_LOAD_ATTR,
} from "../../src/sys/uapi.generated.ts";

test("an attr ends at its last field; fields are written at the generated offsets by their size", () => {
  const a = Attr.upTo(MAP_CREATE_ATTR, "map_extra");
  assert.equal(a.bytes.byteLength, MAP_CREATE_ATTR.fields.map_extra.off + 8);
  a.set("map_type", 2)
    .set("max_entries", 0xffffffff)
    .set("map_extra", 1n << 40n)
    .str("map_name", "x".repeat(20));
  const v = new DataView(a.bytes.buffer);
  assert.equal(v.getUint32(MAP_CREATE_ATTR.fields.map_type.off, true), 2);
  assert.equal(v.getUint32(MAP_CREATE_ATTR.fields.max_entries.off, true), 0xffffffff);
  assert.equal(v.getBigUint64(MAP_CREATE_ATTR.fields.map_extra.off, true), 1n << 40n);
  const name = MAP_CREATE_ATTR.fields.map_name;
  assert.equal(a.bytes[name.off + name.size - 2], "x".charCodeAt(0));
  assert.equal(a.bytes[name.off + name.size - 1], 0, "names keep their NUL");
  assert.equal(attrEnd(PROG_LOAD_ATTR, "log_true_size"), 144);
});

test("a field past the attr's size is refused, naming it", () => {
  const a = Attr.upTo(MAP_CREATE_ATTR, "map_ifindex");
  assert.throws(() => a.set("btf_fd", 3), /field btf_fd \(bytes 48\.\.52\) is past this 48-byte attr/);
  assert.throws(() => a.set("map_name", 1), /map_name is 16 bytes, not an integer/);
});

test("func_info and line_info records are the kernel's structs", () => {
  const f = encodeFuncInfo([
    { insnIndex: 0, typeId: 5 },
    { insnIndex: 9, typeId: 7 },
  ]);
  assert.deepEqual([...new Uint32Array(f.buffer)], [0, 5, 9, 7]);
  const l = encodeLineInfo([{ insnIndex: 3, fileNameOff: 10, lineOff: 20, lineCol: (12 << 10) | 4 }]);
  assert.equal(l.byteLength, LINE_INFO.size);
  assert.deepEqual([...new Uint32Array(l.buffer)], [3, 10, 20, (12 << 10) | 4]);
});

test("info structs are read by field name", () => {
  const b = new Uint8Array(attrEnd(MAP_INFO, "map_extra"));
  const v = new DataView(b.buffer);
  v.setUint32(MAP_INFO.fields.key_size.off, 4, true);
  v.setBigUint64(MAP_INFO.fields.map_extra.off, 99n, true);
  b.set(new TextEncoder().encode("counts"), MAP_INFO.fields.name.off);
  const r = new LayoutReader(MAP_INFO, b);
  assert.equal(r.u32("key_size"), 4);
  assert.equal(r.u64("map_extra"), 99n);
  assert.equal(r.str("name"), "counts");
});

test("perf_event_attr is encoded on its generated layout, bitfields in the flags word", () => {
  const b = encodePerfEventAttr({
    type: 2,
    config: 77,
    sampleFreq: 99,
    disabled: true,
    wakeupEvents: 1,
    config1: 5n,
  });
  const v = new DataView(b.buffer);
  assert.equal(b.byteLength, 136, "PERF_ATTR_SIZE_VER8");
  assert.equal(v.getUint32(0, true), 2);
  assert.equal(v.getUint32(4, true), 136);
  assert.equal(v.getBigUint64(8, true), 77n);
  assert.equal(v.getBigUint64(16, true), 99n);
  assert.equal(v.getBigUint64(40, true), (1n << 0n) | (1n << 10n), "disabled and freq");
  assert.equal(v.getUint32(48, true), 1);
  assert.equal(v.getBigUint64(56, true), 5n);
});

test("BPF_LINK_CREATE for kprobe.multi: flags, count and a pointer array to NUL-terminated names", () => {
  const a = encodeLinkCreate({
    progFd: 7,
    attachType: 42,
    kprobeMulti: { syms: ["do_unlinkat", "vfs_read"], flags: 1 },
  });
  const F = LINK_CREATE_ATTR.fields;
  assert.equal(a.bytes.byteLength, F["kprobe_multi.cookies"].off + 8);
  const v = new DataView(a.bytes.buffer);
  assert.equal(v.getUint32(F.prog_fd.off, true), 7);
  assert.equal(v.getUint32(F.attach_type.off, true), 42);
  assert.equal(v.getUint32(F["kprobe_multi.flags"].off, true), 1);
  assert.equal(v.getUint32(F["kprobe_multi.cnt"].off, true), 2);
  const ptrs = a.pins.find((p) => p instanceof Uint8Array && p.byteLength === 16) as Uint8Array;
  assert.equal(v.getBigUint64(F["kprobe_multi.syms"].off, true), addressOf(ptrs), "syms points at the array");
  const names = a.pins.filter((p) => p !== ptrs) as Uint8Array[];
  assert.deepEqual(
    names.map((n) => new TextDecoder().decode(n.subarray(0, n.indexOf(0)))),
    ["do_unlinkat", "vfs_read"],
  );
  const pv = new DataView(ptrs.buffer);
  assert.deepEqual([pv.getBigUint64(0, true), pv.getBigUint64(8, true)], names.map(addressOf));
});

test("BPF_LINK_CREATE for iter/bpf_map_elem points at a bpf_iter_link_info with the map", () => {
  const a = encodeLinkCreate({ progFd: 3, attachType: 28, iter: { mapFd: 9 } });
  const F = LINK_CREATE_ATTR.fields;
  const v = new DataView(a.bytes.buffer);
  assert.equal(v.getUint32(F.iter_info_len.off, true), ITER_LINK_INFO.size);
  const info = a.pins[0] as Uint8Array;
  assert.equal(v.getBigUint64(F.iter_info.off, true), addressOf(info));
  assert.equal(new DataView(info.buffer).getUint32(ITER_LINK_INFO.fields["map.map_fd"].off, true), 9);
});
