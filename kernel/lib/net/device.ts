// kernel/lib/net/device.ts — the small device interface between the network stack
// and a NIC driver (after smoltcp's phy::Device and Mirage_net.S). The stack
// never imports a driver; drivers (kernel/drivers/virtio/net.ts) implement NetDevice.
//
// Ownership: a received frame is only valid during FrameSink.receive(); the
// stack copies what it keeps. transmit() copies the frame into device memory
// before returning, so the caller may reuse its buffer at once — except
// transmitTsoZc(), whose payload the device reads in place until
// zcInFlight() says it is done (kernel/lib/net/txpin.ts keeps it alive).

/** Receive flag: the device verified the L4 checksum (VIRTIO_NET_HDR_F_DATA_VALID). */
export const RX_CSUM_VALID: u32 = 1;

export abstract class FrameSink {
  /** One Ethernet frame (no FCS) at [frame, frame + len) in linear memory. */
  abstract receive(frame: usize, len: i32, flags: u32): void;
  /** One frame spread over several device buffers, as they lie (valid only
   *  during the call, like receive()'s). A sink that cannot take it so
   *  has it joined into one (the default). */
  receiveChain(chain: FrameChain, flags: u32): void {
    this.receive(chain.flatten(), chain.total, flags);
  }
}

/** A received frame in pieces: the buffers of one packet that spans several
 *  (virtio-net's mergeable receive buffers, a 64 KiB segment the host merged).
 *  The stack reads the headers from the first piece, which holds them, and
 *  copies the payload piece by piece, once, where it goes (a socket's
 *  receive ring): offsets count from the first piece's start, so an address
 *  computed from it (frame + headers) names a byte of the chain even past the
 *  first piece — it is only read through copyOut(). */
export class FrameChain {
  /** Pieces, and the frame's bytes in all. */
  count: i32 = 0;
  total: i32 = 0;
  /** Times the chain was joined into one buffer (flatten()). */
  flattened: u64 = 0;
  private ptrs: StaticArray<usize>;
  private lens: StaticArray<i32>;

  /** flat: where flatten() joins the pieces (maxBytes or more). */
  constructor(public maxPieces: i32, public flat: usize, public maxBytes: i32) {
    this.ptrs = new StaticArray<usize>(maxPieces);
    this.lens = new StaticArray<i32>(maxPieces);
  }

  reset(): void { this.count = 0; this.total = 0; }

  /** Appends a piece; false when it would pass maxPieces or maxBytes. */
  add(ptr: usize, len: i32): bool {
    if (this.count >= this.maxPieces || len < 0 || this.total + len > this.maxBytes) return false;
    unchecked(this.ptrs[this.count] = ptr);
    unchecked(this.lens[this.count] = len);
    this.count++;
    this.total += len;
    return true;
  }

  @inline ptr(i: i32): usize { return unchecked(this.ptrs[i]); }
  @inline len(i: i32): i32 { return unchecked(this.lens[i]); }

  /** Copies n bytes from offset off of the frame to dst. */
  copyOut(off: i32, dst: usize, n: i32): void {
    let base = 0;
    for (let i = 0; i < this.count && n > 0; i++) {
      const l = this.len(i);
      if (off < base + l) {
        const o = off - base;
        const k = l - o < n ? l - o : n;
        memory.copy(dst, this.ptr(i) + <usize>o, <usize>k);
        dst += <usize>k;
        off += k;
        n -= k;
      }
      base += l;
    }
  }

  /** The whole frame in one buffer (flat): for what is not a TCP segment
   *  taken as it lies (fragments, other protocols, unverified checksums). */
  flatten(): usize {
    this.flattened++;
    this.copyOut(0, this.flat, this.total);
    return this.flat;
  }
}

export class NetDeviceStats {
  rxPackets: u64 = 0;
  rxBytes: u64 = 0;
  rxDropped: u64 = 0;
  rxErrors: u64 = 0;
  txPackets: u64 = 0;
  txBytes: u64 = 0;
  txDropped: u64 = 0;
  txErrors: u64 = 0;
}

export abstract class NetDevice {
  /** Interface name for logs and REST, e.g. "eth0". */
  name: string = "eth0";
  stats: NetDeviceStats = new NetDeviceStats();

