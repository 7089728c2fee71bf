// apps/kv/log.ts — the kv store's storage engine: an append-only log of
// checksummed records on a block device, with the live keys indexed in memory.
// Kernel-independent (it sees only KvDisk), so unit tests run it against an
// in-memory disk that can crash.
//
// Disk layout (little-endian):
//
//   byte 0     superblock (one sector)
//              0 "SKIFFKV1"  8 u32 version  12 u32 epoch  16 u64 log start
//              24 u32 CRC-32 of bytes 0..24
//   LOG_START  records, back to back, not sector-aligned:
//              0 u32 magic "KVR1"   4 u32 CRC-32 of bytes 8..end, seeded with the epoch
//              8 u64 seq (1, 2, 3 ... with no gap)   16 u16 key length
//              18 u8 op (1 put, 2 delete)  19 u8 0   20 u32 value length
//              24 key bytes (UTF-8), then value bytes
//   after the last record: zeros
//
// Durability: put/delete write the record (re-writing the partial tail sector
// with the bytes it already held) and then flush; they return only after the
// flush, so a caller acknowledges a write only once it is on stable storage.
// Writes are issued one at a time, so after a crash at most one record — the
// last — can be torn. Recovery reads records in order and stops at the first
// that is not intact (bad magic, CRC, length or sequence number); the epoch
// (random per format) keeps records of an earlier format of the same disk
// from being read as ours. Whatever follows the last intact record is zeroed
// before new records go there, so leftovers of a torn record can never be
// mistaken for a later one.
import { crc32Update } from "./crc32";
import { KvDisk, DISK_SECTOR } from "./disk";

export const KV_OK: i32 = 0;
export const KV_ERR_IO: i32 = -1;          // the disk reported an error
export const KV_ERR_FULL: i32 = -2;        // no room left in the log
export const KV_ERR_TOO_LARGE: i32 = -3;   // key or value over the limit
export const KV_ERR_BAD_KEY: i32 = -4;     // empty key
export const KV_ERR_NOT_FOUND: i32 = -5;
export const KV_ERR_NOT_OURS: i32 = -6;    // the disk holds something else; not formatted
export const KV_ERR_CLOSED: i32 = -7;      // not opened, or a write failed (read-only until reboot)

export function kvErrorName(e: i32): string {
  if (e == KV_OK) return "ok";
  if (e == KV_ERR_IO) return "disk I/O error";
  if (e == KV_ERR_FULL) return "log full";
  if (e == KV_ERR_TOO_LARGE) return "key or value too large";
  if (e == KV_ERR_BAD_KEY) return "empty key";
  if (e == KV_ERR_NOT_FOUND) return "no such key";
  if (e == KV_ERR_NOT_OURS) return "disk holds data that is not a kv log (kv.format=1 formats it)";
  return "store not writable";
}

export const MAX_KEY_BYTES: i32 = 1024;
export const MAX_VALUE_BYTES: i32 = 1 << 20;

const SUPER_MAGIC: u64 = 0x31564b4646494b53;   // "SKIFFKV1" read as a little-endian u64
const VERSION: u32 = 1;
export const LOG_START: u64 = 4096;
const REC_MAGIC: u32 = 0x3152564b;         // "KVR1"
export const REC_HEADER: i32 = 24;
const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
/** Largest record, the most a torn tail can have scribbled. */
const MAX_RECORD: i32 = REC_HEADER + MAX_KEY_BYTES + MAX_VALUE_BYTES;
/** Disk I/O in pieces of at most this (and a read window of this size). */
const IO_CHUNK: i32 = 65536;

/** Reads the log byte-wise through a sector-aligned window. */
class Reader {
  buf: Uint8Array = new Uint8Array(IO_CHUNK);
  start: u64 = 0;
  len: i32 = 0;
  error: i32 = 0;
  constructor(public disk: KvDisk) {}

  /** Copies len bytes at off into dst; false on an I/O error or past the end. */
  copy(off: u64, dst: usize, len: i32): bool {
    let done = 0;
    while (done < len) {
      const at = off + <u64>done;
      if (at < this.start || at >= this.start + <u64>this.len) {
        if (!this.fill(at)) return false;
      }
      const inWin = <i32>(at - this.start);
      let n = this.len - inWin;
      if (n > len - done) n = len - done;
      memory.copy(dst + <usize>done, this.buf.dataStart + <usize>inWin, <usize>n);
      done += n;
    }
    return true;
  }

