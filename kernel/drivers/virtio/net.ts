// kernel/drivers/virtio/net.ts — virtio network device driver (virtio 1.2 §5.1):
// MAC address, link status, receive buffers kept filled, transmit with the
// virtio-net header, counters. The network stack sees it only as a NetDevice
// (kernel/lib/net/device.ts) through VirtioNetIf.
//
// Buffers: fixed 2 KiB slots in DMA pages (MemOwner.NetBuffers), each a
// 12-byte struct virtio_net_hdr followed by the frame. A receive slot is the
// device's from submit until its id comes back used; a transmit slot from
// transmit() until reclaimed by poll/service. All of it is allocated once, at
// setup: nothing is allocated per packet. Transmit tokens: 0..ntx-1 the 2 KiB
// slots, then the TSO slots, then the zero-copy header slots.
//
// Offloads, each only where the device offers it (QEMU: tap with vnet_hdr;
// user networking offers none of them, only MRG_RXBUF):
// - checksums both ways (CSUM, GUEST_CSUM);
// - mergeable receive buffers (MRG_RXBUF): a packet may span several receive
//   slots, num_buffers in the first header says how many (§5.1.6.4);
// - large receive (GUEST_TSO4, with GUEST_CSUM and MRG_RXBUF): the host hands
//   us TCP/IPv4 packets of up to 64 KiB it merged (GRO) or never split; the
//   slots of one are held (not given back to the device) and handed to the
//   stack as they lie, a FrameChain: TCP copies the payload slot by slot
//   into the socket's receive ring, and what it cannot take so is joined
//   into one 64 KiB assembly buffer first; the slots go back after;
// - segmentation on transmit (HOST_TSO4, with CSUM): transmitTso() hands the
//   device a TCP/IPv4 packet of up to 64 KiB with gso_size = the MSS, and the
//   host cuts it into frames (§5.1.6.2), from a few 64 KiB transmit slots;
// - zero copy on transmit (with HOST_TSO4; `virtio_net.no_zc` turns it off):
//   transmitTsoZc() queues such a packet as a chain of 2 or 3 descriptors —
//   a 128-byte header slot (virtio-net header + Ethernet/IP/TCP headers,
//   copied), then the payload where it lies: one range of a socket's send
//   ring, or two where it wraps. Linear memory is physically contiguous, so
//   physAddr() names the ring's bytes as it does DMA pages. The device
//   reads that memory until the chain comes back used; each such packet
//   has a sequence number, and zcInFlight(seq) tells the stack whether it
//   still may be read (kernel/lib/net/txpin.ts keeps the storage alive and
//   unchanged until then). 16 header slots; a chain never takes the last
//   ZC_KEEP_FREE descriptors, so ACKs and small frames always find some.
//
// Interrupts: only the receive queue interrupts (transmit slots are reclaimed
// lazily, by the next transmit or poll). A receive interrupt wakes the task
// registered with setReceiveTask (the stack's), and ends the loop's halt so a
// Service that polls the stack every pass sees the frame; the stack's poll()
// re-arms the interrupt once it has taken everything.
import { Task, wake, pollSoon } from "../../core/sched";
import { VirtioDevice } from "./device";
import { SplitQueue } from "./queue";
import { Transport } from "./transport/transport";
import { dmaAlloc, physAddr, MemOwner } from "./dma";
import { NetDevice, FrameSink, FrameChain, NetDeviceStats, RX_CSUM_VALID } from "../../lib/net";
import { cmdlineHas } from "../../platform/bootinfo";

// Feature bits (§5.1.3).
export const VIRTIO_NET_F_CSUM: u32 = 0;        // the device completes checksums we leave partial
export const VIRTIO_NET_F_GUEST_CSUM: u32 = 1;  // the device may tell us a checksum is already good
export const VIRTIO_NET_F_MTU: u32 = 3;
export const VIRTIO_NET_F_MAC: u32 = 5;
export const VIRTIO_NET_F_GUEST_TSO4: u32 = 7;  // the device may send us TCP/IPv4 packets over the MTU
export const VIRTIO_NET_F_HOST_TSO4: u32 = 11;  // the device segments TCP/IPv4 packets we hand it
export const VIRTIO_NET_F_HOST_TSO6: u32 = 12;  // ... and TCP/IPv6 ones (no IPv6 here: not taken)
export const VIRTIO_NET_F_HOST_UFO: u32 = 14;   // ... and fragments large UDP datagrams (not taken: ours fit the MTU)
export const VIRTIO_NET_F_MRG_RXBUF: u32 = 15;  // a received packet may span several buffers
export const VIRTIO_NET_F_STATUS: u32 = 16;
// Configuration (§5.1.4): mac[6] @0, status le16 @6, max_virtqueue_pairs le16 @8, mtu le16 @10.
const CFG_MAC: u32 = 0;
const CFG_STATUS: u32 = 6;
const CFG_MTU: u32 = 10;
const VIRTIO_NET_S_LINK_UP: u32 = 1;

