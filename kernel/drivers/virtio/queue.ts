// kernel/drivers/virtio/queue.ts — the split virtqueue (virtio 1.2 §2.7), the one
// queue implementation every driver uses over either transport. The rings live
// in DMA pages the caller provides (linear memory, so phys = linearBase + ptr);
// the queue never touches device registers: kick() says whether the transport
// must notify, and the driver's service routine drains used buffers.
//
// Ownership (§2.7.13, §2.7.14): a descriptor belongs to the driver while on the
// free list; from the avail-ring store until its id comes back in the used
// ring, the device owns it and every buffer it points to.
import { mb, rmb, wmb } from "../../platform";

// Memory layout, all in one zeroed region (§2.7.5, §2.7.6, §2.7.8; the
// alignments of §2.7 table "Virtqueue Part Alignment": 16, 2, 4):
//
//   desc   +0               16 bytes each: addr u64 | len u32 | flags u16 | next u16
//   avail  +16*size         flags u16 | idx u16 | ring[size] u16 | used_event u16
//   used   align4(avail end) flags u16 | idx u16 | ring[size] {id u32, len u32} | avail_event u16

export const VIRTQ_DESC_F_NEXT: u16 = 1;
export const VIRTQ_DESC_F_WRITE: u16 = 2;
export const VIRTQ_DESC_F_INDIRECT: u16 = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT: u16 = 1;
export const VIRTQ_USED_F_NO_NOTIFY: u16 = 1;

/** Most segments in one chain (header, data, status is the usual three). */
export const MAX_CHAIN: i32 = 16;
/** Largest queue we set up; devices offer up to 32768 but 256 is plenty here. */
export const MAX_QUEUE_SIZE: u32 = 256;

const DESC_SIZE: usize = 16;

function availOffset(size: u32): usize {
  return DESC_SIZE * <usize>size;
}
function usedOffset(size: u32): usize {
  return (availOffset(size) + 6 + 2 * <usize>size + 3) & ~(<usize>3);
}

/** Bytes of DMA memory a queue of `size` entries needs. */
export function queueBytes(size: u32): usize {
  return usedOffset(size) + 6 + 8 * <usize>size;
}

/** vring_need_event (§2.7.10, "VIRTIO_F_EVENT_IDX"): true when moving the index
 *  from oldIdx to newIdx crossed eventIdx, all modulo 2^16. */
export function needEvent(eventIdx: u16, newIdx: u16, oldIdx: u16): bool {
  return <u16>(newIdx - eventIdx - 1) < <u16>(newIdx - oldIdx);
}

export class SplitQueue {
  readonly index: u32;
  readonly size: u32;
  /** Linear-memory address of the rings and their physical address. */
  readonly mem: usize;
  readonly phys: u64;
  /** VIRTIO_F_EVENT_IDX negotiated: use used_event/avail_event, not the flags. */
  readonly eventIdx: bool;

  private avail: usize;
  private used: usize;
  private freeHead: u16 = 0;
  numFree: u32;
  /** Our copy of avail.idx (only we write it), and its value at the last kick. */
  private availIdx: u16 = 0;
  private kickedIdx: u16 = 0;
  /** The next used-ring slot we have not consumed yet. */
  private lastUsedIdx: u16 = 0;
  private tokens: StaticArray<u32>;
  private interruptsOn: bool = true;

  // The chain being built by push() and handed over by submit().
  private segAddr: StaticArray<u64> = new StaticArray<u64>(MAX_CHAIN);
  private segLen: StaticArray<u32> = new StaticArray<u32>(MAX_CHAIN);
  private segWrite: StaticArray<bool> = new StaticArray<bool>(MAX_CHAIN);
  private nseg: i32 = 0;

  /** Filled by popUsed(): the completed chain's token and bytes the device wrote. */
  usedToken: u32 = 0;
  usedLen: u32 = 0;
  usedHead: u32 = 0;

  /** Counters for the device list and tests. */
  submitted: u64 = 0;
  completed: u64 = 0;
  notifies: u64 = 0;
  notifiesSuppressed: u64 = 0;

