// test/unit/wasm/kv.ts — drives the kv app's storage engine (apps/kv/log.ts)
// from Node over an in-memory disk that models a volatile write cache: writes
// become durable at flush, and crash() keeps some pending writes, tears one,
// and drops the rest, as a hard kill or power cut can. crashAtOp(n) makes the
// n-th next write or flush the moment the machine dies.
import { abortHandler } from "../../../kernel/core/panic";
import { KvDisk } from "../../../apps/kv/disk";
import { KvLog, KV_OK, STEP_BYTES } from "../../../apps/kv/log";
import { crc32, crc32Update } from "../../../apps/kv/crc32";
import { tokenEquals } from "../../../apps/kv/token";
import { ValueCache, CacheMeter } from "../../../apps/kv/cache";

class PendingWrite {
  constructor(public off: u64, public bytes: Uint8Array) {}
}

class MemDisk extends KvDisk {
  /** What reads see (writes land here at once, like a page cache). */
  data: Uint8Array;
  /** What survives a crash. */
  durable: Uint8Array;
  pending: PendingWrite[] = [];
  reads: i32 = 0;
  writes: i32 = 0;
  flushes: i32 = 0;
  /** Fail the write/flush after this many more succeed (-1: never). */
  failWriteIn: i32 = -1;
  /** Crash instead of the flush after this many more succeed (-1: never). */
  crashFlushIn: i32 = -1;
  crashKeep: i32 = 0;
  crashTorn: i32 = 0;
  /** Die at the write or flush after this many more (-1: never); after
   *  that every write and flush fails until the next open (reboot). */
  crashOpIn: i32 = -1;
  dead: bool = false;
  ops: i32 = 0;
  /** Keep this many pending writes whole at an op crash (-1: all; -2: only
   *  the last, as a disk that reorders writes between flushes may), tear the
   *  next by crashTorn bytes. */
  opKeep: i32 = 0;
  private opCrash(): bool {
    if (this.dead) return true;
    this.ops++;
    if (this.crashOpIn < 0) return false;
    if (this.crashOpIn > 0) { this.crashOpIn--; return false; }
    this.crashOpIn = -1;
    this.dead = true;
    this.crash(this.opKeep == -1 ? this.pending.length : this.opKeep, this.crashTorn);
    return true;
  }
  constructor(n: i32) {
    super();
    this.data = new Uint8Array(n);
    this.durable = new Uint8Array(n);
  }
  size(): u64 { return <u64>this.data.length; }
  read(off: u64, buf: usize, len: i32): i32 {
    if (off % 512 != 0 || len % 512 != 0 || off + <u64>len > <u64>this.data.length) return -3;
    this.reads++;
    memory.copy(buf, this.data.dataStart + <usize>off, <usize>len);
    return 0;
  }
  write(off: u64, buf: usize, len: i32): i32 {
    if (off % 512 != 0 || len % 512 != 0 || off + <u64>len > <u64>this.data.length) return -3;
    if (this.failWriteIn == 0) return -1;
    if (this.failWriteIn > 0) this.failWriteIn--;
    if (this.opCrash()) return -1;
    this.writes++;
    memory.copy(this.data.dataStart + <usize>off, buf, <usize>len);
    const b = new Uint8Array(len);
    memory.copy(b.dataStart, buf, <usize>len);
    this.pending.push(new PendingWrite(off, b));
    return 0;
  }
  flush(): i32 {
    if (this.opCrash()) return -1;
    if (this.crashFlushIn == 0) {
      this.crashFlushIn = -1;
      this.crash(this.crashKeep, this.crashTorn);
      return -1;
    }
    if (this.crashFlushIn > 0) this.crashFlushIn--;
    this.flushes++;
    for (let i = 0; i < this.pending.length; i++) {
      const p = this.pending[i];
      this.durable.set(p.bytes, <i32>p.off);
    }
    this.pending = [];
    return 0;
  }
  /** Pending writes 0..keep-1 reach the disk whole, write keep only its first
   *  torn bytes, the rest never; then the volatile state is lost. */
  crash(keep: i32, torn: i32): void {
    if (keep == -2) {
      // A disk that reorders: only the last write since the flush got there.
      if (this.pending.length > 0) {
        const p = this.pending[this.pending.length - 1];
        this.durable.set(p.bytes, <i32>p.off);
      }
      this.pending = [];
      this.data.set(this.durable);
      return;
    }
    for (let i = 0; i < this.pending.length; i++) {
      const p = this.pending[i];
      if (i < keep) this.durable.set(p.bytes, <i32>p.off);
      else if (i == keep && torn > 0) this.durable.set(p.bytes.subarray(0, torn < p.bytes.length ? torn : p.bytes.length), <i32>p.off);
    }
    this.pending = [];
    this.data.set(this.durable);
  }
}

let disk: MemDisk = new MemDisk(1 << 20);
let log: KvLog = new KvLog(disk);