/** struct virtio_net_hdr (§5.1.6): flags u8, gso_type u8, hdr_len, gso_size,
 *  csum_start, csum_offset, num_buffers (le16 each). With VIRTIO_F_VERSION_1
 *  num_buffers is always there: 12 bytes. */
export const NET_HDR_SIZE: u32 = 12;
const HDR_FLAGS: usize = 0;
const HDR_GSO_TYPE: usize = 1;
const HDR_HDR_LEN: usize = 2;
const HDR_GSO_SIZE: usize = 4;
const HDR_CSUM_START: usize = 6;
const HDR_CSUM_OFFSET: usize = 8;
const HDR_NUM_BUFFERS: usize = 10;
/** gso_type (§5.1.6): TCP over IPv4. */
export const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
/** flags (§5.1.6): the checksum from csum_start on is partial (transmit:
 *  finish it; receive: the packet came from a local sender and was never
 *  damaged on a wire, so it counts as verified). */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
/** flags, receive only (with GUEST_CSUM): the device checked the L4 checksum. */
export const VIRTIO_NET_HDR_F_DATA_VALID: u8 = 2;
const SLOT: usize = 2048;
const MAX_FRAME: u32 = 1514;            // Ethernet without FCS, 1500-byte MTU
const RX_SLOTS: u32 = 128;
const TX_SLOTS: u32 = 64;
/** The largest packet with GUEST_TSO4 / HOST_TSO4: an IPv4 packet of 64 KiB
 *  behind its Ethernet header. */
export const TSO_FRAME_MAX: u32 = 14 + 65535;
/** Transmit slots for TSO packets (each 64 KiB and its header, one descriptor). */
const TSO_SLOTS: u32 = 8;
const TSO_SLOT: usize = 69632;          // 17 pages >= NET_HDR_SIZE + TSO_FRAME_MAX
/** Zero-copy TSO packets (transmitTsoZc): header slots, one per packet in
 *  flight, each the virtio-net header and the Ethernet/IP/TCP headers; the
 *  payload descriptors point into the caller's memory (a socket's send
 *  ring). As many as the stack may pin (kernel/lib/net/txpin.ts PIN_MAX). */
const ZC_SLOTS: u32 = 16;
const ZC_SLOT: usize = 128;
const ZC_HDR_MAX: i32 = <i32>ZC_SLOT - <i32>NET_HDR_SIZE;   // 14 + 60 + 60 fit
/** Transmit descriptors a zero-copy packet leaves free for copied frames. */
const ZC_KEEP_FREE: u32 = 16;
/** Most frames a batch holds back before notifying anyway. */
const TX_HOLD_MAX: u32 = 16;
/** Most receive buffers one packet may take: 64 KiB in 2 KiB slots (the
 *  first also carries the virtio-net header), and some slack. */
const MERGE_MAX: u32 = TSO_FRAME_MAX / (<u32>SLOT - NET_HDR_SIZE) + 2;
const RXQ: i32 = 0;
const TXQ: i32 = 1;

export class VirtioNet extends VirtioDevice {
  macAddr: StaticArray<u8> = new StaticArray<u8>(6);
  mtuBytes: i32 = 1500;
  link: bool = true;
  stats: NetDeviceStats = new NetDeviceStats();
  netif!: VirtioNetIf;
  /** Woken when frames arrive (interrupt); null: nobody registered. */
  rxTask: Task | null = null;
  /** Receive interrupts that found frames waiting. */
  rxSignals: u64 = 0;
  /** Frames sent with NEEDS_CSUM (the device finished the L4 checksum). */
  txCsumOffloaded: u64 = 0;
  /** Frames received with DATA_VALID or NEEDS_CSUM (no software check needed). */
  rxCsumValid: u64 = 0;
  /** Packets handed to the device for segmentation (HOST_TSO4), and their bytes. */
  txTsoPackets: u64 = 0;
  /** Received packets that spanned more than one buffer (MRG_RXBUF), and
   *  those larger than a frame (GUEST_TSO4). */
  rxMerged: u64 = 0;
  rxLarge: u64 = 0;

