// apps/httpd/sitefs.ts — reads the read-only site image that `skiff mkfs`
// writes (format in cli/lib/sitefs.ts): the header and directory are checked
// (magic, version, CRC-32) and kept in memory; a file's bytes are read on
// demand, verified against the directory's CRC-32 and cached up to a budget.
// A damaged image never aborts: mount fails, or the file answers as missing.
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
    const data = span == n ? buf : buf.slice(0, n);
    if (this.cachedBytes + <u64>n <= this.cacheBudget) {
      f.cached = data;
      this.cachedBytes += <u64>n;
    }
    return data;
  }

  private readRange(off: u64, buf: usize, len: i32): bool {
    for (let done = 0; done < len; done += IO_CHUNK) {
      const n = len - done < IO_CHUNK ? len - done : IO_CHUNK;
      if (this.store.read(off + <u64>done, buf + <usize>done, n) != 0) return false;
    }
    return true;
  }
}

/** Orders strings by their UTF-8 bytes (what mkfs sorts by): comparing code
 *  points does the same, with surrogate pairs counted as one code point. */
function compareBytes(a: string, b: string): i32 {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(i);
    if (x != y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}