export function newDisk(bytes: i32): void {
  disk = new MemDisk(bytes);
  log = new KvLog(disk);
}
/** A new KvLog over the same disk (a reboot). */
export function open(format: bool, seed: u32): i32 {
  disk.dead = false;
  disk.crashOpIn = -1;
  log = new KvLog(disk);
  return log.open(format, seed);
}
export function problem(): string { return log.problem; }
export function put(key: string, value: string): i32 {
  const b = Uint8Array.wrap(String.UTF8.encode(value));
  return log.putBytes(key, b);
}
export function putBin(key: string, value: ArrayBuffer): i32 {
  return log.putBytes(key, Uint8Array.wrap(value));
}
export function get(key: string): string | null {
  const v = log.get(key);
  return v === null ? null : String.UTF8.decodeUnsafe(v.dataStart, <usize>v.length);
}
export function getLength(key: string): i32 {
  const v = log.get(key);
  return v === null ? -1 : v.length;
}
export function getCrc(key: string): u32 {
  const v = log.get(key);
  return v === null ? 0 : crc32(v.dataStart, v.length);
}
/** CRC-32 of bytes [from, from + len) of a, continued from crc. */
export function crcPart(a: ArrayBuffer, from: i32, len: i32, crc: u32): u32 { return crc32Update(crc, changetype<usize>(a) + <usize>from, len); }
export function del(key: string): i32 { return log.delete(key); }
export function list(prefix: string, limit: i32): string { return log.list(prefix, limit).join("\n"); }
export function count(): i32 { return log.count; }
export function tail(): u64 { return log.headV; }
export function nextSeq(): u64 { return log.nextSeq; }
export function recovered(): u64 { return log.stats.recovered; }
export function tornTail(): bool { return log.stats.tornTail; }
export function isOpen(): bool { return log.isOpen; }
export function crash(keep: i32, torn: i32): void { disk.crash(keep, torn); }
export function pendingWrites(): i32 { return disk.pending.length; }
export function crashAtFlush(n: i32, keep: i32, torn: i32): void { disk.crashFlushIn = n; disk.crashKeep = keep; disk.crashTorn = torn; }
export function failWriteIn(n: i32): void { disk.failWriteIn = n; }
export function diskFlushes(): i32 { return disk.flushes; }
/** Sets byte off of the disk (both views): corruption or a foreign disk. */
export function poke(off: i32, v: u8): void { disk.data[off] = v; disk.durable[off] = v; }
export function peek(off: i32): u8 { return disk.durable[off]; }

export function crashAtOp(n: i32, keep: i32, torn: i32): void { disk.crashOpIn = n; disk.opKeep = keep; disk.crashTorn = torn; }
export function diskOps(): i32 { return disk.ops; }
export function diskDead(): bool { return disk.dead; }
export function compactStep(limit: u64): i32 { return log.compactStep(limit == 0 ? STEP_BYTES : limit); }
export function wantsCompaction(): bool { return log.wantsCompaction(); }
export function usedBytes(): u64 { return log.usedBytes; }
export function liveBytes(): u64 { return log.liveBytes; }
export function freeBytes(): u64 { return log.freeBytes; }
export function capacity(): u64 { return log.capacityBytes; }
export function headV(): u64 { return log.headV; }
export function tailV(): u64 { return log.tailV; }
export function maxValue(): i32 { return log.maxValue; }
export function steps(): u64 { return log.stats.compactionSteps; }
export function bytesMoved(): u64 { return log.stats.bytesMoved; }
export function diskReads(): i32 { return disk.reads; }
export function diskWrites(): i32 { return disk.writes; }
/** Reads key's value in pieces of piece bytes, as a streamed GET does, with a
 *  put of filler between pieces when churn > 0; the value as a string, or
 *  "!<error>" when a piece failed. */
export function getInPieces(key: string, piece: i32, churn: i32, replace: bool = false): string {
  const loc = log.locate(key);
  if (loc === null) return "!none";
  // The key replaced once reading started: the old record is dead from then on.
  if (replace) log.putBytes(key, new Uint8Array(10));
  const out = new Uint8Array(loc.vlen);
  let pos = 0;
  let i = 0;
  while (pos < loc.vlen) {
    const n = loc.vlen - pos < piece ? loc.vlen - pos : piece;
    const e = log.readValue(loc, pos, out.dataStart + <usize>pos, n);
    if (e != KV_OK) return "!" + e.toString();
    pos += n;
    if (churn > 0) {
      const f = new Uint8Array(churn);
      log.putBytes("churn" + (i++ % 3).toString(), f);
    }
  }
  return String.UTF8.decodeUnsafe(out.dataStart, <usize>out.length);
}
export function tokenOk(presented: string, expected: string): bool { return tokenEquals(presented, expected); }

// The small-value cache (apps/kv/cache.ts) over the current log.
class Meter extends CacheMeter {
  total: i64 = 0;
  charge(d: i64): void { this.total += d; }
}
let meter = new Meter();
let cache = new ValueCache(0, 0, null);
export function newCache(limit: i32, maxValue: i32): void { meter = new Meter(); cache = new ValueCache(<i64>limit, maxValue, meter); }
/** The value of key through the cache (filled on a miss), or "!none". */
export function cachedGet(key: string): string {
  const loc = log.locate(key);
  if (loc === null) return "!none";
  let v = cache.get(key, loc);
  if (v === null) {
    v = log.get(key);
    if (v === null) return "!io";
    cache.put(key, loc, v);
  }
  return String.UTF8.decodeUnsafe(v.dataStart, <usize>v.length);
}
export function cacheHits(): u64 { return cache.hits; }
export function cacheMisses(): u64 { return cache.misses; }
export function cacheBytes(): i64 { return cache.bytes; }
export function cacheCount(): i32 { return cache.count; }
export function meterTotal(): i64 { return meter.total; }
