// apps/kv/log.ts — the kv store's storage engine: a log-structured ring of
// checksummed records on a block device. Memory holds only key -> location
// (position, lengths, sequence number, body CRC); values are read from disk
// when asked for. When the ring fills, the oldest records are compacted:
// live ones are copied to the head, dead ones (overwritten or deleted values,
// tombstones) dropped, and the tail advances. Kernel-independent (it sees
// only KvDisk), so unit tests run it against an in-memory disk that can crash.
//
// Disk layout (little-endian; every record starts on a 512-byte sector):
//
//   0      superblock slot A (one sector)      4096  superblock slot B
//            0 "SKIFFKV2"  8 u32 version (2)  12 u32 epoch (random per format)
//           16 u64 generation (the slot with the higher valid one is current)
//           24 u64 area start (8192)  32 u64 area end
//           40 u64 tail: virtual position of the oldest record
//           48 u64 sequence number of the record at the tail
//           56 u32 CRC-32 of bytes 0..56
//   8192   the log area [start, end): a ring of records. A record's virtual
//          position v (u64, only ever grows) lives at start + v % size; a
//          record never crosses the area's end (a wrap record fills the rest).
//            0 u32 magic "KVR2"   4 u32 header CRC: bytes 8..32, seeded with the epoch
//            8 u64 seq (consecutive along the ring: tail seq, +1, +2 ...)
//           16 u16 key length  18 u8 op (1 put, 2 delete, 3 wrap)  19 u8 0
//           20 u32 value length  24 u32 body CRC (key bytes, then value bytes)  28 u32 0
//           32 key (UTF-8), value, zeros to the next sector
//
// Writes: put/delete write one record at the head and flush; they return only
// after the flush, so a caller acknowledges a write only once it is durable.
//
// Recovery reads the current superblock and walks the ring from its tail,
// expecting consecutive sequence numbers, until a record is not intact (bad
// magic, CRC, sequence or length): that is the head. Records of an earlier lap
// have smaller sequence numbers; records of an earlier format, another epoch.
// Whatever unflushed writes may have left after the head (at most one
// compaction step plus two records) is zeroed before anything new goes there,
// so a record left behind by a crash can never be read as a later one.
//
// Compaction (compactStep) takes records from the tail, in order: a live put
// (the index points at it) is copied to the head with a new sequence number;
// anything else is dropped. It then flushes the copies, and only then writes
// the superblock (the other slot, generation + 1) with the new tail, and
// flushes again. A crash before the superblock is durable leaves the old tail:
// originals and copies both replay, and the copy (later) wins with the same
// value. Dropping a tombstone is safe because compaction goes strictly in ring
// order: every older put of that key lies before the tombstone, so it is in
// the same step or already gone. Space before the tail is reused only after
// the superblock naming that tail is durable. A torn superblock write leaves
// the other slot, which still names a valid tail.
//
// Space: user writes keep a reserve of two largest records free, so
// compaction can always move at least one record; a write that does not fit
// runs compaction steps first, and is refused (KV_ERR_FULL) only when the
// live data itself leaves no room.
import { crc32Update } from "./crc32";
import { KvDisk, DISK_SECTOR } from "./disk";

export const KV_OK: i32 = 0;
export const KV_ERR_IO: i32 = -1;          // the disk reported an error
export const KV_ERR_FULL: i32 = -2;        // no room left, even after compaction
export const KV_ERR_TOO_LARGE: i32 = -3;   // key or value over the limit
export const KV_ERR_BAD_KEY: i32 = -4;     // empty key
export const KV_ERR_NOT_FOUND: i32 = -5;
export const KV_ERR_NOT_OURS: i32 = -6;    // the disk holds something else; not formatted
export const KV_ERR_CLOSED: i32 = -7;      // not opened, or a write failed (read-only until reboot)
export const KV_ERR_GONE: i32 = -8;        // a value being read was overwritten meanwhile, or is corrupt

export function kvErrorName(e: i32): string {
  if (e == KV_OK) return "ok";
  if (e == KV_ERR_IO) return "disk I/O error";
  if (e == KV_ERR_FULL) return "log full";
  if (e == KV_ERR_TOO_LARGE) return "key or value too large";
  if (e == KV_ERR_BAD_KEY) return "empty key";
  if (e == KV_ERR_NOT_FOUND) return "no such key";
  if (e == KV_ERR_NOT_OURS) return "disk holds data that is not a kv log of this version (kv.format=1 formats it)";
  if (e == KV_ERR_GONE) return "value overwritten or corrupt while being read";
  return "store not writable";
}

