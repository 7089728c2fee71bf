// kernel/platform/acpi/bytes.ts — the one little-endian reader for firmware tables:
// every access is bounds-checked (out of range reads as 0), so a table that
// lies about its length can make us read nonsense, never outside its bytes.

export function u8At(b: Uint8Array, o: i32): u32 { return o >= 0 && o < b.length ? <u32>unchecked(b[o]) : 0; }
export function u16At(b: Uint8Array, o: i32): u32 { return u8At(b, o) | (u8At(b, o + 1) << 8); }
export function u32At(b: Uint8Array, o: i32): u32 { return u16At(b, o) | (u16At(b, o + 2) << 16); }
export function u64At(b: Uint8Array, o: i32): u64 { return <u64>u32At(b, o) | (<u64>u32At(b, o + 4) << 32); }

/** Whether the bytes at o spell s (ASCII). */
export function bytesAre(b: Uint8Array, o: i32, s: string): bool {
  for (let i = 0; i < s.length; i++) if (u8At(b, o + i) != <u32>s.charCodeAt(i)) return false;
  return true;
}

/** The ACPI checksum of the first len bytes: 0 when they are intact. */
export function checksum(b: Uint8Array, len: i32): u32 {
  let s: u32 = 0;
  for (let i = 0; i < len && i < b.length; i++) s += unchecked(b[i]);
  return s & 0xff;
}

/** n bytes at o as printable ASCII ("?" for anything else): a table signature. */
export function signature(b: Uint8Array, o: i32, n: i32): string {
  let s = "";
  for (let i = 0; i < n; i++) {
    const c = u8At(b, o + i);
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : "?";
  }
  return s;
}
