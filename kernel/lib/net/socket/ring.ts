// kernel/lib/net/socket/ring.ts — a fixed-capacity byte ring for socket send and
// receive buffers. Layer: socket. Offsets are relative to the oldest byte.
//
// The storage is whole pages from kernel/core/mm's page allocator (through the
// stack's MemAccount), taken when the first byte arrives or is written and
// given back as soon as the ring is empty again (release()): an idle or
// closing connection holds no buffer, and the pages return to the pool
// rather than to the AS heap, which never shrinks.
//
// A ring may grow (grow()) up to maxCapacity: TCP asks when the connection
// moves data faster than the ring lets it (tcp.ts, buffer auto-tuning). The
// bytes keep their offsets, so out-of-order data and unacknowledged bytes
// stay where the socket expects them.
//
// Zero-copy transmit (kernel/lib/net/txpin.ts): a TSO packet may leave with
// descriptors pointing into a send ring's storage. While the device may
// still read it, pinLo holds the lowest stream offset (start counts the
// bytes discarded over the ring's life) such a packet reads, and free
// keeps writes from reaching past pinLo + capacity: bytes already ACKed
// but still queued for the device are not overwritten. Storage released
// or outgrown meanwhile is freed only once the device is done (MemAccount).
import { MemAccount } from "../counters";

export class RingBuffer {
  /** Start of the storage; 0 while the ring holds no pages. */
  base: usize = 0;
  head: i32 = 0;      // index of the oldest byte
  len: i32 = 0;
  /** The most grow() may reach (>= capacity). */
  maxCapacity: i32;
  /** Stream offset of the byte at head: bytes discarded since the ring was made. */
  start: i64 = 0;
  /** Lowest stream offset a queued zero-copy packet may still read from
   *  this storage (i64.MAX_VALUE: none; refreshed from MemAccount.pins). */
  pinLo: i64 = i64.MAX_VALUE;
  /** free came out smaller for a pin since the owner last looked (TCP then
   *  tells its writer once the device is done: no ACK may be coming). */
  pinBlocked: bool = false;

  constructor(public capacity: i32, public mem: MemAccount, maxCapacity: i32 = 0) {
    this.maxCapacity = maxCapacity > capacity ? maxCapacity : capacity;
  }

  /** Room for writes: capacity - len, less the ACKed bytes a queued
   *  zero-copy packet still reads (those below start, from pinLo on). */
  @inline get free(): i32 {
    const f = this.capacity - this.len;
    return this.pinLo < this.start ? this.pinnedFree(f) : f;
  }
  private pinnedFree(f: i32): i32 {
    const lo = this.mem.pins.lowFor(this.base);
    this.pinLo = lo;
    if (lo >= this.start) return f;
    this.pinBlocked = true;
    const r = <i64>f - (this.start - lo);
    return r > 0 ? <i32>r : 0;
  }

  /** A zero-copy packet now reads this storage from stream offset lo on. */
  pin(lo: i64): void { if (lo < this.pinLo) this.pinLo = lo; }
  @inline get allocated(): bool { return this.base != 0; }

  /** Takes the storage if the ring has none; false when memory is short. */
  ensure(): bool {
    if (this.base != 0) return true;
    const p = this.mem.allocBuffer(this.capacity);
    if (p == 0) return false;
    this.base = p;
    this.head = 0;
    this.pinLo = i64.MAX_VALUE;
    return true;
  }

  /** Gives the storage back. The caller knows nothing lies beyond len
   *  (no out-of-order bytes); bytes still queued are dropped. */
  release(): void {
    const p = this.base;
    if (p == 0) return;
    this.base = 0;
    this.head = 0;
    this.len = 0;
    this.pinLo = i64.MAX_VALUE;
    this.mem.freeBuffer(p, this.capacity);     // deferred while the device may read it
  }

  /** Makes the ring newCap bytes (at most maxCapacity), keeping every byte
   *  at its offset (out-of-order bytes beyond len included). Without storage
   *  only the size changes (pages are taken at the first byte, as before).
   *  False, and the ring unchanged, when it cannot grow or the memory
   *  account (its limit, or the page pool) says no. */
  grow(newCap: i32): bool {
    if (newCap > this.maxCapacity) newCap = this.maxCapacity;
    const old = this.capacity;
    if (newCap <= old) return false;
    const p = this.base;
    if (p == 0) { this.capacity = newCap; return true; }
    const q = this.mem.allocBuffer(newCap);
    if (q == 0) return false;
    // Unroll the old storage from head: offset i lands at q + i.
    const h = this.head;
    memory.copy(q, p + <usize>h, <usize>(old - h));
    if (h > 0) memory.copy(q + <usize>(old - h), p, <usize>h);
    this.mem.freeBuffer(p, old);               // deferred while the device may read it
    this.pinLo = i64.MAX_VALUE;                // pins name the old storage
    this.base = q;
    this.head = 0;
    this.capacity = newCap;
    return true;
  }

  /** Appends up to n bytes from src; returns how many fit (0 also when no
   *  storage could be had). */
  write(src: usize, n: i32): i32 {
    if (n > this.free) n = this.free;
    if (n <= 0 || !this.ensure()) return 0;
    this.copyIn(this.len, src, n);
    this.len += n;
    return n;
  }

  /** Contiguous free bytes at the tail (where the next write lands): the
   *  room a producer may fill in place (tailPtr, then commit). The storage
   *  must exist (ensure()). */
  tailSpan(): i32 {
    const pos = (this.head + this.len) % this.capacity;
    const toEnd = this.capacity - pos;
    return toEnd < this.free ? toEnd : this.free;
  }

  /** Where tailSpan()'s bytes start. */
  tailPtr(): usize { return this.base + <usize>((this.head + this.len) % this.capacity); }

  /** Adds n bytes written in place at tailPtr() (n <= tailSpan()). */
  commit(n: i32): void { if (n > 0) this.len += n; }

  /** Copies n bytes from src to offset off (off + n <= capacity) without
   *  changing len: out-of-order data is placed ahead of the filled part.
   *  The storage must exist (ensure()). */
  copyIn(off: i32, src: usize, n: i32): void {
    const base = this.base;
    let pos = (this.head + off) % this.capacity;
    const first = this.capacity - pos < n ? this.capacity - pos : n;
    memory.copy(base + <usize>pos, src, <usize>first);
    if (first < n) memory.copy(base, src + <usize>first, <usize>(n - first));
  }

  /** Copies up to n bytes starting at offset off into dst; returns the count. */
  peek(off: i32, dst: usize, n: i32): i32 {
    if (off >= this.len) return 0;
    if (n > this.len - off) n = this.len - off;
    const base = this.base;
    const pos = (this.head + off) % this.capacity;
    const first = this.capacity - pos < n ? this.capacity - pos : n;
    memory.copy(dst, base + <usize>pos, <usize>first);
    if (first < n) memory.copy(dst + <usize>first, base, <usize>(n - first));
    return n;
  }

  /** Drops n bytes from the front. */
  discard(n: i32): void {
    if (n > this.len) n = this.len;
    if (n <= 0) return;
    this.head = (this.head + n) % this.capacity;
    this.len -= n;
    this.start += <i64>n;
    // head must not jump back to 0 when empty: out-of-order bytes may sit
    // beyond len at positions relative to it (release() resets it).
  }

  read(dst: usize, n: i32): i32 {
    const got = this.peek(0, dst, n);
    this.discard(got);
    return got;
  }
}