export const MAX_KEY_BYTES: i32 = 1024;
export const MAX_VALUE_BYTES: i32 = 1 << 20;

const SUPER_MAGIC: u64 = 0x32564b4646494b53;   // "SKIFFKV2" read as a little-endian u64
const VERSION: u32 = 2;
const SLOT_B: u64 = 4096;
const SB_CRC_AT: i32 = 56;
export const AREA_START: u64 = 8192;
/** The smallest log area: values are limited to an eighth of the area. */
const MIN_AREA: u64 = 64 << 10;
const REC_MAGIC: u32 = 0x3252564b;         // "KVR2"
export const REC_HEADER: i32 = 32;
const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
const OP_WRAP: u8 = 3;
/** Disk I/O in pieces of at most this. */
const IO_CHUNK: i32 = 131072;
/** A compaction step looks at about this many bytes of the tail. */
export const STEP_BYTES: u64 = 4 << 20;

const SECTOR: u64 = <u64>DISK_SECTOR;

// @ts-ignore: decorator
@inline
function roundUp(n: u64): u64 { return (n + SECTOR - 1) & ~(SECTOR - 1); }

/** Where a live value is. */
export class KvLoc {
  constructor(public v: u64, public seq: u64, public klen: i32, public vlen: i32, public bodyCrc: u32) {}
  /** Bytes the record takes on disk. */
  get size(): u64 { return roundUp(<u64>(REC_HEADER + this.klen + this.vlen)); }
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
  /** Compaction steps committed, records and bytes they copied, bytes they freed. */
  compactionSteps: u64 = 0;
  recordsMoved: u64 = 0;
  bytesMoved: u64 = 0;
  bytesReclaimed: u64 = 0;
  /** Values that failed their CRC or could not be read. */
  readErrors: u64 = 0;
  /** Values read (whole or in pieces) and bytes returned. */
  valueReads: u64 = 0;
  valueBytesRead: u64 = 0;
}

/** A relocation made by a compaction step, applied once it is durable. */
class Moved {
  constructor(public loc: KvLoc, public v: u64, public seq: u64) {}
}

export class KvLog {
  private index: Map<string, KvLoc> = new Map<string, KvLoc>();
  private epoch: u32 = 0;
  private generation: u64 = 0;
  areaStart: u64 = AREA_START;
  areaSize: u64 = 0;
  /** Virtual positions of the oldest record and of where the next goes. */
  tailV: u64 = 0;
  headV: u64 = 0;
  /** Sequence numbers of the record at the tail and of the next record. */
  tailSeq: u64 = 1;
  nextSeq: u64 = 1;
  /** Bytes of the records the index points at. */
  liveBytes: u64 = 0;
  /** Largest value this disk takes (1 MiB, less on a small disk). */
  maxValue: i32 = 0;
  private maxRecord: u64 = 0;
  private deleteReserve: u64 = 0;
  private opened: bool = false;
  private failed: bool = false;
  /** A background compaction pass is under way (wantsCompaction). */
  compacting: bool = false;
  stats: KvStats = new KvStats();
  /** Why open() failed, for the boot log. */
  problem: string = "";
  /** Sector-aligned reads land here; records are assembled here for writing. */
  private bounce: Uint8Array = new Uint8Array(IO_CHUNK + 2 * DISK_SECTOR);
  private stage: Uint8Array = new Uint8Array(IO_CHUNK);
  private keyBuf: Uint8Array = new Uint8Array(REC_HEADER + MAX_KEY_BYTES);

  constructor(public disk: KvDisk) {}

  // ---- opening -----------------------------------------------------------

