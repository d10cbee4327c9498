/** The growth rule of src/btf's two byte buffers (writer.ts's ByteWriter, c-out.ts's ByteOut). */

/** `buf`, or a copy of its first `used` bytes in a buffer doubled until `need` more bytes fit. */
export function growBytes(buf: Uint8Array, used: number, need: number): Uint8Array {
  if (used + need <= buf.length) return buf;
  let size = Math.max(1, buf.length) * 2;
  while (size < used + need) size *= 2;
  const next = new Uint8Array(size);
  next.set(buf.subarray(0, used));
  return next;
}