  private rxMem: usize = 0;
  private txMem: usize = 0;
  private nrx: u32 = 0;
  private ntx: u32 = 0;
  private txFree: StaticArray<u32> = new StaticArray<u32>(TX_SLOTS);
  private txFreeCount: u32 = 0;
  /** txBatchBegin() depth, and frames queued since the last notification. */
  private txBatch: i32 = 0;
  private txHeld: u32 = 0;
  /** TSO transmit slots (tokens ntx + i) and the free ones. */
  private tsoMem: usize = 0;
  private tsoFree: StaticArray<u32> = new StaticArray<u32>(TSO_SLOTS);
  private tsoFreeCount: u32 = 0;
  /** Zero-copy header slots (tokens ntx + TSO_SLOTS + i), the free ones, and
   *  the sequence number of the packet each carries (0: free). */
  private zcMem: usize = 0;
  private zcFree: StaticArray<u32> = new StaticArray<u32>(ZC_SLOTS);
  private zcFreeCount: u32 = 0;
  private zcSeq: StaticArray<u64> = new StaticArray<u64>(ZC_SLOTS);
  /** Zero-copy packets submitted (the last one's sequence number), and completed. */
  zcSubmitted: u64 = 0;
  zcCompleted: u64 = 0;
  /** A packet over several receive slots is joined here when the stack
   *  cannot take it in pieces (GUEST_TSO4 only). */
  private rxBig: usize = 0;
  /** The pieces of a merged packet being taken, and the slots they are in
   *  (held from the device until the stack is done with the packet). */
  private rxChain: FrameChain | null = null;
  private rxHeld: StaticArray<u32> = new StaticArray<u32>(<i32>MERGE_MAX);
  private rxHeldCount: i32 = 0;
  /** Of a merged packet being taken: buffers still to come, whether the rest
   *  is being dropped (a bad one), its header flags. */
  private mergeLeft: u32 = 0;
  private mergeBad: bool = false;
  private mergeFlags: u8 = 0;

  constructor(t: Transport) {
    super(t);
    this.netif = new VirtioNetIf(this);
  }

  /** What the device offered (the device line names the offloads left unused). */
  offered: u64 = 0;

  acceptFeatures(offered: u64): u64 {
    this.offered = offered;
    // Checksum offload both ways when offered; QEMU offers CSUM/GUEST_CSUM
    // (and the TSO bits) only when the backend carries a virtio-net header
    // (tap with vnet_hdr), not on user networking (hw/net/virtio-net.c,
    // peer_has_vnet_hdr). §5.1.3.1: GUEST_TSO4 needs GUEST_CSUM, HOST_TSO4
    // needs CSUM; we take GUEST_TSO4 only with MRG_RXBUF, so 2 KiB receive
    // slots stay enough (without it each buffer would have to hold 64 KiB).
    let f = (<u64>1 << VIRTIO_NET_F_MAC) | (<u64>1 << VIRTIO_NET_F_STATUS) | (<u64>1 << VIRTIO_NET_F_MTU) |
      (<u64>1 << VIRTIO_NET_F_CSUM) | (<u64>1 << VIRTIO_NET_F_GUEST_CSUM) | (<u64>1 << VIRTIO_NET_F_MRG_RXBUF);
    // `virtio_net.no_tso` on the command line keeps both TSO bits off (to
    // compare, or to rule them out), like ethtool -K tso off gro off.
    if (cmdlineHas("virtio_net.no_tso")) return f;
    if ((offered & (<u64>1 << VIRTIO_NET_F_CSUM)) != 0) f |= <u64>1 << VIRTIO_NET_F_HOST_TSO4;
    const lro = (<u64>1 << VIRTIO_NET_F_GUEST_CSUM) | (<u64>1 << VIRTIO_NET_F_MRG_RXBUF);
    if ((offered & lro) == lro) f |= <u64>1 << VIRTIO_NET_F_GUEST_TSO4;
    return f;
  }

  queueCount(): i32 { return 2; }
  queueInterrupts(i: i32): bool { return i == RXQ; }

  setup(): bool {
    const t = this.transport;
    if (this.has(VIRTIO_NET_F_MAC)) {
      for (let i: u32 = 0; i < 6; i++) this.macAddr[i] = <u8>t.readConfig8(CFG_MAC + i);
    } else {
      // §5.1.5: without VIRTIO_NET_F_MAC the driver picks one: locally administered.
      this.macAddr[0] = 0x02; this.macAddr[1] = 0x53; this.macAddr[2] = 0x4b;
      this.macAddr[3] = 0x49; this.macAddr[4] = 0x46; this.macAddr[5] = 0x46;
    }
    if (this.has(VIRTIO_NET_F_MTU)) {
      const m = <i32>t.readConfig16(CFG_MTU);
      if (m >= 68 && m < 1500) this.mtuBytes = m;   // our slots carry at most 1500
    }
    this.readLink();
    const rxq = this.queues[RXQ];
    const txq = this.queues[TXQ];
    this.nrx = min(rxq.size, RX_SLOTS);
    this.ntx = min(txq.size, TX_SLOTS);
    this.rxMem = dmaAlloc(SLOT * <usize>this.nrx, MemOwner.NetBuffers);
    this.txMem = dmaAlloc(SLOT * <usize>this.ntx, MemOwner.NetBuffers);
    if (this.rxMem == 0 || this.txMem == 0) { this.problem = "out of memory for packet buffers"; return false; }
    if (this.has(VIRTIO_NET_F_HOST_TSO4)) {
      this.tsoMem = dmaAlloc(TSO_SLOT * <usize>TSO_SLOTS, MemOwner.NetBuffers);
      if (this.tsoMem == 0) { this.problem = "out of memory for TSO buffers"; return false; }
      for (let i: u32 = 0; i < TSO_SLOTS; i++) this.tsoFree[i] = i;
      this.tsoFreeCount = TSO_SLOTS;
      // `virtio_net.no_zc` keeps TSO packets copied into the slots above (to compare).
      if (!cmdlineHas("virtio_net.no_zc")) {
        this.zcMem = dmaAlloc(ZC_SLOT * <usize>ZC_SLOTS, MemOwner.NetBuffers);
        if (this.zcMem == 0) { this.problem = "out of memory for TSO buffers"; return false; }
        for (let i: u32 = 0; i < ZC_SLOTS; i++) this.zcFree[i] = i;
        this.zcFreeCount = ZC_SLOTS;
      }
    }
    if (this.has(VIRTIO_NET_F_GUEST_TSO4)) {
      this.rxBig = dmaAlloc(<usize>TSO_FRAME_MAX, MemOwner.NetBuffers);
      if (this.rxBig == 0) { this.problem = "out of memory for the large-receive buffer"; return false; }
      this.rxChain = new FrameChain(<i32>MERGE_MAX, this.rxBig, <i32>TSO_FRAME_MAX);
    }
    for (let i: u32 = 0; i < this.ntx; i++) this.txFree[i] = i;
    this.txFreeCount = this.ntx;
    // §5.1.6.3: fill the receive queue before DRIVER_OK.
    for (let i: u32 = 0; i < this.nrx; i++) this.postRx(i);
    return true;
  }