  /** Mounts the log: formats a blank disk (both superblock sectors zero) or,
   *  when format is true, any disk; recovers the index from an existing log.
   *  epochSeed is used when formatting. */
  open(format: bool, epochSeed: u32): i32 {
    const d = this.disk;
    const size = d.size() & ~(SECTOR - 1);
    if (size < AREA_START + MIN_AREA) { this.problem = "disk too small (" + (MIN_AREA >> 10).toString() + " KiB of log at least)"; return KV_ERR_FULL; }
    const a = new Uint8Array(DISK_SECTOR);
    const b = new Uint8Array(DISK_SECTOR);
    if (d.read(0, a.dataStart, DISK_SECTOR) != 0 || d.read(SLOT_B, b.dataStart, DISK_SECTOR) != 0) {
      this.problem = "cannot read the superblock";
      return KV_ERR_IO;
    }
    const va = superValid(a, size), vb = superValid(b, size);
    if ((!va && !vb) || format) {
      if (!format && !(allZero(a) && allZero(b))) {
        this.problem = kvErrorName(KV_ERR_NOT_OURS);
        return KV_ERR_NOT_OURS;
      }
      return this.format(size, epochSeed);
    }
    const p = (va && (!vb || load<u64>(a.dataStart, 16) >= load<u64>(b.dataStart, 16)) ? a : b).dataStart;
    this.epoch = load<u32>(p, 12);
    this.generation = load<u64>(p, 16);
    this.setArea(load<u64>(p, 24), load<u64>(p, 32));
    this.tailV = load<u64>(p, 40);
    this.tailSeq = load<u64>(p, 48);
    const e = this.recover();
    if (e != KV_OK) return e;
    this.opened = true;
    return KV_OK;
  }

  private setArea(start: u64, end: u64): void {
    this.areaStart = start;
    this.areaSize = end - start;
    let mv = <i64>(this.areaSize / 8) - <i64>(REC_HEADER + MAX_KEY_BYTES + DISK_SECTOR);
    if (mv > <i64>MAX_VALUE_BYTES) mv = <i64>MAX_VALUE_BYTES;
    this.maxValue = <i32>mv;
    this.maxRecord = roundUp(<u64>(REC_HEADER + MAX_KEY_BYTES + this.maxValue));
    let dr = this.areaSize / 64;
    if (dr < (64 << 10)) dr = 64 << 10;
    if (dr > this.areaSize / 8) dr = this.areaSize / 8;
    this.deleteReserve = dr & ~(SECTOR - 1);
  }

  private format(size: u64, epochSeed: u32): i32 {
    // A fresh epoch: records of any earlier log on this disk no longer verify.
    this.epoch = epochSeed == 0 ? 1 : epochSeed;
    this.setArea(AREA_START, size);
    this.index.clear();
    this.liveBytes = 0;
    this.tailV = 0;
    this.headV = 0;
    this.tailSeq = 1;
    this.nextSeq = 1;
    this.generation = 0;
    // Slot B zeroed, then slot A written, each made durable in turn.
    const z = new Uint8Array(DISK_SECTOR);
    if (this.disk.write(SLOT_B, z.dataStart, DISK_SECTOR) != 0 || this.disk.flush() != 0 || this.writeSuper(0, 1) != KV_OK) {
      this.problem = "cannot write the superblock";
      return KV_ERR_IO;
    }
    // The log's first stretch zeroed, so no earlier log's records can chain on.
    const e = this.scrubAfterHead();
    if (e != KV_OK) return e;
    this.opened = true;
    return KV_OK;
  }

  /** Writes the superblock naming tail (tv, ts) as generation + 1 into the
   *  other slot, and flushes. */
  private writeSuper(tv: u64, ts: u64): i32 {
    const sb = new Uint8Array(DISK_SECTOR);
    const p = sb.dataStart;
    const gen = this.generation + 1;
    store<u64>(p, SUPER_MAGIC);
    store<u32>(p, VERSION, 8);
    store<u32>(p, this.epoch, 12);
    store<u64>(p, gen, 16);
    store<u64>(p, this.areaStart, 24);
    store<u64>(p, this.areaStart + this.areaSize, 32);
    store<u64>(p, tv, 40);
    store<u64>(p, ts, 48);
    store<u32>(p, crc32Update(0, p, SB_CRC_AT), SB_CRC_AT);
    if (this.disk.write((gen & 1) != 0 ? 0 : SLOT_B, p, DISK_SECTOR) != 0) return KV_ERR_IO;
    if (this.disk.flush() != 0) return KV_ERR_IO;
    this.stats.flushes++;
    this.generation = gen;
    return KV_OK;
  }

