// kernel/lib/net/counters.ts — the stack's counters (packets, drops per reason,
// TCP events) and its buffer-memory account. Plain data, so the REST endpoint
// and /metrics can list them: counterName(i) / NetCounters.get(i) for
// i < COUNTER_COUNT.
import { chargeHeap, MemOwner, allocPages, freePages, PAGE_SHIFT, PAGE_SIZE } from "../../core/mm";
import { TxPins, DeferredFree } from "./txpin";

export enum Counter {
  RxFrames = 0, RxBytes, TxFrames, TxBytes, TxDeviceFull,
  DropEthTruncated, DropEthNotForUs, DropEthUnknownType,
  ArpIn, ArpOut, DropArpMalformed, DropArpPendingFull, DropArpUnresolved, DropArpTableFull,
  IpIn, IpOut, DropIpTruncated, DropIpBadVersion, DropIpBadHeader, DropIpBadChecksum,
  DropIpNotForUs, DropIpUnknownProtocol, DropIpNoRoute, DropIpTooBig, IpFragmentsOut,
  FragIn, FragReassembled, DropFragTimeout, DropFragLimit, DropFragBad,
  IcmpIn, IcmpEchoReplies, IcmpUnreachableOut, IcmpUnreachableIn, DropIcmpMalformed, DropIcmpBadChecksum, DropIcmpRateLimit,
  UdpIn, UdpOut, DropUdpMalformed, DropUdpBadChecksum, DropUdpNoSocket,
  TcpIn, TcpOut, DropTcpMalformed, DropTcpBadChecksum, DropTcpNoSocket, TcpRstOut, TcpRstIn,
  DropTcpSynBacklog, DropTcpNoMemory, DropTcpOutOfWindow, DropTcpBadAck, DropTcpOooFull,
  TcpActiveOpens, TcpPassiveOpens, TcpEstablishedResets, TcpTimeouts,
  TcpRetransmits, TcpFastRetransmits, TcpChallengeAcks, TcpWindowProbes,
  DhcpOut, DhcpIn, DhcpLeases,
  TxCsumOffload, RxCsumOffload,
  TcpTimeWaits, TcpTimeWaitDropped, TcpTimeWaitReopened, TcpSynCookiesSent, TcpSynCookiesValid, TcpSynCookiesFailed,
  TcpKeepaliveProbes, TcpKeepaliveTimeouts,
  TcpRxBufferGrown, TcpTxBufferGrown,
  TxZeroCopy, TxZeroCopyBytes,
  COUNT
}
export const COUNTER_COUNT: i32 = Counter.COUNT;

// @ts-ignore: decorator
@lazy
const NAMES: string[] = [
  "rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "tx_device_full",
  "drop_eth_truncated", "drop_eth_not_for_us", "drop_eth_unknown_type",
  "arp_in", "arp_out", "drop_arp_malformed", "drop_arp_pending_full", "drop_arp_unresolved", "drop_arp_table_full",
  "ip_in", "ip_out", "drop_ip_truncated", "drop_ip_bad_version", "drop_ip_bad_header", "drop_ip_bad_checksum",
  "drop_ip_not_for_us", "drop_ip_unknown_protocol", "drop_ip_no_route", "drop_ip_too_big", "ip_fragments_out",
  "frag_in", "frag_reassembled", "drop_frag_timeout", "drop_frag_limit", "drop_frag_bad",
  "icmp_in", "icmp_echo_replies", "icmp_unreachable_out", "icmp_unreachable_in", "drop_icmp_malformed", "drop_icmp_bad_checksum", "drop_icmp_rate_limit",
  "udp_in", "udp_out", "drop_udp_malformed", "drop_udp_bad_checksum", "drop_udp_no_socket",
  "tcp_in", "tcp_out", "drop_tcp_malformed", "drop_tcp_bad_checksum", "drop_tcp_no_socket", "tcp_rst_out", "tcp_rst_in",
  "drop_tcp_syn_backlog", "drop_tcp_no_memory", "drop_tcp_out_of_window", "drop_tcp_bad_ack", "drop_tcp_ooo_full",
  "tcp_active_opens", "tcp_passive_opens", "tcp_established_resets", "tcp_timeouts",
  "tcp_retransmits", "tcp_fast_retransmits", "tcp_challenge_acks", "tcp_window_probes",
  "dhcp_out", "dhcp_in", "dhcp_leases",
  "tx_csum_offload", "rx_csum_offload",
  "tcp_time_waits", "tcp_time_wait_dropped", "tcp_time_wait_reopened", "tcp_syn_cookies_sent", "tcp_syn_cookies_valid",
  "drop_tcp_syn_cookie_bad", "tcp_keepalive_probes", "tcp_keepalive_timeouts",
  "tcp_rx_buffer_grown", "tcp_tx_buffer_grown",
  "tx_zero_copy", "tx_zero_copy_bytes",
];

export function counterName(i: i32): string {
  return i >= 0 && i < NAMES.length ? NAMES[i] : "unknown";
}

export class NetCounters {
  values: StaticArray<u64> = new StaticArray<u64>(Counter.COUNT);
  @inline inc(c: Counter): void { this.values[c]++; }
  @inline add(c: Counter, n: u64): void { this.values[c] += n; }
  @inline get(c: i32): u64 { return this.values[c]; }
  /** Sum of every drop_* counter. */
  drops(): u64 {
    let s: u64 = 0;
    for (let i = 0; i < COUNTER_COUNT; i++) if (NAMES[i].startsWith("drop_")) s += this.values[i];
    return s;
  }
}