  private postRx(slot: u32): void {
    const q = this.queues[RXQ];
    const p = this.rxMem + SLOT * <usize>slot;
    q.push(physAddr(p), <u32>SLOT, true);
    q.submit(slot);
  }

  private readLink(): void {
    // §5.1.4: without VIRTIO_NET_F_STATUS the link is assumed up.
    this.link = this.has(VIRTIO_NET_F_STATUS) ? (this.transport.readConfig16(CFG_STATUS) & VIRTIO_NET_S_LINK_UP) != 0 : true;
  }

  configChanged(): void { this.readLink(); }

  detail(): string {
    const tx = this.has(VIRTIO_NET_F_CSUM), rx = this.has(VIRTIO_NET_F_GUEST_CSUM);
    const tso = this.has(VIRTIO_NET_F_HOST_TSO4), lro = this.has(VIRTIO_NET_F_GUEST_TSO4);
    return "mac " + macString(this.macAddr) + " mtu " + this.mtuBytes.toString() + (this.link ? " link up" : " link down") +
      " csum offload " + (tx && rx ? "tx+rx" : tx ? "tx" : rx ? "rx" : "none") +
      " tso4 " + (tso && lro ? "tx+rx" : tso ? "tx" : lro ? "rx" : cmdlineHas("virtio_net.no_tso") ? "off" : "none (not offered)") +
      (this.has(VIRTIO_NET_F_MRG_RXBUF) ? " mrg_rxbuf" : "") + this.unusedOffloads();
  }

  /** Offloads QEMU offers that this stack has no use for: TSO6 (no IPv6)
   *  and UFO (its UDP datagrams — DNS, DHCP — fit the MTU). Named so the
   *  device line says what was offered and left. */
  private unusedOffloads(): string {
    const o = this.offered;
    const tso6 = (o & (<u64>1 << VIRTIO_NET_F_HOST_TSO6)) != 0, ufo = (o & (<u64>1 << VIRTIO_NET_F_HOST_UFO)) != 0;
    if (!tso6 && !ufo) return "";
    return " (offered, unused: " + (tso6 && ufo ? "tso6 ufo" : tso6 ? "tso6" : "ufo") + ")";
  }

  /** Largest frame transmitTso() takes (0: the device does not segment). */
  tsoMax(): i32 { return this.tsoMem != 0 ? <i32>TSO_FRAME_MAX : 0; }

  /** Queues one TCP/IPv4 packet of up to TSO_FRAME_MAX bytes (Ethernet header
   *  included) for the device to cut into frames of mss payload bytes
   *  (§5.1.6.2: gso_type TCPV4, gso_size, hdr_len = the headers' length, and
   *  NEEDS_CSUM with the TCP checksum at csumStart + csumOffset holding the
   *  pseudo-header sum of the whole packet). */
  transmitTso(frame: usize, len: i32, csumStart: i32, csumOffset: i32, mss: i32, hdrLen: i32): bool {
    this.reclaimTx();
    if (!this.ready || this.tsoMem == 0 || !tsoArgsOk(len, csumStart, csumOffset, mss, hdrLen)) {
      this.stats.txErrors++;
      return false;
    }
    if (this.tsoFreeCount == 0) { this.stats.txDropped++; return false; }
    const i = this.tsoFree[--this.tsoFreeCount];
    memory.copy(this.tsoMem + TSO_SLOT * <usize>i + NET_HDR_SIZE, frame, <usize>len);
    return this.submitTso(i, len, csumStart, csumOffset, mss, hdrLen);
  }

  /** A TSO slot taken by reserveTso(), -1: none. */
  private tsoReserved: i32 = -1;