  /** mem: zeroed, 16-byte aligned, queueBytes(size) long; size a power of 2 (§2.7). */
  constructor(index: u32, size: u32, mem: usize, phys: u64, eventIdx: bool) {
    if (size == 0 || size > 32768 || (size & (size - 1)) != 0 || (mem & 15) != 0) {
      throw new Error("virtio queue: bad size or alignment");
    }
    this.index = index;
    this.size = size;
    this.mem = mem;
    this.phys = phys;
    this.eventIdx = eventIdx;
    this.avail = mem + availOffset(size);
    this.used = mem + usedOffset(size);
    this.numFree = size;
    this.tokens = new StaticArray<u32>(size);
    // Free list threaded through the descriptors' next fields.
    for (let i: u32 = 0; i < size; i++) {
      store<u16>(mem + DESC_SIZE * <usize>i, <u16>((i + 1) % size), 14);
    }
  }

  descPhys(): u64 { return this.phys; }
  availPhys(): u64 { return this.phys + <u64>availOffset(this.size); }
  usedPhys(): u64 { return this.phys + <u64>usedOffset(this.size); }

  /** Adds one buffer to the chain being built; false when the chain is too long. */
  push(phys: u64, len: u32, deviceWritable: bool): bool {
    const n = this.nseg;
    if (n >= MAX_CHAIN) return false;
    unchecked(this.segAddr[n] = phys);
    unchecked(this.segLen[n] = len);
    unchecked(this.segWrite[n] = deviceWritable);
    this.nseg = n + 1;
    return true;
  }

  /** Drops a chain that was being built (e.g. a later push failed). */
  discard(): void {
    this.nseg = 0;
  }

  /** Places the chain built by push() in the available ring (§2.7.13) with a
   *  token the driver gets back from popUsed(). Returns the head descriptor id,
   *  or -1 (chain dropped) when there are not enough free descriptors. The
   *  device does not see it until kick() or the next submit's index update. */
  submit(token: u32): i32 {
    const n = this.nseg;
    this.nseg = 0;
    if (n == 0 || <u32>n > this.numFree) return -1;
    const head = this.freeHead;
    let id = head;
    for (let i = 0; i < n; i++) {
      const d = this.mem + DESC_SIZE * <usize>id;
      const next = load<u16>(d, 14);
      store<u64>(d, unchecked(this.segAddr[i]), 0);
      store<u32>(d, unchecked(this.segLen[i]), 8);
      let flags: u16 = unchecked(this.segWrite[i]) ? VIRTQ_DESC_F_WRITE : 0;
      if (i + 1 < n) flags |= VIRTQ_DESC_F_NEXT;
      store<u16>(d, flags, 12);
      // Keep next: for all but the last it already names the following free
      // descriptor, which is exactly the chain order we take them in.
      if (i + 1 < n) id = next;
      else this.freeHead = next;
    }
    this.numFree -= <u32>n;
    unchecked(this.tokens[head] = token);
    // §2.7.13.2: put the head in the ring slot avail.idx % size ...
    store<u16>(this.avail + 4 + 2 * <usize>(this.availIdx & <u16>(this.size - 1)), head);
    // §2.7.13.3: "The driver MUST perform a suitable memory barrier before the idx
    // update, to ensure the device sees the most up-to-date copy" of the
    // descriptors and the ring entry.
    wmb();
    this.availIdx++;
    store<u16>(this.avail, this.availIdx, 2);
    this.submitted++;
    return <i32>head;
  }

  /** Decides whether the device needs a notification for what was submitted
   *  since the last kick (§2.7.13.4). The caller notifies through its
   *  transport when this returns true. */
  kick(): bool {
    // §2.7.13.4: "The driver MUST perform a suitable memory barrier before
    // reading flags or avail_event, to avoid missing a notification": our
    // avail.idx store must be visible before we read the device's wishes.
    mb();
    const oldIdx = this.kickedIdx;
    const newIdx = this.availIdx;
    this.kickedIdx = newIdx;
    if (oldIdx == newIdx) return false;
    let notify: bool;
    if (this.eventIdx) {
      // avail_event sits after the used ring (§2.7.8).
      const availEvent = load<u16>(this.used + 4 + 8 * <usize>this.size);
      notify = needEvent(availEvent, newIdx, oldIdx);
    } else {
      notify = (load<u16>(this.used) & VIRTQ_USED_F_NO_NOTIFY) == 0;
    }
    if (notify) this.notifies++;
    else this.notifiesSuppressed++;
    return notify;
  }

