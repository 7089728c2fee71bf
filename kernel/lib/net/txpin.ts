// kernel/lib/net/txpin.ts — what keeps send-ring storage alive while the device
// may still read it (zero-copy transmit). Layer: stack (below the sockets, above
// the device, which it knows only as a NetDevice).
//
// A zero-copy TSO packet (TcpLayer.emit → Interface.sendTcpZc →
// NetDevice.transmitTsoZc) hands the device descriptors that point into a
// socket's send ring. Until the device returns that chain (its used entry),
// the bytes it names must neither move nor change:
// - a pin (storage base, the lowest stream offset the packet reads, the
//   device's sequence number for the chain) is recorded here for every such
//   packet; RingBuffer keeps the lowest pinned offset of its storage and
//   lets writes reach at most one capacity past it (ring.ts), so ACKed
//   bytes a queued packet still reads are not overwritten;
// - storage freed while pinned (the ring emptied, an abort with data queued,
//   grow() moving to larger storage) is deferred: MemAccount.freeBuffer
//   puts it here and it is freed for real once no pin names it (reclaim(),
//   from the stack's poll and from every free). Until then it stays in
//   MemAccount.used and shows as deferredBytes (/metrics
//   skiff_net_buffer_bytes{kind="deferred"}).
// Each deferred block has at least one live pin and blocks are distinct,
// so PIN_MAX deferred places always suffice; no pin place free → the packet
// is copied instead (TcpLayer asks room() first).
import { NetDevice } from "./device";

/** Zero-copy packets that may be in flight at once (also the deferred list's size). */
export const PIN_MAX: i32 = 16;

export class TxPins {
  /** Asked whether a chain is still the device's; null: nothing is ever pinned. */
  device: NetDevice | null = null;
  private base: StaticArray<usize> = new StaticArray<usize>(PIN_MAX);
  private lo: StaticArray<i64> = new StaticArray<i64>(PIN_MAX);
  private seq: StaticArray<u64> = new StaticArray<u64>(PIN_MAX);
  count: i32 = 0;
  private dBase: StaticArray<usize> = new StaticArray<usize>(PIN_MAX);
  private dBytes: StaticArray<i32> = new StaticArray<i32>(PIN_MAX);
  deferredCount: i32 = 0;
  /** Bytes of freed storage waiting for the device (still in MemAccount.used). */
  deferredBytes: i64 = 0;
  /** Frees that had to wait, ever. */
  deferredFrees: u64 = 0;
  /** Called with each deferred block once the device is done with it. */
  freeNow: DeferredFree | null = null;

  @inline room(): bool { return this.count < PIN_MAX; }

  /** Records a zero-copy packet reading storage base from stream offset lo on. */
  add(base: usize, lo: i64, seq: u64): void {
    const i = this.count;
    if (i >= PIN_MAX) throw new Error("net: zero-copy pin table full");
    unchecked(this.base[i] = base);
    unchecked(this.lo[i] = lo);
    unchecked(this.seq[i] = seq);
    this.count = i + 1;
  }

  /** Forgets the pins of chains the device has returned, then frees the
   *  deferred blocks no pin names any more. */
  reclaim(): void {
    const d = this.device;
    if (d == null) return;
    let i = 0;
    while (i < this.count) {
      if (d.zcInFlight(unchecked(this.seq[i]))) { i++; continue; }
      const last = --this.count;
      unchecked(this.base[i] = this.base[last]);
      unchecked(this.lo[i] = this.lo[last]);
      unchecked(this.seq[i] = this.seq[last]);
    }
    let k = 0;
    while (k < this.deferredCount) {
      const p = unchecked(this.dBase[k]);
      if (this.pinned(p)) { k++; continue; }
      const bytes = unchecked(this.dBytes[k]);
      const last = --this.deferredCount;
      unchecked(this.dBase[k] = this.dBase[last]);
      unchecked(this.dBytes[k] = this.dBytes[last]);
      this.deferredBytes -= <i64>bytes;
      const f = this.freeNow;
      if (f != null) f.free(p, bytes);
    }
  }

  /** Whether a pin names storage base (no reclaim). */
  pinned(base: usize): bool {
    for (let i = 0; i < this.count; i++) if (unchecked(this.base[i]) == base) return true;
    return false;
  }

  /** The lowest stream offset a queued packet still reads from storage
   *  base, after a reclaim; i64.MAX_VALUE when none. */
  lowFor(base: usize): i64 {
    this.reclaim();
    let m = i64.MAX_VALUE;
    for (let i = 0; i < this.count; i++) {
      if (unchecked(this.base[i]) == base && unchecked(this.lo[i]) < m) m = unchecked(this.lo[i]);
    }
    return m;
  }

  /** Called by MemAccount.freeBuffer: true when the block was kept for later
   *  (a queued packet still reads it), false when it may be freed now. */
  deferFree(base: usize, bytes: i32): bool {
    if (this.count == 0) return false;
    this.reclaim();
    if (!this.pinned(base)) return false;
    const k = this.deferredCount;
    if (k >= PIN_MAX) throw new Error("net: zero-copy deferred-free list full");
    for (let j = 0; j < k; j++) if (unchecked(this.dBase[j]) == base) throw new Error("net: ring storage freed twice");
    unchecked(this.dBase[k] = base);
    unchecked(this.dBytes[k] = bytes);
    this.deferredCount = k + 1;
    this.deferredBytes += <i64>bytes;
    this.deferredFrees++;
    return true;
  }
}

/** Where a deferred block goes once the device is done (MemAccount). */
export abstract class DeferredFree {
  abstract free(ptr: usize, bytes: i32): void;
}