  private fill(at: u64): bool {
    const size = this.disk.size();
    const s = at - at % <u64>DISK_SECTOR;
    if (s >= size) return false;
    let n = <i32>(size - s < <u64>IO_CHUNK ? size - s : <u64>IO_CHUNK);
    const e = this.disk.read(s, this.buf.dataStart, n);
    if (e != 0) { this.error = e; this.len = 0; return false; }
    this.start = s;
    this.len = n;
    return true;
  }
}

export class KvStats {
  /** Records found intact at open. */
  recovered: u64 = 0;
  /** True when open found a torn or corrupt record after the last intact one. */
  tornTail: bool = false;
  puts: u64 = 0;
  deletes: u64 = 0;
  bytesWritten: u64 = 0;
  flushes: u64 = 0;
  errors: u64 = 0;
}

export class KvLog {
  private index: Map<string, Uint8Array> = new Map<string, Uint8Array>();
  private epoch: u32 = 0;
  /** Byte offset where the next record goes. */
  tail: u64 = LOG_START;
  /** Sequence number of the next record. */
  nextSeq: u64 = 1;
  private opened: bool = false;
  private failed: bool = false;
  stats: KvStats = new KvStats();
  /** Bytes of the partial sector at the tail (tail % 512 of them are live). */
  private tailSector: Uint8Array = new Uint8Array(DISK_SECTOR);
  /** Why open() failed, for the boot log. */
  problem: string = "";

  constructor(public disk: KvDisk) {}

  /** Mounts the log: formats a blank disk (all-zero first sector) or, when
   *  format is true, any disk; recovers the index from an existing log.
   *  epochSeed is used when formatting. */
  open(format: bool, epochSeed: u32): i32 {
    const d = this.disk;
    if (d.size() < LOG_START + <u64>(DISK_SECTOR * 2)) { this.problem = "disk too small"; return KV_ERR_FULL; }
    const sb = new Uint8Array(DISK_SECTOR);
    if (d.read(0, sb.dataStart, DISK_SECTOR) != 0) { this.problem = "cannot read the superblock"; return KV_ERR_IO; }
    const p = sb.dataStart;
    const valid = load<u64>(p) == SUPER_MAGIC && load<u32>(p, 8) == VERSION && load<u64>(p, 16) == LOG_START &&
      load<u32>(p, 24) == crc32Update(0, p, 24);
    if (!valid || format) {
      if (!valid && !format && !allZero(sb)) {
        this.problem = kvErrorName(KV_ERR_NOT_OURS);
        return KV_ERR_NOT_OURS;
      }
      return this.format(epochSeed);
    }
    this.epoch = load<u32>(p, 12);
    const e = this.recover();
    if (e != KV_OK) return e;
    this.opened = true;
    return KV_OK;
  }

  private format(epochSeed: u32): i32 {
    const d = this.disk;
    // A fresh epoch: records of any earlier log on this disk no longer verify.
    this.epoch = epochSeed == 0 ? 1 : epochSeed;
    const z = new Uint8Array(DISK_SECTOR);
    if (d.write(LOG_START, z.dataStart, DISK_SECTOR) != 0) { this.problem = "cannot write the log start"; return KV_ERR_IO; }
    const sb = new Uint8Array(DISK_SECTOR);
    const p = sb.dataStart;
    store<u64>(p, SUPER_MAGIC);
    store<u32>(p, VERSION, 8);
    store<u32>(p, this.epoch, 12);
    store<u64>(p, LOG_START, 16);
    store<u32>(p, crc32Update(0, p, 24), 24);
    // Log start zeroed before the superblock says the log exists.
    if (d.flush() != 0 || d.write(0, p, DISK_SECTOR) != 0 || d.flush() != 0) {
      this.problem = "cannot write the superblock";
      return KV_ERR_IO;
    }
    this.index.clear();
    this.tail = LOG_START;
    this.nextSeq = 1;
    this.tailSector.fill(0);
    this.opened = true;
    return KV_OK;
  }

