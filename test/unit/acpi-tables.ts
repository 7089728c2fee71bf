// test/unit/acpi-tables.ts — ACPI tables built byte by byte for the unit tests
// (ACPI 6.5 §5.2): little-endian fields, the one-byte checksum, and the
// 36-byte system description table header.

export const le16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];
export const le32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
export const le64 = (v: bigint) => [...le32(Number(v & 0xffffffffn)), ...le32(Number(v >> 32n))];

/** Sets b[at] so the bytes [0, len) sum to 0 mod 256. */
export function checksum(b: Uint8Array, at: number, len = b.length): void {
  b[at] = 0;
  let s = 0;
  for (let i = 0; i < len; i++) s += b[i];
  b[at] = (256 - (s & 0xff)) & 0xff;
}

/** An SDT: 36-byte header (signature, length, revision, checksum, OEM id) + body. */
export function sdt(sig: string, body: number[]): Uint8Array {
  const b = new Uint8Array(36 + body.length);
  b.set(Buffer.from(sig, "ascii"), 0);
  new DataView(b.buffer).setUint32(4, b.length, true);
  b[8] = 1;
  b.set(Buffer.from("SKIFF ", "ascii"), 10);
  b.set(body, 36);
  checksum(b, 9);
  return b;
}