  /** The 6-byte MAC address. */
  abstract mac(): StaticArray<u8>;
  /** Largest L3 payload (IP packet) the device carries, normally 1500. */
  abstract mtu(): i32;
  abstract linkUp(): bool;
  /** True when transmit() accepts csumStart/csumOffset (VIRTIO_NET_F_CSUM). */
  abstract txChecksumOffload(): bool;
  /** True when received frames may carry RX_CSUM_VALID (VIRTIO_NET_F_GUEST_CSUM). */
  abstract rxChecksumOffload(): bool;
  /** Queues one frame. With offload, csumStart >= 0 asks the device to put the
   *  ones'-complement sum from csumStart to the end at csumStart + csumOffset.
   *  Returns false (and counts a drop) when the transmit queue is full. */
  abstract transmit(frame: usize, len: i32, csumStart: i32, csumOffset: i32): bool;
  /** Delivers up to budget received frames to sink; returns how many. Also
   *  reclaims completed transmit buffers. Called from the event loop. */
  abstract poll(sink: FrameSink, budget: i32): i32;
  /** Between txBatchBegin() and txBatchEnd() (they nest) transmit() may hold
   *  back telling the device, and txBatchEnd() tells it once for the lot: the
   *  stack brackets each poll with them, so a burst of segments or ACKs costs
   *  one notification (a trip into the hypervisor) instead of one per frame.
   *  The defaults notify on every transmit. */
  txBatchBegin(): void {}
  txBatchEnd(): void {}
  /** Largest frame (Ethernet header included) transmitTso() takes; 0 when the
   *  device does not segment TCP itself (the default). */
  tsoMax(): i32 { return 0; }
  /** Queues one TCP/IPv4 packet larger than the MTU for the device to cut into
   *  segments of mss payload bytes (VIRTIO_NET_F_HOST_TSO4). hdrLen: the
   *  Ethernet, IP and TCP headers' length; the TCP checksum at csumStart +
   *  csumOffset holds the pseudo-header sum (with the whole segment's length), the device
   *  finishes it per segment. Returns false (counted) when it can't. */
  transmitTso(frame: usize, len: i32, csumStart: i32, csumOffset: i32, mss: i32, hdrLen: i32): bool { return false; }
  /** Zero copy for TSO: reserves a transmit buffer of tsoMax() bytes and
   *  returns where the frame (its Ethernet header first) is to be written,
   *  0 when none is free or the device has none (the default: the caller
   *  builds the frame elsewhere and transmitTso() copies it). The stack
   *  writes the packet there, then either sends it with
   *  transmitTsoReserved() or gives it back with releaseTsoReserved(). One
   *  reservation at a time. */
  reserveTso(): usize { return 0; }
  /** Sends the reserved buffer's frame, as transmitTso() (same arguments,
   *  without the copy). The reservation ends either way. */
  transmitTsoReserved(len: i32, csumStart: i32, csumOffset: i32, mss: i32, hdrLen: i32): bool { return false; }
  releaseTsoReserved(): void {}
  /** Whether transmitTsoZc() may be tried (false: the default). */
  txZeroCopy(): bool { return false; }
  /** Zero copy from the caller's memory: one TCP/IPv4 packet for the device
   *  to segment, as transmitTso(), whose first hdrLen bytes (Ethernet, IP
   *  and TCP headers) are copied from frame and whose payload is read in
   *  place from [p1, p1 + n1) then [p2, p2 + n2) (a send ring's range that
   *  wraps; n2 may be 0). The device reads the payload after this returns:
   *  it must stay unchanged until zcInFlight(seq) is false. Returns seq
   *  (> 0, increasing), or 0 when the packet was not queued (nothing
   *  counted: the caller sends it another way). */
  transmitTsoZc(frame: usize, hdrLen: i32, p1: usize, n1: i32, p2: usize, n2: i32,
                csumStart: i32, csumOffset: i32, mss: i32): u64 { return 0; }
  /** Whether the device may still read packet seq's payload (from
   *  transmitTsoZc). Reclaims completed transmit buffers first. */
  zcInFlight(seq: u64): bool { return false; }
}