  /** Zero copy (NetDevice.reserveTso): the stack builds the packet right
   *  behind the virtio-net header of a free TSO slot. */
  reserveTso(): usize {
    if (this.tsoReserved >= 0) return 0;
    this.reclaimTx();
    if (!this.ready || this.tsoMem == 0 || this.tsoFreeCount == 0) return 0;
    const i = this.tsoFree[--this.tsoFreeCount];
    this.tsoReserved = <i32>i;
    return this.tsoMem + TSO_SLOT * <usize>i + NET_HDR_SIZE;
  }

  transmitTsoReserved(len: i32, csumStart: i32, csumOffset: i32, mss: i32, hdrLen: i32): bool {
    const i = this.tsoReserved;
    if (i < 0) { this.stats.txErrors++; return false; }
    this.tsoReserved = -1;
    return this.submitTso(<u32>i, len, csumStart, csumOffset, mss, hdrLen);
  }

  releaseTsoReserved(): void {
    const i = this.tsoReserved;
    if (i < 0) return;
    this.tsoReserved = -1;
    this.tsoFree[this.tsoFreeCount++] = <u32>i;
  }

  /** Fills in TSO slot i's virtio-net header for the frame already behind
   *  it and hands it to the device; on any refusal the slot is free again. */
  private submitTso(i: u32, len: i32, csumStart: i32, csumOffset: i32, mss: i32, hdrLen: i32): bool {
    if (!tsoArgsOk(len, csumStart, csumOffset, mss, hdrLen)) {
      this.tsoFree[this.tsoFreeCount++] = i;
      this.stats.txErrors++;
      return false;
    }
    const p = this.tsoMem + TSO_SLOT * <usize>i;
    gsoHeader(p, csumStart, csumOffset, mss, hdrLen);
    const q = this.queues[TXQ];
    q.push(physAddr(p), NET_HDR_SIZE + <u32>len, false);
    if (q.submit(this.ntx + i) < 0) {
      this.tsoFree[this.tsoFreeCount++] = i;
      this.stats.txDropped++;
      return false;
    }
    this.tsoQueued(q, len, this.tsoFreeCount);
    return true;
  }

  /** A TSO packet of len bytes was queued: notify the device now unless a
   *  batch holds it (slotsLeft: that kind's free slots; none left, notify),
   *  and count it. */
  private tsoQueued(q: SplitQueue, len: i32, slotsLeft: u32): void {
    if (this.txBatch == 0 || ++this.txHeld >= TX_HOLD_MAX || slotsLeft == 0) {
      this.txHeld = 0;
      this.kick(q);
    }
    this.txTsoPackets++;
    this.txCsumOffloaded++;
    this.stats.txPackets++;
    this.stats.txBytes += <u64>len;
  }

  /** Whether transmitTsoZc() may be tried (HOST_TSO4, and not switched off). */
  zeroCopy(): bool { return this.zcMem != 0; }

  /** Zero copy (NetDevice.transmitTsoZc): one TSO packet as a chain of three
   *  descriptors (two when n2 == 0): a header slot holding the virtio-net
   *  header and the frame's first hdrLen bytes (copied from frame), then
   *  [p1, p1 + n1) and [p2, p2 + n2) as they lie — the caller's memory,
   *  which the device reads until the chain comes back used (zcInFlight).
   *  Returns the packet's sequence number (from 1, increasing), 0 when it
   *  was not queued (no header slot or descriptors free, bad arguments):
   *  nothing is counted then, the caller copies the packet instead. */
  transmitTsoZc(frame: usize, hdrLen: i32, p1: usize, n1: i32, p2: usize, n2: i32,
                csumStart: i32, csumOffset: i32, mss: i32): u64 {
    this.reclaimTx();
    const len = hdrLen + n1 + n2;
    if (!this.ready || this.zcMem == 0 || this.zcFreeCount == 0 || hdrLen > ZC_HDR_MAX || n1 <= 0 || n2 < 0 ||
        !tsoArgsOk(len, csumStart, csumOffset, mss, hdrLen)) return 0;
    const q = this.queues[TXQ];
    const pieces: u32 = n2 > 0 ? 3 : 2;
    // Some descriptors stay for frames that have no other way out (ACKs,
    // small segments): zero copy never starves them (a 256-entry queue,
    // QEMU's, never gets there: 64 + 8 copy slots and 16 chains of 3).
    if (q.numFree < pieces + ZC_KEEP_FREE) return 0;
    const i = this.zcFree[--this.zcFreeCount];
    const p = this.zcMem + ZC_SLOT * <usize>i;
    gsoHeader(p, csumStart, csumOffset, mss, hdrLen);
    memory.copy(p + NET_HDR_SIZE, frame, <usize>hdrLen);
    q.push(physAddr(p), NET_HDR_SIZE + <u32>hdrLen, false);
    q.push(physAddr(p1), <u32>n1, false);
    if (n2 > 0) q.push(physAddr(p2), <u32>n2, false);
    if (q.submit(this.ntx + TSO_SLOTS + i) < 0) {
      this.zcFree[this.zcFreeCount++] = i;
      return 0;
    }
    const seq = ++this.zcSubmitted;
    this.zcSeq[i] = seq;
    this.tsoQueued(q, len, this.zcFreeCount);
    return seq;
  }

