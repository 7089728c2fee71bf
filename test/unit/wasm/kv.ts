// test/unit/wasm/kv.ts — drives the kv app's storage engine (apps/kv/log.ts)
// from Node over an in-memory disk that models a volatile write cache: writes
// become durable at flush, and crash() keeps some pending writes, tears one,
// and drops the rest, as a hard kill or power cut can.
import { abortHandler } from "../../../kernel/panic";
import { KvDisk } from "../../../apps/kv/disk";
import { KvLog, KV_OK } from "../../../apps/kv/log";
import { crc32 } from "../../../apps/kv/crc32";

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
    this.writes++;
    memory.copy(this.data.dataStart + <usize>off, buf, <usize>len);
    const b = new Uint8Array(len);
    memory.copy(b.dataStart, buf, <usize>len);
    this.pending.push(new PendingWrite(off, b));
    return 0;
  }
  flush(): i32 {
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
export function del(key: string): i32 { return log.delete(key); }
export function list(prefix: string, limit: i32): string { return log.list(prefix, limit).join("\n"); }
export function count(): i32 { return log.count; }
export function tail(): u64 { return log.tail; }
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
