// apps/kv/crc32.ts — CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, the
// zlib/PNG one) over linear memory; used for kv log records and the httpd
// site image. Table-driven; the table is built on first use.

let table: StaticArray<u32> | null = null;

function crcTable(): StaticArray<u32> {
  let t = table;
  if (t !== null) return t;
  const nt = new StaticArray<u32>(256);
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    unchecked(nt[n] = c);
  }
  table = nt;
  return nt;
}

/** Continues a CRC: crc32Update(0, ...) starts one; the result of one call
 *  can be passed as crc to the next to cover more bytes. */
export function crc32Update(crc: u32, ptr: usize, len: i32): u32 {
  const t = crcTable();
  let c = ~crc;
  for (let i = 0; i < len; i++) {
    c = unchecked(t[(c ^ <u32>load<u8>(ptr + <usize>i)) & 0xff]) ^ (c >>> 8);
  }
  return ~c;
}

export function crc32(ptr: usize, len: i32): u32 { return crc32Update(0, ptr, len); }

export function crc32Bytes(a: Uint8Array): u32 { return crc32Update(0, a.dataStart, a.length); }