  private recover(): i32 {
    const h = this.keyBuf.dataStart;
    let v = this.tailV;
    let seq = this.tailSeq;
    let live: u64 = 0;
    while (v - this.tailV < this.areaSize) {
      const lap = v % this.areaSize;
      const phys = this.areaStart + lap;
      if (!this.readBytes(phys, h, REC_HEADER)) { if (this.failed) return this.ioProblem("reading the log"); break; }
      // A record in the expected place with the expected number that does
      // not check out is a torn write (or corruption); anything else (zeros,
      // an earlier lap's records) is simply where the log ends.
      const expected = load<u32>(h) == REC_MAGIC && load<u64>(h, 8) == seq;
      if (!this.headerOk(h, seq)) { if (expected) this.stats.tornTail = true; break; }
      const op = load<u8>(h, 18);
      const klen = <i32>load<u16>(h, 16);
      const vlen = <i32>load<u32>(h, 20);
      const size = op == OP_WRAP ? this.areaSize - lap : roundUp(<u64>(REC_HEADER + klen + vlen));
      // Never past the end of the area, never into the sector before the tail.
      if ((op != OP_WRAP && lap + size > this.areaSize) || (v + size) - this.tailV > this.areaSize - SECTOR) {
        this.stats.tornTail = true;
        break;
      }
      if (op == OP_WRAP) {
        v += size;
        seq++;
        this.stats.recovered++;
        continue;
      }
      if (!this.readBytes(phys + <u64>REC_HEADER, h + REC_HEADER, klen)) { if (this.failed) return this.ioProblem("reading the log"); break; }
      // The body CRC covers the key (already here) and the value (read in pieces).
      let c = crc32Update(0, h + REC_HEADER, klen);
      const cr = this.crcOnDisk(phys + <u64>(REC_HEADER + klen), vlen, c);
      if (this.failed) return this.ioProblem("reading the log");
      if (cr != load<u32>(h, 24)) { this.stats.tornTail = true; break; }
      const key = String.UTF8.decodeUnsafe(h + REC_HEADER, <usize>klen);
      if (this.index.has(key)) live -= this.index.get(key).size;
      if (op == OP_PUT) {
        this.index.set(key, new KvLoc(v, seq, klen, vlen, cr));
        live += size;
      } else if (this.index.has(key)) {
        this.index.delete(key);
      }
      this.stats.recovered++;
      v += size;
      seq++;
    }
    this.headV = v;
    this.nextSeq = seq;
    this.liveBytes = live;
    return this.scrubAfterHead();
  }

  private ioProblem(what: string): i32 { this.problem = "read error " + what; return KV_ERR_IO; }

  /** True when the header at h is a put, delete or wrap record with sequence
   *  number seq, its CRC right and its lengths in bounds. */
  private headerOk(h: usize, seq: u64): bool {
    if (load<u32>(h) != REC_MAGIC || load<u64>(h, 8) != seq) return false;
    if (load<u32>(h, 4) != crc32Update(this.seeded(), h + 8, REC_HEADER - 8)) return false;
    const op = load<u8>(h, 18);
    const klen = <i32>load<u16>(h, 16);
    const vlen = load<u32>(h, 20);
    if (op == OP_WRAP) return klen == 0 && vlen == 0;
    if (klen == 0 || klen > MAX_KEY_BYTES || vlen > <u32>this.maxValue) return false;
    return op == OP_PUT || (op == OP_DELETE && vlen == 0);
  }

  /** Zeroes what unflushed writes may have left after the head: a compaction
   *  step's copies and two records, bounded by the free space. */
  private scrubAfterHead(): i32 {
    let n = STEP_BYTES + 2 * this.maxRecord + SECTOR;
    const free = this.areaSize - (this.headV - this.tailV);
    if (n > free) n = free;
    const buf = this.stage;
    let dirty = false;
    let v = this.headV;
    const end = this.headV + n;
    while (v < end) {
      const lap = v % this.areaSize;
      let k = end - v;
      if (k > this.areaSize - lap) k = this.areaSize - lap;
      if (k > <u64>IO_CHUNK) k = <u64>IO_CHUNK;
      if (this.disk.read(this.areaStart + lap, buf.dataStart, <i32>k) != 0) { this.problem = "read error after the head"; return KV_ERR_IO; }
      if (!allZeroAt(buf.dataStart, <i32>k)) {
        dirty = true;
        memory.fill(buf.dataStart, 0, <usize>k);
        if (this.disk.write(this.areaStart + lap, buf.dataStart, <i32>k) != 0) { this.problem = "cannot zero after the head"; return KV_ERR_IO; }
      }
      v += k;
    }
    if (dirty && this.disk.flush() != 0) { this.problem = "flush failed after zeroing past the head"; return KV_ERR_IO; }
    return KV_OK;
  }