  private recover(): i32 {
    const d = this.disk;
    const r = new Reader(d);
    const size = d.size();
    const hdr = new Uint8Array(REC_HEADER);
    const h = hdr.dataStart;
    let off = LOG_START;
    let seq: u64 = 1;
    while (off + <u64>REC_HEADER <= size) {
      if (!r.copy(off, h, REC_HEADER)) break;
      if (load<u32>(h) != REC_MAGIC) break;
      const rseq = load<u64>(h, 8);
      const klen = <i32>load<u16>(h, 16);
      const op = load<u8>(h, 18);
      const vlen = load<u32>(h, 20);
      if (rseq != seq || klen == 0 || klen > MAX_KEY_BYTES || vlen > <u32>MAX_VALUE_BYTES) break;
      if (op != OP_PUT && !(op == OP_DELETE && vlen == 0)) break;
      const end = off + <u64>REC_HEADER + <u64>klen + <u64>vlen;
      if (end > size) break;
      const body = new Uint8Array(klen + <i32>vlen);
      if (!r.copy(off + <u64>REC_HEADER, body.dataStart, body.length)) break;
      let c = this.seeded();
      c = crc32Update(c, h + 8, REC_HEADER - 8);
      c = crc32Update(c, body.dataStart, body.length);
      if (c != load<u32>(h, 4)) break;
      const key = String.UTF8.decodeUnsafe(body.dataStart, <usize>klen);
      if (op == OP_PUT) this.index.set(key, body.slice(klen));
      else if (this.index.has(key)) this.index.delete(key);
      this.stats.recovered++;
      seq++;
      off = end;
    }
    if (r.error != 0) { this.problem = "read error while recovering the log"; return KV_ERR_IO; }
    this.tail = off;
    this.nextSeq = seq;
    // Keep the live part of the tail sector for the next append.
    const sectorStart = off - off % <u64>DISK_SECTOR;
    this.tailSector.fill(0);
    if (sectorStart + <u64>DISK_SECTOR <= size && d.read(sectorStart, this.tailSector.dataStart, DISK_SECTOR) != 0) {
      this.problem = "cannot read the tail sector";
      return KV_ERR_IO;
    }
    // Zero whatever a torn record left after the tail (at most one record's worth).
    return this.scrubAfterTail();
  }

  private scrubAfterTail(): i32 {
    const d = this.disk;
    const size = d.size();
    const live = <i32>(this.tail % <u64>DISK_SECTOR);
    const sectorStart = this.tail - <u64>live;
    let end = this.tail + <u64>MAX_RECORD;
    end = end - end % <u64>DISK_SECTOR + <u64>DISK_SECTOR;
    if (end > size) end = size;
    const buf = new Uint8Array(IO_CHUNK);
    let dirty = false;
    for (let s = sectorStart; s < end && !dirty; s += <u64>IO_CHUNK) {
      const n = <i32>(end - s < <u64>IO_CHUNK ? end - s : <u64>IO_CHUNK);
      if (d.read(s, buf.dataStart, n) != 0) { this.problem = "read error after the tail"; return KV_ERR_IO; }
      const from = s == sectorStart ? live : 0;
      for (let i = from; i < n; i++) if (unchecked(buf[i]) != 0) { dirty = true; break; }
    }
    if (!dirty) return KV_OK;
    this.stats.tornTail = true;
    for (let s = sectorStart; s < end; s += <u64>IO_CHUNK) {
      const n = <i32>(end - s < <u64>IO_CHUNK ? end - s : <u64>IO_CHUNK);
      buf.fill(0);
      if (s == sectorStart) memory.copy(buf.dataStart, this.tailSector.dataStart, <usize>live);
      if (d.write(s, buf.dataStart, n) != 0) { this.problem = "cannot zero the torn tail"; return KV_ERR_IO; }
    }
    if (d.flush() != 0) { this.problem = "flush failed after zeroing the torn tail"; return KV_ERR_IO; }
    return KV_OK;
  }

  private seeded(): u32 {
    const e = new Uint8Array(4);
    store<u32>(e.dataStart, this.epoch);
    return crc32Update(0, e.dataStart, 4);
  }

  get isOpen(): bool { return this.opened && !this.failed; }
  get count(): i32 { return this.index.size; }
  /** Bytes of the log in use and in all. */
  get usedBytes(): u64 { return this.tail; }
  get capacityBytes(): u64 { return this.disk.size(); }

  has(key: string): bool { return this.index.has(key); }

  /** The value of key, or null. */
  get(key: string): Uint8Array | null {
    return this.index.has(key) ? this.index.get(key) : null;
  }

