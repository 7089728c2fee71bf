// apps/httpd/sitefs.ts — reads the read-only site image that `skiff mkfs`
// writes (format in cli/lib/sitefs.ts): the header and directory are checked
// (magic, version, CRC-32) and kept in memory; a file's bytes are read on
// demand, verified against the directory's CRC-32 and cached up to a budget.
// A damaged image never aborts: mount fails, or the file answers as missing.
//
// A file goes out as a BodySource (source()): from the cache or from the
// image itself when it is in memory (embedded), copied once, straight into
// the socket's send ring; a file the cache has no room for is read from the
// disk 64 KiB at a time into the connection's output buffer (the disk's DMA,
// then one copy into the ring), never held whole.
import { BodySource, BytesSource, HeaderLine } from "skiff";
import { crc32Update } from "../kv/crc32";   // the kv app's CRC-32 (one copy for both apps)

export const SITE_SECTOR: i32 = 512;
const MAGIC: u64 = 0x5346534646494b53;   // "SKIFFSFS" read as a little-endian u64
const VERSION: u32 = 1;
const ENTRY_BYTES: i32 = 40;
const MAX_PATH_BYTES: i32 = 1024;
const MAX_DIR_BYTES: u32 = 64 << 20;
const IO_CHUNK: i32 = 65536;

/** Where the image lives: a disk (reads in whole sectors) or memory. */
export abstract class SiteStore {
  abstract size(): u64;
  /** Reads len bytes at off (both multiples of SITE_SECTOR) into buf; 0 or a negative error. */
  abstract read(off: u64, buf: usize, len: i32): i32;
  /** The address of [off, off + len) when the image is in memory, else 0. */
  direct(off: u64, len: i32): usize { return 0; }
}

/** An image in linear memory (the embedded site). */
export class MemoryStore extends SiteStore {
  constructor(public ptr: usize, public len: i32) { super(); }
  size(): u64 { return <u64>this.len; }
  read(off: u64, buf: usize, len: i32): i32 {
    if (off > <u64>this.len) return -1;
    let n = len;
    if (off + <u64>n > <u64>this.len) n = <i32>(<u64>this.len - off);
    memory.copy(buf, this.ptr + <usize>off, <usize>n);
    if (n < len) memory.fill(buf + <usize>n, 0, <usize>(len - n));
    return 0;
  }
  direct(off: u64, len: i32): usize {
    return len < 0 || off + <u64>len > <u64>this.len ? 0 : this.ptr + <usize>off;
  }
}

export class SiteFile {
  path: string = "";
  offset: u64 = 0;
  size: u64 = 0;
  crc: u32 = 0;
  /** The strong entity tag, quoted: "\"<32 hex digits>\"". */
  etag: string = "";
  cached: Uint8Array | null = null;
  /** Its media type, once httpd looked it up (static.ts). */
  mime: string | null = null;
  /** Its ETag header line, made at its first response (static.ts). */
  etagLine: HeaderLine | null = null;
}

const HEX = "0123456789abcdef";

export class Site {
  files: SiteFile[] = [];
  problem: string = "";
  /** Bytes held by the content cache, and its budget. */
  cachedBytes: u64 = 0;
  cacheBudget: u64 = 32 << 20;
  reads: u64 = 0;
  checksumErrors: u64 = 0;

  constructor(public store: SiteStore) {}