  private seeded(): u32 {
    const e = new Uint8Array(4);
    store<u32>(e.dataStart, this.epoch);
    return crc32Update(0, e.dataStart, 4);
  }

  // ---- reading -----------------------------------------------------------

  /** Reads the sectors holding want (≤ IO_CHUNK) bytes at disk offset at into
   *  the bounce buffer; returns where they start in it, or -1 on an I/O error
   *  (then the log turns read-only). */
  private loadChunk(at: u64, want: i32): i32 {
    const s = at & ~(SECTOR - 1);
    const skip = <i32>(at - s);
    const n = <i32>roundUp(<u64>(skip + want));
    if (this.disk.read(s, this.bounce.dataStart, n) != 0) { this.fail(); return -1; }
    return skip;
  }

  /** Copies len bytes at disk offset off into dst; false on an I/O error. */
  private readBytes(off: u64, dst: usize, len: i32): bool {
    for (let done = 0; done < len; ) {
      const want = min(len - done, IO_CHUNK);
      const skip = this.loadChunk(off + <u64>done, want);
      if (skip < 0) return false;
      memory.copy(dst + <usize>done, this.bounce.dataStart + <usize>skip, <usize>want);
      done += want;
    }
    return true;
  }

  /** Continues CRC c over len bytes on disk at off (~c on an I/O error). */
  private crcOnDisk(off: u64, len: i32, c: u32): u32 {
    for (let done = 0; done < len; ) {
      const want = min(len - done, IO_CHUNK);
      const skip = this.loadChunk(off + <u64>done, want);
      if (skip < 0) return ~c;
      c = crc32Update(c, this.bounce.dataStart + <usize>skip, want);
      done += want;
    }
    return c;
  }

  get isOpen(): bool { return this.opened && !this.failed; }
  get count(): i32 { return this.index.size; }
  /** Bytes of the ring in use (records, dead ones too, and wrap gaps). */
  get usedBytes(): u64 { return this.headV - this.tailV; }
  get capacityBytes(): u64 { return this.areaSize; }
  /** Bytes free for new records, before the reserve compaction needs. */
  get freeBytes(): u64 { return this.areaSize - this.usedBytes - SECTOR; }
  get deadBytes(): u64 { return this.usedBytes - this.liveBytes; }

  has(key: string): bool { return this.index.has(key); }

  /** Where key's value is, or null. */
  locate(key: string): KvLoc | null { return this.index.has(key) ? this.index.get(key) : null; }

  /** True while the record at loc has not been overwritten (compaction may
   *  have moved it, but its old place stays intact until the head gets there). */
  intact(loc: KvLoc): bool { return this.headV <= loc.v + this.areaSize; }

  /** Copies len bytes of loc's value from byte pos into dst. KV_ERR_GONE when
   *  the record has been overwritten since loc was taken. */
  readValue(loc: KvLoc, pos: i32, dst: usize, len: i32): i32 {
    if (pos < 0 || len < 0 || pos + len > loc.vlen) return KV_ERR_TOO_LARGE;
    if (!this.intact(loc)) return KV_ERR_GONE;
    const phys = this.areaStart + loc.v % this.areaSize + <u64>(REC_HEADER + loc.klen + pos);
    if (!this.readBytes(phys, dst, len)) return KV_ERR_IO;
    this.stats.valueReads++;
    this.stats.valueBytesRead += <u64>len;
    return KV_OK;
  }

  /** CRC of key's bytes: where a value's body CRC starts. */
  keyCrc(key: string): u32 {
    const n = String.UTF8.byteLength(key);
    const b = this.keyBuf.dataStart;
    String.UTF8.encodeUnsafe(changetype<usize>(key), key.length, b, false);
    return crc32Update(0, b, n);
  }