  /** Keys starting with prefix, in byte order, at most limit of them. */
  list(prefix: string, limit: i32): string[] {
    const keys = this.index.keys();
    const out = new Array<string>();
    for (let i = 0; i < keys.length; i++) {
      const k = unchecked(keys[i]);
      if (k.startsWith(prefix)) out.push(k);
    }
    out.sort(compareKeys);
    if (out.length > limit) out.length = limit;
    return out;
  }

  /** Stores key = value (value bytes at ptr); returns once durable. */
  put(key: string, ptr: usize, len: i32): i32 {
    if (len < 0 || len > MAX_VALUE_BYTES) return KV_ERR_TOO_LARGE;
    const e = this.append(OP_PUT, key, ptr, len);
    if (e != KV_OK) return e;
    const v = new Uint8Array(len);
    memory.copy(v.dataStart, ptr, <usize>len);
    this.index.set(key, v);
    this.stats.puts++;
    return KV_OK;
  }

  putBytes(key: string, v: Uint8Array): i32 { return this.put(key, v.dataStart, v.length); }

  /** Removes key; returns once durable (KV_ERR_NOT_FOUND writes nothing). */
  delete(key: string): i32 {
    if (!this.index.has(key)) return KV_ERR_NOT_FOUND;
    const e = this.append(OP_DELETE, key, 0, 0);
    if (e != KV_OK) return e;
    this.index.delete(key);
    this.stats.deletes++;
    return KV_OK;
  }

  private append(op: u8, key: string, vptr: usize, vlen: i32): i32 {
    if (!this.opened || this.failed) return KV_ERR_CLOSED;
    const klen = String.UTF8.byteLength(key);
    if (klen == 0) return KV_ERR_BAD_KEY;
    if (klen > MAX_KEY_BYTES) return KV_ERR_TOO_LARGE;
    const recLen = REC_HEADER + klen + vlen;
    const live = <i32>(this.tail % <u64>DISK_SECTOR);
    const sectorStart = this.tail - <u64>live;
    let total = live + recLen;
    total = (total + DISK_SECTOR - 1) / DISK_SECTOR * DISK_SECTOR;
    if (sectorStart + <u64>total > this.disk.size()) return KV_ERR_FULL;
    // The bytes to write: the tail sector's live part, the record, zeros.
    const buf = new Uint8Array(total);
    const b = buf.dataStart;
    memory.copy(b, this.tailSector.dataStart, <usize>live);
    const h = b + <usize>live;
    store<u32>(h, REC_MAGIC);
    store<u64>(h, this.nextSeq, 8);
    store<u16>(h, <u16>klen, 16);
    store<u8>(h, op, 18);
    store<u8>(h, 0, 19);
    store<u32>(h, <u32>vlen, 20);
    String.UTF8.encodeUnsafe(changetype<usize>(key), key.length, h + <usize>REC_HEADER, false);
    if (vlen > 0) memory.copy(h + <usize>(REC_HEADER + klen), vptr, <usize>vlen);
    let c = this.seeded();
    c = crc32Update(c, h + 8, recLen - 8);
    store<u32>(h, c, 4);
    for (let off = 0; off < total; off += IO_CHUNK) {
      const n = total - off < IO_CHUNK ? total - off : IO_CHUNK;
      if (this.disk.write(sectorStart + <u64>off, b + <usize>off, n) != 0) return this.fail();
    }
    this.stats.bytesWritten += <u64>total;
    if (this.disk.flush() != 0) return this.fail();
    this.stats.flushes++;
    this.tail += <u64>recLen;
    this.nextSeq++;
    // The new tail sector's live bytes, for the next append.
    const nlive = <i32>(this.tail % <u64>DISK_SECTOR);
    this.tailSector.fill(0);
    if (nlive > 0) memory.copy(this.tailSector.dataStart, b + <usize>(total - DISK_SECTOR), <usize>nlive);
    return KV_OK;
  }

  /** After a failed write or flush the state on disk is unknown: refuse
   *  further writes (reads keep working) until a reboot recovers the log. */
  private fail(): i32 {
    this.failed = true;
    this.stats.errors++;
    return KV_ERR_IO;
  }
}

function allZero(a: Uint8Array): bool {
  for (let i = 0; i < a.length; i++) if (unchecked(a[i]) != 0) return false;
  return true;
}

/** Orders keys by UTF-16 code units (the same as byte order for the BMP). */
function compareKeys(a: string, b: string): i32 {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d != 0) return d;
  }
  return a.length - b.length;
}