  /** Used entries the device has returned that we have not consumed. */
  pendingUsed(): u32 {
    const idx = load<u16>(this.used, 2);
    return <u32><u16>(idx - this.lastUsedIdx);
  }

  /** Takes the next used element (§2.7.14): fills usedToken/usedLen/usedHead,
   *  returns its descriptors to the free list; false when there is none. */
  popUsed(): bool {
    const usedIdx = load<u16>(this.used, 2);
    if (usedIdx == this.lastUsedIdx) return false;
    // Read the ring entry only after seeing the index that covers it: pairs
    // with the device's barrier before its used.idx update (§2.7.8.2).
    rmb();
    const e = this.used + 4 + 8 * <usize>(this.lastUsedIdx & <u16>(this.size - 1));
    const id = load<u32>(e);
    const len = load<u32>(e, 4);
    this.lastUsedIdx++;
    if (id >= this.size) {
      // A device bug; never follow it into our memory. Count it as completed
      // with nothing freed so the caller sees the token 0xffffffff.
      this.usedHead = id;
      this.usedToken = 0xffffffff;
      this.usedLen = 0;
      return true;
    }
    this.usedHead = id;
    this.usedLen = len;
    this.usedToken = unchecked(this.tokens[id]);
    this.freeChain(<u16>id);
    this.completed++;
    if (this.eventIdx && this.interruptsOn) {
      // Keep asking for an interrupt at the next completion (§2.7.10).
      store<u16>(this.avail + 4 + 2 * <usize>this.size, this.lastUsedIdx);
    }
    return true;
  }

  private freeChain(head: u16): void {
    let id = head;
    let n: u32 = 1;
    // Bounded by size: a corrupted NEXT loop cannot spin forever.
    while (n <= this.size) {
      const d = this.mem + DESC_SIZE * <usize>id;
      const flags = load<u16>(d, 12);
      if ((flags & VIRTQ_DESC_F_NEXT) == 0) break;
      id = load<u16>(d, 14);
      n++;
    }
    const last = this.mem + DESC_SIZE * <usize>id;
    store<u16>(last, 0, 12);
    store<u16>(last, this.freeHead, 14);
    this.freeHead = head;
    this.numFree += n;
  }

  /** Asks the device not to interrupt for this queue (§2.7.7: the flag with
   *  no EVENT_IDX; with it, used_event is simply left behind). */
  disableInterrupts(): void {
    this.interruptsOn = false;
    if (!this.eventIdx) store<u16>(this.avail, VIRTQ_AVAIL_F_NO_INTERRUPT, 0);
    else store<u16>(this.avail + 4 + 2 * <usize>this.size, <u16>(this.lastUsedIdx - 1));
  }

  /** Re-enables interrupts, after `after` more used entries (EVENT_IDX only;
   *  without it the device interrupts at every one). Returns true when used
   *  entries already arrived, so the caller must poll again rather than wait
   *  (§2.7.10: the device may have used buffers before it saw the change). */
  enableInterrupts(after: u32 = 1): bool {
    this.interruptsOn = true;
    if (this.eventIdx) {
      const n = after == 0 ? 1 : after;
      store<u16>(this.avail + 4 + 2 * <usize>this.size, <u16>(this.lastUsedIdx + <u16>(n - 1)));
    } else {
      store<u16>(this.avail, 0, 0);
    }
    // The used_event/flags store must be visible before we re-read used.idx.
    mb();
    return this.pendingUsed() != 0;
  }

  /** Chains in flight (submitted, not yet returned). */
  inFlight(): u32 {
    return <u32><u16>(this.availIdx - this.lastUsedIdx);
  }
}