  /** Reads and checks the header and directory; false (and problem) on any damage. */
  mount(): bool {
    const st = this.store;
    const size = st.size();
    if (size < <u64>SITE_SECTOR) return this.fail("the disk is smaller than one sector");
    const hdr = new Uint8Array(SITE_SECTOR);
    const h = hdr.dataStart;
    if (st.read(0, h, SITE_SECTOR) != 0) return this.fail("cannot read the header");
    if (load<u64>(h) != MAGIC) return this.fail("no SKIFFSFS magic: not a site image (make one with skiff mkfs)");
    if (load<u32>(h, 8) != VERSION) return this.fail("unsupported site image version " + load<u32>(h, 8).toString());
    if (crc32Update(0, h, 36) != load<u32>(h, 36)) return this.fail("header checksum mismatch");
    const count = load<u32>(h, 12);
    const dirOff = load<u32>(h, 16);
    const dirBytes = load<u32>(h, 20);
    if (dirOff % <u32>SITE_SECTOR != 0 || dirBytes > MAX_DIR_BYTES || <u64>dirOff + <u64>dirBytes > size) {
      return this.fail("directory out of bounds");
    }
    if (count > dirBytes / <u32>ENTRY_BYTES) return this.fail("file count does not fit the directory");
    const span = (<i32>dirBytes + SITE_SECTOR - 1) / SITE_SECTOR * SITE_SECTOR;
    const dir = new Uint8Array(span > 0 ? span : SITE_SECTOR);
    if (span > 0 && !this.readRange(<u64>dirOff, dir.dataStart, span)) return this.fail("cannot read the directory");
    const d = dir.dataStart;
    if (crc32Update(0, d, <i32>dirBytes) != load<u32>(h, 32)) return this.fail("directory checksum mismatch");
    // After the CRC matched, every field is still bounds-checked: a CRC is no
    // defence against an image crafted to be hostile.
    let at: i32 = 0;
    let prev = "";
    for (let i: u32 = 0; i < count; i++) {
      if (at + ENTRY_BYTES > <i32>dirBytes) return this.fail("directory entry " + i.toString() + " runs past the directory");
      const e = d + <usize>at;
      const plen = <i32>load<u16>(e);
      if (plen == 0 || plen > MAX_PATH_BYTES || at + ENTRY_BYTES + plen > <i32>dirBytes) return this.fail("bad path length in entry " + i.toString());
      const f = new SiteFile();
      f.crc = load<u32>(e, 4);
      f.offset = load<u64>(e, 8);
      f.size = load<u64>(e, 16);
      if (f.offset % <u64>SITE_SECTOR != 0 || f.offset > size || f.size > size - f.offset || f.size > <u64>0x7fffffff) {
        return this.fail("entry " + i.toString() + " points outside the image");
      }
      let tag = "\"";
      for (let k = 0; k < 16; k++) {
        const b = <i32>load<u8>(e + 24 + <usize>k);
        tag += HEX.charAt(b >> 4) + HEX.charAt(b & 15);
      }
      f.etag = tag + "\"";
      f.path = String.UTF8.decodeUnsafe(e + <usize>ENTRY_BYTES, <usize>plen);
      if (i > 0 && compareBytes(prev, f.path) >= 0) return this.fail("directory not sorted at entry " + i.toString());
      prev = f.path;
      this.files.push(f);
      at += (ENTRY_BYTES + plen + 7) & ~7;
    }
    return true;
  }

  private fail(why: string): bool {
    this.problem = why;
    this.files = [];
    return false;
  }

  /** The file at path (no leading "/"), or null. Binary search over the sorted directory. */
  lookup(path: string): SiteFile | null {
    let lo = 0;
    let hi = this.files.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const f = unchecked(this.files[mid]);
      const c = compareBytes(f.path, path);
      if (c == 0) return f;
      if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return null;
  }

  /** True when some file lives under dir + "/". */
  isDirectory(dir: string): bool {
    const p = dir + "/";
    for (let i = 0; i < this.files.length; i++) if (unchecked(this.files[i]).path.startsWith(p)) return true;
    return false;
  }

  /** f's bytes, checked against its CRC-32; null on an I/O or checksum error. */
  content(f: SiteFile): Uint8Array | null {
    const c = f.cached;
    if (c !== null) return c;
    const n = <i32>f.size;
    const span = (n + SITE_SECTOR - 1) / SITE_SECTOR * SITE_SECTOR;
    const buf = new Uint8Array(span);
    if (span > 0 && !this.readRange(f.offset, buf.dataStart, span)) return null;
    this.reads++;
    if (crc32Update(0, buf.dataStart, n) != f.crc) { this.checksumErrors++; return null; }
    // A view of the first n bytes, not a copy (the sector padding stays behind).
    const data = span == n ? buf : Uint8Array.wrap(buf.buffer, 0, n);
    if (this.cachedBytes + <u64>n <= this.cacheBudget) {
      f.cached = data;
      this.cachedBytes += <u64>n;
    }
    return data;
  }