  /** Whether zero-copy packet seq may still be read by the device (its
   *  chain not yet returned used). */
  zcInFlight(seq: u64): bool {
    if (seq == 0 || seq > this.zcSubmitted) return false;
    this.reclaimTx();
    for (let i: u32 = 0; i < ZC_SLOTS; i++) if (unchecked(this.zcSeq[i]) == seq) return true;
    return false;
  }

  /** Queues one frame. csumStart >= 0: the L4 checksum field at csumStart +
   *  csumOffset holds the pseudo-header sum; the device (VIRTIO_NET_F_CSUM)
   *  or, without it, this function completes the sum from csumStart to the end. */
  transmit(frame: usize, len: i32, csumStart: i32 = -1, csumOffset: i32 = 0): bool {
    this.reclaimTx();
    if (!this.ready || len <= 0 || <u32>len > MAX_FRAME || this.txFreeCount == 0) {
      if (len <= 0 || <u32>len > MAX_FRAME) this.stats.txErrors++;
      else this.stats.txDropped++;
      return false;
    }
    const slot = this.txFree[--this.txFreeCount];
    const p = this.txMem + SLOT * <usize>slot;
    memory.fill(p, 0, NET_HDR_SIZE);     // no GSO (§5.1.6.2): gso_type NONE
    memory.copy(p + NET_HDR_SIZE, frame, <usize>len);
    if (csumStart >= 0 && csumStart + csumOffset + 2 <= len) {
      if (this.has(VIRTIO_NET_F_CSUM)) {
        // §5.1.6.2: NEEDS_CSUM, csum_start from the frame's first byte,
        // csum_offset from csum_start to where the 16-bit sum goes.
        store<u8>(p + HDR_FLAGS, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        store<u16>(p + HDR_CSUM_START, <u16>csumStart);     // little-endian like the host: le16
        store<u16>(p + HDR_CSUM_OFFSET, <u16>csumOffset);
        this.txCsumOffloaded++;
      } else {
        finishChecksum(p + NET_HDR_SIZE + <usize>csumStart, len - csumStart, csumOffset);
      }
    }
    const q = this.queues[TXQ];
    q.push(physAddr(p), NET_HDR_SIZE + <u32>len, false);
    if (q.submit(slot) < 0) {
      this.txFree[this.txFreeCount++] = slot;
      this.stats.txDropped++;
      return false;
    }
    // Inside a batch the notification waits for txBatchEnd(), unless the
    // queue is filling up: the device must start draining before it is full.
    if (this.txBatch == 0 || ++this.txHeld >= TX_HOLD_MAX || this.txFreeCount < TX_HOLD_MAX) {
      this.txHeld = 0;
      this.kick(q);
    }
    this.stats.txPackets++;
    this.stats.txBytes += <u64>len;
    return true;
  }

  /** See NetDevice.txBatchBegin/End: frames queued in between share one notification. */
  txBatchBegin(): void { this.txBatch++; }
  txBatchEnd(): void {
    if (this.txBatch > 0 && --this.txBatch == 0 && this.txHeld > 0) {
      this.txHeld = 0;
      this.kick(this.queues[TXQ]);
    }
  }

  private reclaimTx(): void {
    const q = this.queues[TXQ];
    while (q.popUsed()) {
      const slot = q.usedToken;
      if (slot < this.ntx) {
        if (this.txFreeCount < this.ntx) this.txFree[this.txFreeCount++] = slot;
      } else if (slot - this.ntx < TSO_SLOTS) {
        if (this.tsoFreeCount < TSO_SLOTS) this.tsoFree[this.tsoFreeCount++] = slot - this.ntx;
      } else if (slot - this.ntx - TSO_SLOTS < ZC_SLOTS) {
        const i = slot - this.ntx - TSO_SLOTS;
        if (this.zcSeq[i] != 0) {          // the device is done reading the packet's memory
          this.zcSeq[i] = 0;
          this.zcCompleted++;
          this.zcFree[this.zcFreeCount++] = i;
        }
      }
    }
  }

  /** Delivers up to budget frames to sink, returning each buffer to the device. */
  receive(sink: FrameSink | null, budget: i32): i32 {
    const q = this.queues[RXQ];
    const mrg = this.has(VIRTIO_NET_F_MRG_RXBUF);
    let n = 0;
    let posted = false;
    while (n < budget && q.popUsed()) {
      const slot = q.usedToken;
      if (slot >= this.nrx) { this.stats.rxErrors++; continue; }
      const len = q.usedLen;
      const p = this.rxMem + SLOT * <usize>slot;
      if (this.mergeLeft > 0) {
        // The next buffer of a packet spanning several (§5.1.6.4.2): data only, no header.
        this.mergeLeft--;
        const chain = this.rxChain!;
        if (!this.mergeBad && (len > <u32>SLOT || !chain.add(p, <i32>len))) {
          this.stats.rxErrors++;
          this.mergeBad = true;
        }
        if (this.mergeBad) { this.postRx(slot); posted = true; }
        else this.rxHeld[this.rxHeldCount++] = slot;
        if (this.mergeLeft == 0) {
          if (!this.mergeBad) {
            this.rxMerged++;
            if (chain.total > <i32>MAX_FRAME) this.rxLarge++;
            this.deliverChain(sink, chain, this.mergeFlags);
            n++;
          }
          // The stack is done with the pieces: the slots go back.
          for (let i = 0; i < this.rxHeldCount; i++) this.postRx(this.rxHeld[i]);
          if (this.rxHeldCount > 0) posted = true;
          this.rxHeldCount = 0;
        }
        continue;
      }
      const nb = mrg ? <u32>load<u16>(p + HDR_NUM_BUFFERS) : 1;
      if (len < NET_HDR_SIZE + 14 || len > <u32>SLOT || nb == 0) {
        this.stats.rxErrors++;
      } else if (nb > 1) {
        // The first of nb buffers: hold it as the chain's first piece (only
        // a device that negotiated GUEST_TSO4 has a reason to merge; without
        // the chain, or for more buffers than 64 KiB needs, drop it all).
        this.mergeLeft = nb - 1;
        this.mergeFlags = load<u8>(p + HDR_FLAGS);
        const chain = this.rxChain;
        this.rxHeldCount = 0;
        if (chain === null || nb > MERGE_MAX) {
          this.stats.rxErrors++;
          this.mergeBad = true;
        } else {
          this.mergeBad = false;
          chain.reset();
          chain.add(p + NET_HDR_SIZE, <i32>(len - NET_HDR_SIZE));
          this.rxHeld[this.rxHeldCount++] = slot;
          continue;             // the slot goes back with the rest of the packet
        }
      } else {
        this.deliver(sink, p + NET_HDR_SIZE, <i32>(len - NET_HDR_SIZE), load<u8>(p + HDR_FLAGS));
        n++;
      }
      this.postRx(slot);      // the buffer goes straight back: the queue stays full
      posted = true;
    }
    if (posted) this.kick(q);
    if (n < budget) this.rearmRx();
    else pollSoon();      // budget spent: more may be waiting
    return n;
  }

  private deliver(sink: FrameSink | null, frame: usize, flen: i32, f: u8): void {
    if (sink === null) { this.stats.rxDropped++; return; }
    this.stats.rxPackets++;
    this.stats.rxBytes += <u64>flen;
    sink.receive(frame, flen, this.rxFlags(f));
  }

  /** A packet in several slots, handed over as they lie (FrameChain). */
  private deliverChain(sink: FrameSink | null, chain: FrameChain, f: u8): void {
    if (sink === null) { this.stats.rxDropped++; return; }
    this.stats.rxPackets++;
    this.stats.rxBytes += <u64>chain.total;
    sink.receiveChain(chain, this.rxFlags(f));
  }

  /** §5.1.6.4: DATA_VALID — the device checked the checksum; NEEDS_CSUM —
   *  a partial checksum from a sender on this host (no wire in between). */
  private rxFlags(f: u8): u32 {
    if (this.has(VIRTIO_NET_F_GUEST_CSUM) && (f & (VIRTIO_NET_HDR_F_DATA_VALID | VIRTIO_NET_HDR_F_NEEDS_CSUM)) != 0) {
      this.rxCsumValid++;
      return RX_CSUM_VALID;
    }
    return 0;
  }

  /** From the event loop or polling: reclaim transmit slots. Received frames
   *  wait for the stack's poll() (NetDevice). */
  service(): void {
    this.reclaimTx();
  }

  /** The interrupt path: receive buffers are the stack's to take, so this
   *  only tells it (the queue is re-armed by receive()). */
  drain(): void {
    if (!this.ready) return;
    this.reclaimTx();
    if (this.queues[RXQ].pendingUsed() != 0) {
      this.rxSignals++;
      const t = this.rxTask;
      if (t !== null) wake(t);
    }
  }

  /** After the stack took frames: ask for an interrupt at the next one, and
   *  if one slipped in meanwhile (§2.7.10), have the loop come round again. */
  private rearmRx(): void {
    if (!this.irqAttached) return;
    if (this.queues[RXQ].enableInterrupts()) {
      const t = this.rxTask;
      if (t !== null) wake(t);
      pollSoon();
    }
  }
}

/** The virtio-net header of a TSO packet at p (§5.1.6.2). */
function gsoHeader(p: usize, csumStart: i32, csumOffset: i32, mss: i32, hdrLen: i32): void {
  store<u8>(p + HDR_FLAGS, VIRTIO_NET_HDR_F_NEEDS_CSUM);
  store<u8>(p + HDR_GSO_TYPE, VIRTIO_NET_HDR_GSO_TCPV4);
  store<u16>(p + HDR_HDR_LEN, <u16>hdrLen);
  store<u16>(p + HDR_GSO_SIZE, <u16>mss);
  store<u16>(p + HDR_CSUM_START, <u16>csumStart);
  store<u16>(p + HDR_CSUM_OFFSET, <u16>csumOffset);
  store<u16>(p + HDR_NUM_BUFFERS, 0);
}

/** What §5.1.6.2 asks of a TSO packet: up to TSO_FRAME_MAX bytes, an MSS
 *  that fits gso_size, the checksum field inside the headers. */
function tsoArgsOk(len: i32, csumStart: i32, csumOffset: i32, mss: i32, hdrLen: i32): bool {
  return len > 0 && <u32>len <= TSO_FRAME_MAX && mss > 0 && mss <= 0xffff && hdrLen > csumStart &&
    hdrLen <= len && csumStart >= 0 && csumStart + csumOffset + 2 <= hdrLen;
}

/** RFC 1071: folds the ones'-complement sum of [p, p + len) (whose field at
 *  fieldOff already holds the pseudo-header sum) and stores its complement
 *  there. For a device that does not offer VIRTIO_NET_F_CSUM. */
function finishChecksum(p: usize, len: i32, fieldOff: i32): void {
  let sum: u32 = 0;
  let i = 0;
  for (; i + 1 < len; i += 2) sum += (<u32>load<u8>(p + <usize>i) << 8) | <u32>load<u8>(p + <usize>i + 1);
  if (i < len) sum += <u32>load<u8>(p + <usize>i) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  let c = ~sum & 0xffff;
  // UDP (the field 6 bytes in): a zero sum goes out as all ones (RFC 768).
  if (c == 0 && fieldOff == 6) c = 0xffff;
  store<u8>(p + <usize>fieldOff, <u8>(c >> 8));
  store<u8>(p + <usize>fieldOff + 1, <u8>c);
}

export function macString(m: StaticArray<u8>): string {
  let s = "";
  for (let i = 0; i < 6; i++) {
    const h = (<u32>m[i]).toString(16);
    s += (i ? ":" : "") + (h.length < 2 ? "0" + h : h);
  }
  return s;
}

/** The NetDevice face of a virtio-net device. */
export class VirtioNetIf extends NetDevice {
  constructor(public dev: VirtioNet) {
    super();
    this.stats = dev.stats;
  }
  mac(): StaticArray<u8> { return this.dev.macAddr; }
  mtu(): i32 { return this.dev.mtuBytes; }
  linkUp(): bool { return this.dev.link; }
  txChecksumOffload(): bool { return this.dev.has(VIRTIO_NET_F_CSUM); }
  rxChecksumOffload(): bool { return this.dev.has(VIRTIO_NET_F_GUEST_CSUM); }
  transmit(frame: usize, len: i32, csumStart: i32, csumOffset: i32): bool {
    return this.dev.transmit(frame, len, csumStart, csumOffset);
  }
  tsoMax(): i32 { return this.dev.tsoMax(); }
  transmitTso(frame: usize, len: i32, csumStart: i32, csumOffset: i32, mss: i32, hdrLen: i32): bool {
    return this.dev.transmitTso(frame, len, csumStart, csumOffset, mss, hdrLen);
  }
  reserveTso(): usize { return this.dev.reserveTso(); }
  transmitTsoReserved(len: i32, csumStart: i32, csumOffset: i32, mss: i32, hdrLen: i32): bool {
    return this.dev.transmitTsoReserved(len, csumStart, csumOffset, mss, hdrLen);
  }
  releaseTsoReserved(): void { this.dev.releaseTsoReserved(); }
  txZeroCopy(): bool { return this.dev.zeroCopy(); }
  transmitTsoZc(frame: usize, hdrLen: i32, p1: usize, n1: i32, p2: usize, n2: i32,
                csumStart: i32, csumOffset: i32, mss: i32): u64 {
    return this.dev.transmitTsoZc(frame, hdrLen, p1, n1, p2, n2, csumStart, csumOffset, mss);
  }
  zcInFlight(seq: u64): bool { return this.dev.zcInFlight(seq); }
  txBatchBegin(): void { this.dev.txBatchBegin(); }
  txBatchEnd(): void { this.dev.txBatchEnd(); }
  poll(sink: FrameSink, budget: i32): i32 {
    // With an interrupt routed the handler has acknowledged it; reading the
    // status here too would only cost a device exit per poll.
    if (!this.dev.irqAttached) this.dev.transportAck();
    this.dev.service();
    return this.dev.receive(sink, budget);
  }

  /** Wakes task whenever frames arrive (by interrupt, or by the loop's poll
   *  when the device has no interrupt). */
  setReceiveTask(task: Task | null): void { this.dev.rxTask = task; }
}