/** Freed ring storage kept for the next ring of the same size: at most
 *  SPARE_BLOCKS blocks of at most SPARE_BLOCK_MAX bytes each. A connection
 *  takes and returns its rings' pages with every exchange (a ring gives its
 *  pages back as soon as it is empty); under TCG a round through the page
 *  allocator cost ≈ 5 µs, a spare ≈ 1. */
const SPARE_BLOCKS: i32 = 8;
const SPARE_BLOCK_MAX: i32 = 32 * 1024;

/** Buffer memory the stack holds (socket buffers, reassembly, ARP queues),
 *  bounded by limit. kernel/core/mm can read used/peak for its per-owner report. */
export class MemAccount extends DeferredFree {
  used: i64 = 0;
  peak: i64 = 0;
  /** Bytes of spare ring storage (pages still owned by "net", outside `used`). */
  spareBytes: i64 = 0;
  private spares: StaticArray<usize> = new StaticArray<usize>(SPARE_BLOCKS * 2);
  private spareCount: i32 = 0;
  /** Ring storage a queued zero-copy packet still reads: its free waits
   *  there (txpin.ts); such blocks stay in used until really freed. */
  pins: TxPins = new TxPins();
  constructor(public limit: i64) {
    super();
    this.pins.freeNow = this;
  }
  reserve(n: i32): bool {
    if (this.used + <i64>n > this.limit) return false;
    this.used += n;
    chargeHeap(MemOwner.NetBuffers, <i64>n);
    if (this.used > this.peak) this.peak = this.used;
    return true;
  }
  release(n: i32): void {
    this.used -= n;
    chargeHeap(MemOwner.NetBuffers, -<i64>n);
    if (this.used < 0) throw new Error("net: MemAccount released more than reserved");
  }

  /** Pages for a buffer of `bytes` (socket rings): taken from kernel/core/mm's
   *  page allocator (owner NetBuffers, so they show as "net" and go back to
   *  the pool, not the AS heap), within the limit; 0 when over the limit or
   *  out of pages. Not zeroed: a ring is only read where it was written.
   *  A small block freed before is taken again first (the spares above). */
  allocBuffer(bytes: i32): usize {
    const size = bufferBytes(bytes);
    if (this.used + <i64>size > this.limit) return 0;
    let p = this.takeSpare(size);
    if (p == 0) p = allocPages(size >> PAGE_SHIFT, MemOwner.NetBuffers, false);
    if (p == 0 && this.spareCount > 0) {               // short of pages: the spares go first
      this.dropSpares();
      p = allocPages(size >> PAGE_SHIFT, MemOwner.NetBuffers, false);
    }
    if (p == 0) return 0;
    this.used += size;
    if (this.used > this.peak) this.peak = this.used;
    this.bufferPages += size >> PAGE_SHIFT;
    return p;
  }

  /** Gives a buffer back, or, while a zero-copy packet queued at the device
   *  still reads it, once the device is done (TxPins). */
  freeBuffer(ptr: usize, bytes: i32): void {
    const size = bufferBytes(bytes);
    if (this.pins.deferFree(ptr, size)) return;
    this.free(ptr, size);
  }

  /** The free itself (DeferredFree: also when a deferred block's pins are gone). */
  free(ptr: usize, size: i32): void {
    if (size <= SPARE_BLOCK_MAX && this.spareCount < SPARE_BLOCKS) {
      for (let k = 0; k < this.spareCount; k++) {
        if (unchecked(this.spares[k * 2]) == ptr) throw new Error("net: ring storage freed twice");
      }
      const i = this.spareCount++ * 2;
      unchecked(this.spares[i] = ptr);
      unchecked(this.spares[i + 1] = <usize>size);
      this.spareBytes += size;
    } else {
      freePages(ptr, size >> PAGE_SHIFT);
    }
    this.used -= size;
    this.bufferPages -= size >> PAGE_SHIFT;
    if (this.used < 0) throw new Error("net: MemAccount released more than reserved");
  }

  /** A spare block of exactly size bytes, or 0. */
  private takeSpare(size: i32): usize {
    for (let i = this.spareCount - 1; i >= 0; i--) {
      if (unchecked(this.spares[i * 2 + 1]) != <usize>size) continue;
      const p = unchecked(this.spares[i * 2]);
      const last = --this.spareCount;
      unchecked(this.spares[i * 2] = this.spares[last * 2]);
      unchecked(this.spares[i * 2 + 1] = this.spares[last * 2 + 1]);
      this.spareBytes -= size;
      return p;
    }
    return 0;
  }

  /** Gives every spare block back to the page allocator. */
  dropSpares(): void {
    for (let i = 0; i < this.spareCount; i++) {
      freePages(unchecked(this.spares[i * 2]), <i32>(unchecked(this.spares[i * 2 + 1]) >> PAGE_SHIFT));
    }
    this.spareCount = 0;
    this.spareBytes = 0;
  }

  /** Pages held by socket buffers now. */
  bufferPages: i64 = 0;

  /** May a socket ring grow by extra bytes (TCP buffer auto-tuning)? Only
   *  while the stack holds less than half its limit afterwards: growth is
   *  for speed, and never takes the room new connections need. */
  mayGrow(extra: i32): bool {
    return this.used + <i64>extra <= this.limit / 2;
  }
}

/** What a buffer of n bytes occupies: whole pages. */
// @ts-ignore: decorator
@inline export function bufferBytes(n: i32): i32 {
  return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}