  /** Bytes first..first+len of f as a response body, copied once as it is
   *  sent; null on an I/O or checksum error found before (a streamed file's
   *  checksum is checked before its last piece goes: a mismatch ends the
   *  response short). */
  source(f: SiteFile, first: i32, len: i32): BodySource | null {
    const c = f.cached;
    if (c !== null) return new BytesSource(c.dataStart + <usize>first, len, c.buffer);
    const n = <i32>f.size;
    const p = this.store.direct(f.offset, n);
    if (p != 0) {
      // In memory already (embedded): checked in place, sent from there.
      if (crc32Update(0, p, n) != f.crc) { this.checksumErrors++; return null; }
      return new BytesSource(p + <usize>first, len, null);
    }
    if (this.cachedBytes + <u64>n > this.cacheBudget) {
      // The cache has no room: stream it, never held whole.
      this.reads++;
      return new FileSource(this, f, first, len);
    }
    const data = this.content(f);
    if (data === null) return null;
    return new BytesSource(data.dataStart + <usize>first, len, data.buffer);
  }

  /** Reads len bytes at off (multiples of SITE_SECTOR) in pieces the store takes. */
  readRange(off: u64, buf: usize, len: i32): bool {
    for (let done = 0; done < len; done += IO_CHUNK) {
      const n = len - done < IO_CHUNK ? len - done : IO_CHUNK;
      if (this.store.read(off + <u64>done, buf + <usize>done, n) != 0) return false;
    }
    return true;
  }
}

/** Orders strings by their UTF-8 bytes (what mkfs sorts by), which is code
 *  point order. Compared a UTF-16 unit at a time: equal units are equal, and
 *  where they first differ, moving the surrogates (0xd800-0xdfff) above
 *  0xe000-0xffff gives code point order (a pair's high halves are equal
 *  when its low halves are compared, and both lie above the BMP). */
export function compareBytes(a: string, b: string): i32 {
  const n = a.length < b.length ? a.length : b.length;
  const pa = changetype<usize>(a), pb = changetype<usize>(b);
  for (let i = 0; i < n; i++) {
    let x = <u32>load<u16>(pa + (<usize>i << 1));
    let y = <u32>load<u16>(pb + (<usize>i << 1));
    if (x == y) continue;
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** A file the cache has no room for, read from the store as the response goes
 *  out: whole sectors straight into the buffer it is given (one disk request
 *  per piece), a sector that only partly fits through a one-sector staging
 *  buffer. A range's checksum
 *  cannot be checked (the file is not read whole); a whole file's is
 *  checked before its last piece is handed over, and a mismatch ends the
 *  response short, so the client never takes a damaged file for a good one. */
class FileSource extends BodySource {
  /** File offset of the next byte, and of the end. */
  private pos: u64;
  private end: u64;
  private crc: u32 = 0;
  private whole: bool;
  private stage: StaticArray<u8> | null = null;
  /** File offset of the sector in stage (-1: none). */
  private staged: i64 = -1;

  constructor(public site: Site, public f: SiteFile, first: i32, public len: i32) {
    super();
    this.pos = <u64>first;
    this.end = <u64>first + <u64>len;
    this.whole = first == 0 && <u64>len == f.size;
  }
  total(): i32 { return this.len; }
  read(dst: usize, max: i32): i32 {
    const left = this.end - this.pos;
    let n = <u64>max < left ? max : <i32>left;
    if (n <= 0) return 0;
    const sector = <u64>SITE_SECTOR;
    const whole = n & ~(SITE_SECTOR - 1);
    if (this.pos % sector == 0 && whole > 0) {
      n = whole < IO_CHUNK ? whole : IO_CHUNK;
      if (this.site.store.read(this.f.offset + this.pos, dst, n) != 0) return -1;
    } else {
      // Part of one sector: through the staging buffer.
      let st = this.stage;
      if (st === null) { st = new StaticArray<u8>(SITE_SECTOR); this.stage = st; }
      const at = this.pos - this.pos % sector;
      if (this.staged != <i64>at) {
        if (this.site.store.read(this.f.offset + at, changetype<usize>(st), SITE_SECTOR) != 0) return -1;
        this.staged = <i64>at;
      }
      const off = <i32>(this.pos - at);
      if (n > SITE_SECTOR - off) n = SITE_SECTOR - off;
      memory.copy(dst, changetype<usize>(st) + <usize>off, <usize>n);
    }
    this.pos += <u64>n;
    if (this.whole) {
      this.crc = crc32Update(this.crc, dst, n);
      if (this.pos == this.end && this.crc != this.f.crc) { this.site.checksumErrors++; return -1; }
    }
    return n;
  }
}
