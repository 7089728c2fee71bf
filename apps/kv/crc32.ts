// apps/kv/crc32.ts — CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, the
// zlib/PNG one) over linear memory; used for kv log records and the httpd
// site image (which checks an embedded file on every request).
//
// Eight bytes per step ("slicing by 8"): eight 256-entry tables, where table
// k advances a byte's contribution by k more zero bytes, so one step XORs
// eight lookups instead of running eight dependent byte steps (about a
// quarter of the instructions). The tables (8 KiB) are built on first use;
// the tail is done a byte at a time with table 0.

let table: StaticArray<u32> | null = null;

function crcTable(): StaticArray<u32> {
  let t = table;
  if (t !== null) return t;
  const nt = new StaticArray<u32>(8 * 256);
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    unchecked(nt[n] = c);
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const prev = unchecked(nt[(k - 1) * 256 + n]);
      unchecked(nt[k * 256 + n] = unchecked(nt[prev & 0xff]) ^ (prev >>> 8));
    }
  }
  table = nt;
  return nt;
}

/** Continues a CRC: crc32Update(0, ...) starts one; the result of one call
 *  can be passed as crc to the next to cover more bytes. */
export function crc32Update(crc: u32, ptr: usize, len: i32): u32 {
  const t = changetype<usize>(crcTable());
  let c = ~crc;
  let i = 0;
  for (; i + 8 <= len; i += 8) {
    const a = load<u32>(ptr + <usize>i) ^ c;       // little-endian: byte 0 in the low bits
    const b = load<u32>(ptr + <usize>i, 4);
    c = load<u32>(t + ((7 << 8) + (a & 0xff) << 2)) ^ load<u32>(t + ((6 << 8) + ((a >>> 8) & 0xff) << 2)) ^
        load<u32>(t + ((5 << 8) + ((a >>> 16) & 0xff) << 2)) ^ load<u32>(t + ((4 << 8) + (a >>> 24) << 2)) ^
        load<u32>(t + ((3 << 8) + (b & 0xff) << 2)) ^ load<u32>(t + ((2 << 8) + ((b >>> 8) & 0xff) << 2)) ^
        load<u32>(t + ((1 << 8) + ((b >>> 16) & 0xff) << 2)) ^ load<u32>(t + ((b >>> 24) << 2));
  }
  for (; i < len; i++) {
    c = load<u32>(t + (((c ^ <u32>load<u8>(ptr + <usize>i)) & 0xff) << 2)) ^ (c >>> 8);
  }
  return ~c;
}

export function crc32(ptr: usize, len: i32): u32 { return crc32Update(0, ptr, len); }

export function crc32Bytes(a: Uint8Array): u32 { return crc32Update(0, a.dataStart, a.length); }
