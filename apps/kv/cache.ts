// apps/kv/cache.ts — an optional cache of small values, so a GET of a hot
// small value needs no disk read. Bounded in bytes (values plus a fixed
// per-entry overhead), evicting the oldest entry first; every byte it holds is
// reported to a CacheMeter (main.ts charges the app's share of memory with
// it, so /metrics shows it under "app"). An entry is keyed by the KvLoc it
// was read from: a later put makes a new KvLoc, so a stale entry is never
// served (compaction moves a record by updating its KvLoc in place, which
// keeps the entry valid: same bytes).
import { KvLoc } from "./log";

/** Told of every change in the bytes the cache holds. */
export abstract class CacheMeter {
  abstract charge(delta: i64): void;
}

/** Bytes counted per entry besides the value (key, objects, map slot). */
const ENTRY_OVERHEAD: i32 = 96;

class Entry {
  constructor(public key: string, public loc: KvLoc, public value: Uint8Array) {}
  get bytes(): i32 { return this.value.length + this.key.length * 2 + ENTRY_OVERHEAD; }
}

export class ValueCache {
  private map: Map<string, Entry> = new Map<string, Entry>();
  /** Insertion order, oldest first; entries replaced or dropped stay here
   *  until they reach the front (then skipped). */
  private order: Entry[] = [];
  private head: i32 = 0;
  bytes: i64 = 0;
  hits: u64 = 0;
  misses: u64 = 0;

  /** limitBytes 0 disables the cache; values over maxValue are not kept. */
  constructor(public limitBytes: i64, public maxValue: i32, public meter: CacheMeter | null) {}

  get enabled(): bool { return this.limitBytes > 0; }
  get count(): i32 { return this.map.size; }

  /** The cached value of key if it was read from loc, else null (a miss). */
  get(key: string, loc: KvLoc): Uint8Array | null {
    if (!this.enabled || loc.vlen > this.maxValue) return null;
    if (this.map.has(key)) {
      const e = this.map.get(key);
      if (e.loc === loc) { this.hits++; return e.value; }
      this.drop(e);
    }
    this.misses++;
    return null;
  }

  put(key: string, loc: KvLoc, value: Uint8Array): void {
    if (!this.enabled || value.length > this.maxValue) return;
    if (this.map.has(key)) this.drop(this.map.get(key));
    const e = new Entry(key, loc, value);
    if (<i64>e.bytes > this.limitBytes) return;
    while (this.bytes + <i64>e.bytes > this.limitBytes && this.head < this.order.length) {
      const old = unchecked(this.order[this.head++]);
      if (this.map.has(old.key) && this.map.get(old.key) === old) this.drop(old);
    }
    this.map.set(key, e);
    this.order.push(e);
    this.account(<i64>e.bytes);
    // Keep the order list near the live entries: rebuild it once most of it
    // is dead (evicted, replaced or dropped entries).
    if (this.order.length - this.head > 2 * this.map.size + 64) {
      const live = new Array<Entry>();
      for (let i = this.head; i < this.order.length; i++) {
        const x = unchecked(this.order[i]);
        if (this.map.has(x.key) && this.map.get(x.key) === x) live.push(x);
      }
      this.order = live;
      this.head = 0;
    }
  }

  private drop(e: Entry): void {
    this.map.delete(e.key);
    this.account(-<i64>e.bytes);
  }

  private account(d: i64): void {
    this.bytes += d;
    const m = this.meter;
    if (m !== null) m.charge(d);
  }
}