  /** The value of key, read whole from disk and checked, or null (absent, or
   *  unreadable: see isOpen). For small values and tests; GET streams. */
  get(key: string): Uint8Array | null {
    const loc = this.locate(key);
    if (loc === null) return null;
    const out = new Uint8Array(loc.vlen);
    if (this.readValue(loc, 0, out.dataStart, loc.vlen) != KV_OK) return null;
    if (crc32Update(this.keyCrc(key), out.dataStart, out.length) != loc.bodyCrc) { this.stats.readErrors++; return null; }
    return out;
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

  // ---- writing -----------------------------------------------------------

  /** Stores key = value (value bytes at ptr); returns once durable. */
  put(key: string, ptr: usize, len: i32): i32 {
    if (len < 0 || len > MAX_VALUE_BYTES || (this.opened && len > this.maxValue)) return KV_ERR_TOO_LARGE;
    return this.append(OP_PUT, key, ptr, len);
  }

  putBytes(key: string, v: Uint8Array): i32 { return this.put(key, v.dataStart, v.length); }

  /** Removes key; returns once durable (KV_ERR_NOT_FOUND writes nothing). */
  delete(key: string): i32 {
    if (!this.index.has(key)) return KV_ERR_NOT_FOUND;
    return this.append(OP_DELETE, key, 0, 0);
  }

  /** Bytes a record of size bytes takes at position v, wrap gap included. */
  private cost(v: u64, size: u64): u64 {
    const lap = v % this.areaSize;
    return lap + size > this.areaSize ? this.areaSize - lap + size : size;
  }

  private append(op: u8, key: string, vptr: usize, vlen: i32): i32 {
    if (!this.opened || this.failed) return KV_ERR_CLOSED;
    const klen = String.UTF8.byteLength(key);
    if (klen == 0) return KV_ERR_BAD_KEY;
    if (klen > MAX_KEY_BYTES) return KV_ERR_TOO_LARGE;
    const size = roundUp(<u64>(REC_HEADER + klen + vlen));
    const e = this.makeRoom(size, op == OP_DELETE);
    if (e != KV_OK) return e;
    // Header and key first: the body CRC needs the key's bytes.
    const st = this.stage.dataStart;
    String.UTF8.encodeUnsafe(changetype<usize>(key), key.length, st + REC_HEADER, false);
    const bodyCrc = crc32Update(crc32Update(0, st + REC_HEADER, klen), vptr, vlen);
    let v = this.headV;
    let seq = this.nextSeq;
    if (this.cost(v, size) != size) {
      if (!this.writeWrap(v, seq)) return this.fail();
      v += this.areaSize - v % this.areaSize;
      seq++;
    }
    this.fillHeader(st, seq, op, klen, vlen, bodyCrc);
    // Stream header, key and value through the staging buffer.
    const phys = this.areaStart + v % this.areaSize;
    let filled = REC_HEADER + klen;
    let done = 0;          // value bytes staged so far
    let written: u64 = 0;
    while (true) {
      let n = vlen - done;
      if (n > IO_CHUNK - filled) n = IO_CHUNK - filled;
      if (n > 0) memory.copy(st + <usize>filled, vptr + <usize>done, <usize>n);
      filled += n;
      done += n;
      const last = done == vlen;
      if (!last && filled < IO_CHUNK) continue;
      const out = <i32>roundUp(<u64>filled);
      if (out > filled) memory.fill(st + <usize>filled, 0, <usize>(out - filled));
      if (this.disk.write(phys + written, st, out) != 0) return this.fail();
      written += <u64>out;
      filled = 0;
      if (last) break;
    }
    if (this.disk.flush() != 0) return this.fail();
    this.stats.flushes++;
    this.stats.bytesWritten += written;
    // Durable: now the index and the head move.
    const old = this.index.has(key) ? this.index.get(key) : null;
    if (old !== null) this.liveBytes -= old.size;
    if (op == OP_PUT) {
      this.index.set(key, new KvLoc(v, seq, klen, vlen, bodyCrc));
      this.liveBytes += size;
      this.stats.puts++;
    } else {
      this.index.delete(key);
      this.stats.deletes++;
    }
    this.headV = v + size;
    this.nextSeq = seq + 1;
    return KV_OK;
  }

  private fillHeader(h: usize, seq: u64, op: u8, klen: i32, vlen: i32, bodyCrc: u32): void {
    store<u32>(h, REC_MAGIC);
    store<u64>(h, seq, 8);
    store<u16>(h, <u16>klen, 16);
    store<u8>(h, op, 18);
    store<u8>(h, 0, 19);
    store<u32>(h, <u32>vlen, 20);
    store<u32>(h, bodyCrc, 24);
    store<u32>(h, 0, 28);
    store<u32>(h, crc32Update(this.seeded(), h + 8, REC_HEADER - 8), 4);
  }

  /** Writes a wrap record at v (not flushed). */
  private writeWrap(v: u64, seq: u64): bool {
    const b = new Uint8Array(DISK_SECTOR);
    this.fillHeader(b.dataStart, seq, OP_WRAP, 0, 0, 0);
    this.stats.bytesWritten += SECTOR;
    return this.disk.write(this.areaStart + v % this.areaSize, b.dataStart, DISK_SECTOR) == 0;
  }

  /** Makes room for a user record of size bytes, keeping the reserve free;
   *  runs compaction steps as needed. Puts also leave room for deletes
   *  (an eighth of the reserve's worth of tombstones, at least 64 KiB), so a
   *  full store can still be emptied. */
  private makeRoom(size: u64, isDelete: bool): i32 {
    let reserve = 2 * this.maxRecord;
    if (!isDelete) reserve += this.deleteReserve;
    let budget = 2 * this.areaSize;     // at most two laps of compaction
    while (this.cost(this.headV, size) + reserve > this.freeBytes) {
      // The live data alone leaves no room: compaction cannot help.
      if (!isDelete && this.liveBytes + size + reserve + this.maxRecord + SECTOR > this.areaSize) return KV_ERR_FULL;
      const before = this.tailV;
      const e = this.compactStep(STEP_BYTES);
      if (e != KV_OK) return e;
      const moved = this.tailV - before;
      if (moved == 0 || moved > budget) return KV_ERR_FULL;
      budget -= moved;
    }
    return KV_OK;
  }

  // ---- compaction --------------------------------------------------------

  /** True when a background pass should run now: little room left and
   *  enough of the log dead to win it back. Starts and ends a pass
   *  (compacting), with some hysteresis. */
  wantsCompaction(): bool {
    if (!this.isOpen || this.headV == this.tailV) { this.compacting = false; return false; }
    // In terms of the room puts may use (the area less their reserve).
    const reserve = 2 * this.maxRecord + this.deleteReserve;
    const usable = this.areaSize - reserve;
    const free = this.freeBytes;
    const room = free > reserve ? free - reserve : 0;
    const dead = this.deadBytes;
    if (!this.compacting) {
      if (room < usable / 4 && dead >= usable / 8) this.compacting = true;
    } else if (room >= usable / 2 || dead < usable / 16) {
      this.compacting = false;
    }
    return this.compacting;
  }

  /** One compaction step over about limit bytes from the tail: live records
   *  copied to the head, the rest dropped, copies flushed, then the
   *  superblock's tail moved. KV_OK also when there was nothing to do. */
  compactStep(limit: u64): i32 {
    if (!this.opened || this.failed) return KV_ERR_CLOSED;
    // Bounded: recovery zeroes only this much (plus two records) past the head.
    if (limit > STEP_BYTES) limit = STEP_BYTES;
    const h = this.keyBuf.dataStart;
    let t = this.tailV;
    let tseq = this.tailSeq;
    let v = this.headV;
    let seq = this.nextSeq;
    const moved = new Array<Moved>();
    let copied: u64 = 0;
    let free = this.freeBytes;
    while (t < this.headV && t - this.tailV < limit) {
      const lap = t % this.areaSize;
      const phys = this.areaStart + lap;
      if (!this.readBytes(phys, h, REC_HEADER)) return KV_ERR_IO;
      if (!this.headerOk(h, tseq)) {
        // Recovery and our own writes checked every record: the disk changed under us.
        this.problem = "compaction found a bad record at the tail";
        return this.fail();
      }
      const op = load<u8>(h, 18);
      if (op == OP_WRAP) { t += this.areaSize - lap; tseq++; continue; }
      const klen = <i32>load<u16>(h, 16);
      const vlen = <i32>load<u32>(h, 20);
      const size = roundUp(<u64>(REC_HEADER + klen + vlen));
      let loc: KvLoc | null = null;
      if (op == OP_PUT) {
        if (!this.readBytes(phys + <u64>REC_HEADER, h + REC_HEADER, klen)) return KV_ERR_IO;
        const key = String.UTF8.decodeUnsafe(h + REC_HEADER, <usize>klen);
        if (this.index.has(key)) {
          const l = this.index.get(key);
          if (l.v == t) loc = l;
        }
      }
      if (loc !== null) {
        // Live: copy it to the head, if it fits without touching the tail.
        const need = this.cost(v, size);
        if (need > free) break;
        if (need != size) {
          if (!this.writeWrap(v, seq)) return this.fail();
          v += this.areaSize - v % this.areaSize;
          seq++;
        }
        const e = this.copyRecord(phys, this.areaStart + v % this.areaSize, size, seq, loc);
        if (e != KV_OK) return e;
        moved.push(new Moved(loc, v, seq));
        free -= need;
        copied += size;
        v += size;
        seq++;
      }
      t += size;
      tseq++;
    }
    if (t == this.tailV) return KV_OK;
    if (moved.length > 0) {
      if (this.disk.flush() != 0) return this.fail();
      this.stats.flushes++;
    }
    // The copies are durable: the superblock may now let the old places go.
    if (this.writeSuper(t, tseq) != KV_OK) return this.fail();
    for (let i = 0; i < moved.length; i++) {
      const m = unchecked(moved[i]);
      m.loc.v = m.v;
      m.loc.seq = m.seq;
    }
    this.stats.compactionSteps++;
    this.stats.recordsMoved += <u64>moved.length;
    this.stats.bytesMoved += copied;
    this.stats.bytesReclaimed += (t - this.tailV) - copied;
    this.tailV = t;
    this.tailSeq = tseq;
    this.headV = v;
    this.nextSeq = seq;
    return KV_OK;
  }

  /** Copies the record of size bytes at disk offset from to offset to with a
   *  new sequence number (a new header CRC; body and body CRC unchanged),
   *  checking the body against its CRC on the way. Not flushed. */
  private copyRecord(from: u64, to: u64, size: u64, seq: u64, loc: KvLoc): i32 {
    const st = this.stage.dataStart;
    const bodyLen = loc.klen + loc.vlen;
    let c: u32 = 0;
    for (let off: u64 = 0; off < size; off += <u64>IO_CHUNK) {
      const n = <i32>(size - off < <u64>IO_CHUNK ? size - off : <u64>IO_CHUNK);
      if (this.disk.read(from + off, st, n) != 0) return this.fail();
      // Body bytes in this chunk: [32, 32 + bodyLen) of the record.
      const b0 = off == 0 ? REC_HEADER : 0;
      let b1 = <i64>REC_HEADER + <i64>bodyLen - <i64>off;
      if (b1 > <i64>n) b1 = <i64>n;
      if (b1 > <i64>b0) c = crc32Update(c, st + <usize>b0, <i32>b1 - b0);
      if (off == 0) {
        store<u64>(st, seq, 8);
        store<u32>(st, crc32Update(this.seeded(), st + 8, REC_HEADER - 8), 4);
      }
      if (this.disk.write(to + off, st, n) != 0) return this.fail();
    }
    this.stats.bytesWritten += size;
    if (c != loc.bodyCrc) {
      this.problem = "compaction found a value that no longer matches its CRC";
      return this.fail();
    }
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

function superValid(a: Uint8Array, diskSize: u64): bool {
  const p = a.dataStart;
  if (load<u64>(p) != SUPER_MAGIC || load<u32>(p, 8) != VERSION) return false;
  if (load<u32>(p, SB_CRC_AT) != crc32Update(0, p, SB_CRC_AT)) return false;
  const start = load<u64>(p, 24), end = load<u64>(p, 32);
  return start == AREA_START && end <= diskSize && end >= start + MIN_AREA && (end & (SECTOR - 1)) == 0;
}

function allZero(a: Uint8Array): bool { return allZeroAt(a.dataStart, a.length); }

function allZeroAt(p: usize, n: i32): bool {
  let i = 0;
  for (; i + 8 <= n; i += 8) if (load<u64>(p + <usize>i) != 0) return false;
  for (; i < n; i++) if (load<u8>(p + <usize>i) != 0) return false;
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
