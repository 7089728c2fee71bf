// kernel/lib/net/iface/interface.ts — one Ethernet interface: receive dispatch
// (Ethernet II -> ARP / IPv4 -> ICMP, UDP, TCP), IPv4 routing (on-link or via
// the gateway), ARP resolution, fragment reassembly on input and
// fragmentation on output, ICMP echo and destination-unreachable. Layer: iface.
// Sits between the device (kernel/lib/net/device.ts) and the transports in
// kernel/lib/net/socket, which it knows only as ProtocolHandlers.
//
// Buffers: a received frame is valid only inside receive(); the interface
// builds every outgoing frame in its own tx buffer: transports write their L4
// segment at l4Ptr() and call sendIp(). Nothing here aborts on packet content.
import { NetDevice, FrameSink, FrameChain, RX_CSUM_VALID } from "../device";
import { NetCounters, Counter, MemAccount } from "../counters";
import {
  ETH_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, EthernetRepr,
  ArpRepr, ARP_LEN, ARP_REQUEST, ARP_REPLY,
  Ipv4Repr, IP_HEADER_LEN, IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP, IP_BROADCAST,
  IcmpRepr, ICMP_HEADER_LEN, ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY, ICMP_DEST_UNREACHABLE, UNREACH_PORT, UNREACH_PROTOCOL,
  MAC_BROADCAST, WireError, wireError, get8, get16, getMac, fillL4Checksum, ETH_FIELD_DST, ETH_FIELD_SRC, ETH_FIELD_TYPE,
} from "../wire";
import { ArpCache, ArpEntry } from "./arp";
import { Reassembler } from "./fragment";

/** A transport (TCP, UDP) as the interface sees it. */
export abstract class ProtocolHandler {
  /** The L4 payload of a datagram for us. csumValid: the device verified the
   *  L4 checksum. Returns false when no socket wants it (UDP: the interface
   *  then answers with ICMP port unreachable). */
  abstract receive(ip: Ipv4Repr, ptr: usize, len: i32, csumValid: bool, now: i64): bool;
  /** Timers; returns the next deadline (i64.MAX_VALUE: none). */
  abstract poll(now: i64): i64;
}

export const NO_DEADLINE: i64 = i64.MAX_VALUE;
const RX_BUDGET = 64;
const RX_ROUNDS = 8;
const ICMP_ERRORS_PER_SEC = 20;
const TX_BUF_LEN = ETH_HEADER_LEN + 65535;

export class Interface extends FrameSink {
  counters: NetCounters;
  mem: MemAccount;
  mac: u64 = 0;
  mtu: i32 = 1500;
  /** IPv4 configuration; addr 0 = none yet (DHCP in progress). */
  addr: u32 = 0;
  prefixLen: i32 = 0;
  netmask: u32 = 0;
  gateway: u32 = 0;
  dns: Array<u32> = [];
  arp: ArpCache;
  frags: Reassembler;
  tcp: ProtocolHandler | null = null;
  udp: ProtocolHandler | null = null;
  /** The last poll stopped at its budget with frames possibly left. */
  rxBacklog: bool = false;
  /** The time of the current poll; receive() runs inside it. */
  now: i64 = 0;
  tx: StaticArray<u8> = new StaticArray<u8>(TX_BUF_LEN);
  /** The headers of the packet being sent, reused (nothing allocated per packet). */
  private txIp: Ipv4Repr = new Ipv4Repr();
  private txEth: EthernetRepr = new EthernetRepr();
  /** The IPv4 header of the packet being received, reused (receive() is never
   *  re-entered: nothing here delivers a frame to itself). */
  private rxIpHdr: Ipv4Repr = new Ipv4Repr();
  private ident: u32 = 1;
  private icmpErrWindow: i64 = 0;
  private icmpErrCount: i32 = 0;
  private retry: Array<u32> = [];
  /** The IP header of the datagram being delivered, for ICMP errors (0: none). */
  private rxIp: usize = 0;
  private rxIpLen: i32 = 0;
  /** The Ethernet source of the frame being received. */
  private rxSrcMac: u64 = 0;
  /** The frame being received when it came in pieces (receiveChain) and is
   *  taken as it lies: TCP copies its payload from here (null otherwise). */
  rxChain: FrameChain | null = null;

  constructor(public device: NetDevice, counters: NetCounters, mem: MemAccount) {
    super();
    this.counters = counters;
    this.mem = mem;
    this.arp = new ArpCache(mem, counters);
    this.frags = new Reassembler(mem, counters);
    const m = device.mac();
    for (let i = 0; i < 6; i++) this.mac = (this.mac << 8) | <u64>m[i];
    this.txFrame = changetype<usize>(this.tx);
    this.mtu = device.mtu();
    if (this.mtu < 576 || this.mtu > 65535) this.mtu = 1500;
  }

  // ---- configuration ----

  /** Sets (or clears, addr 0) the IPv4 address; a new address is announced
   *  with a gratuitous ARP request (RFC 5227 §3). */
  setIpv4(addr: u32, prefixLen: i32, gateway: u32): void {
    const changed = addr != this.addr;
    this.addr = addr;
    this.prefixLen = prefixLen < 0 ? 0 : prefixLen > 32 ? 32 : prefixLen;
    this.netmask = this.prefixLen == 0 ? 0 : <u32>(0xffffffff << (32 - this.prefixLen));
    this.gateway = gateway;
    if (changed && addr != 0) this.sendArp(ARP_REQUEST, addr, MAC_BROADCAST, addr, 0);
  }

  isBroadcast(a: u32): bool {
    return a == IP_BROADCAST || (this.addr != 0 && this.netmask != 0xffffffff && a == (this.addr | ~this.netmask));
  }
  onLink(a: u32): bool {
    return this.addr != 0 && (a & this.netmask) == (this.addr & this.netmask);
  }

  // ---- the event loop's entry ----

  /** Receives what the device has, runs ARP and reassembly timers. */
  poll(now: i64): i64 {
    this.now = now;
    // Poll again while frames come: replies sent from inside receive() often
    // draw answers that land before the driver re-arms its interrupt. If the
    // rounds run out with frames still coming, rxBacklog asks for another pass.
    let rounds = 0;
    let got = 0;
    do { got = this.device.poll(this, RX_BUDGET); rounds++; } while (got > 0 && rounds < RX_ROUNDS);
    this.rxBacklog = got > 0;
    this.retry.length = 0;
    let next = this.arp.poll(now, this.retry);
    for (let i = 0; i < this.retry.length; i++) this.sendArp(ARP_REQUEST, this.addr, MAC_BROADCAST, this.retry[i], 0);
    const f = this.frags.poll(now);
    return f < next ? f : next;
  }

  // ---- receive ----

  receive(frame: usize, len: i32, flags: u32): void {
    this.counters.inc(Counter.RxFrames);
    this.counters.add(Counter.RxBytes, <u64>len);
    if ((flags & RX_CSUM_VALID) != 0) this.counters.inc(Counter.RxCsumOffload);
    // The header read in place (no view allocated per frame).
    if (<u32>len < <u32>ETH_HEADER_LEN) { this.counters.inc(Counter.DropEthTruncated); return; }
    const dst = getMac(frame + ETH_FIELD_DST);
    if (dst != this.mac && dst != MAC_BROADCAST) { this.counters.inc(Counter.DropEthNotForUs); return; }
    const type = get16(frame + ETH_FIELD_TYPE);
    this.rxSrcMac = getMac(frame + ETH_FIELD_SRC);
    const payload = frame + ETH_HEADER_LEN, payloadLen = len - ETH_HEADER_LEN;
    if (type == ETHERTYPE_ARP) this.receiveArp(payload, payloadLen);
    else if (type == ETHERTYPE_IPV4) this.receiveIpv4(payload, payloadLen, (flags & RX_CSUM_VALID) != 0);
    else this.counters.inc(Counter.DropEthUnknownType);
  }

  /** A frame in pieces (a large segment over several receive buffers). A
   *  TCP segment in one IPv4 packet, its checksum vouched for by the device
   *  and every header in the first piece, is taken as it lies: the headers
   *  are parsed there and TCP copies the payload from the pieces straight
   *  into the socket's receive ring (one copy). Anything else is joined into
   *  one buffer first. */
  receiveChain(chain: FrameChain, flags: u32): void {
    const f = chain.count > 0 ? chain.ptr(0) : 0;
    const first = chain.count > 0 ? chain.len(0) : 0;
    if ((flags & RX_CSUM_VALID) != 0 && this.tcp != null && first >= ETH_HEADER_LEN + IP_HEADER_LEN &&
        get16(f + ETH_FIELD_TYPE) == ETHERTYPE_IPV4) {
      const ip = f + ETH_HEADER_LEN;
      const ihl = <i32>(get8(ip) & 15) << 2;
      const l4 = ETH_HEADER_LEN + ihl;
      // Not a fragment (MF clear, offset 0), TCP, and its header (data offset included) in the first piece.
      if (get8(ip + 9) == IP_PROTO_TCP && (get16(ip + 6) & 0x3fff) == 0 && l4 + 20 <= first &&
          l4 + (<i32>(get8(f + <usize>l4 + 12) >> 4) << 2) <= first) {
        this.rxChain = chain;
        this.receive(f, chain.total, flags);
        this.rxChain = null;
        return;
      }
    }
    this.receive(chain.flatten(), chain.total, flags);
  }

  private receiveArp(ptr: usize, len: i32): void {
    const a = ArpRepr.parse(ptr, len);
    if (a == null) { this.counters.inc(Counter.DropArpMalformed); return; }
    this.counters.inc(Counter.ArpIn);
    if (this.addr == 0 || a.senderIp == 0 || a.senderMac == MAC_BROADCAST || (a.senderMac >> 40) & 1) return;
    if (a.senderIp == this.addr) return;              // someone else claims our address; ignore it
    // RFC 826: merge the sender when known; add it when the packet is for us.
    const forUs = a.targetIp == this.addr;
    const e = this.arp.update(a.senderIp, a.senderMac, this.now, forUs);
    if (e != null && e.pending.length > 0) this.flushPending(a.senderMac, e);
    if (forUs && a.operation == ARP_REQUEST) this.sendArp(ARP_REPLY, this.addr, a.senderMac, a.senderIp, a.senderMac);
  }

  /** Sends the packets that waited for mac. */
  private flushPending(mac: u64, e: ArpEntry): void {
    const q = this.arp.takePending(e);
    for (let i = 0; i < q.length; i++) {
      const p = q[i];
      memory.copy(changetype<usize>(this.tx) + ETH_HEADER_LEN, changetype<usize>(p), <usize>p.length);
      this.transmitFrame(mac, p.length, -1, 0);
    }
  }

  private receiveIpv4(ptr: usize, len: i32, csumValid: bool): void {
    const ip = this.rxIpHdr;
    if (!ip.parseFrom(ptr, len)) {
      const e = wireError();
      this.counters.inc(e == WireError.BadChecksum ? Counter.DropIpBadChecksum
        : e == WireError.BadVersion ? Counter.DropIpBadVersion
        : e == WireError.Truncated ? Counter.DropIpTruncated : Counter.DropIpBadHeader);
      return;
    }
    this.counters.inc(Counter.IpIn);
    const dst = ip.dst;
    // Before an address is configured only DHCP (UDP) gets through.
    const forUs = (dst == this.addr && this.addr != 0) || this.isBroadcast(dst) || (this.addr == 0 && ip.protocol == IP_PROTO_UDP);
    if (!forUs) { this.counters.inc(Counter.DropIpNotForUs); return; }
    if (ip.src == IP_BROADCAST || (ip.src >> 28) == 0xe) { this.counters.inc(Counter.DropIpBadHeader); return; }
    // An on-link sender's MAC is as good as its ARP reply (smoltcp does the
    // same): a burst of answers to it need not wait for resolution.
    if (this.onLink(ip.src) && ip.src != this.addr && this.rxSrcMac != MAC_BROADCAST && ((this.rxSrcMac >> 40) & 1) == 0) {
      const e = this.arp.update(ip.src, this.rxSrcMac, this.now, true);
      if (e != null && e.pending.length > 0) this.flushPending(e.mac, e);
    }
    const payload = ptr + <usize>ip.headerLen;
    if (ip.isFragment) {
      if (!this.frags.add(ip.src, ip.dst, ip.protocol, ip.ident, ip.fragOffset, ip.moreFrags, payload, ip.payloadLen, this.now)) return;
      const whole = this.frags.done;
      ip.payloadLen = this.frags.doneLen;
      ip.fragOffset = 0;
      ip.moreFrags = false;
      this.rxIp = 0;                 // no single header to quote in an ICMP error
      this.deliver(ip, changetype<usize>(whole), ip.payloadLen, false);
      return;
    }
    this.rxIp = ptr;
    this.rxIpLen = ip.headerLen + ip.payloadLen;
    this.deliver(ip, payload, ip.payloadLen, csumValid);
    this.rxIp = 0;
  }

  private deliver(ip: Ipv4Repr, ptr: usize, len: i32, csumValid: bool): void {
    const p = ip.protocol;
    if (p == IP_PROTO_TCP) {
      const h = this.tcp;
      if (h != null) { h.receive(ip, ptr, len, csumValid, this.now); return; }
    } else if (p == IP_PROTO_UDP) {
      const h = this.udp;
      if (h != null) {
        if (!h.receive(ip, ptr, len, csumValid, this.now)) this.sendUnreachable(ip, UNREACH_PORT);
        return;
      }
    } else if (p == IP_PROTO_ICMP) {
      this.receiveIcmp(ip, ptr, len);
      return;
    }
    this.counters.inc(Counter.DropIpUnknownProtocol);
    this.sendUnreachable(ip, UNREACH_PROTOCOL);
  }

  private receiveIcmp(ip: Ipv4Repr, ptr: usize, len: i32): void {
    const m = IcmpRepr.parse(ptr, len);
    if (m == null) {
      this.counters.inc(wireError() == WireError.BadChecksum ? Counter.DropIcmpBadChecksum : Counter.DropIcmpMalformed);
      return;
    }
    this.counters.inc(Counter.IcmpIn);
    if (m.type == ICMP_ECHO_REQUEST && ip.dst == this.addr) {
      // RFC 792: the reply carries the request's identifier, sequence and data.
      const out = this.l4Ptr();
      if (len > 65535 - IP_HEADER_LEN) return;
      memory.copy(out + ICMP_HEADER_LEN, ptr + ICMP_HEADER_LEN, <usize>m.dataLen);
      m.type = ICMP_ECHO_REPLY;
      m.code = 0;
      m.emit(out);
      if (this.sendIp(0, ip.src, IP_PROTO_ICMP, len, -1)) this.counters.inc(Counter.IcmpEchoReplies);
    } else if (m.type == ICMP_DEST_UNREACHABLE) {
      this.counters.inc(Counter.IcmpUnreachableIn);
    }
  }

  /** ICMP destination unreachable (RFC 792; RFC 1122 §3.2.2: never about
   *  broadcasts, ICMP errors or non-initial fragments), rate limited. */
  sendUnreachable(ip: Ipv4Repr, code: u32): void {
    if (this.rxIp == 0 || this.isBroadcast(ip.dst) || ip.dst != this.addr || ip.src == 0) return;
    if (ip.protocol == IP_PROTO_ICMP) {
      const t = get8(this.rxIp + <usize>ip.headerLen);
      if (t != ICMP_ECHO_REQUEST && t != ICMP_ECHO_REPLY) return;
    }
    const window = this.now / 1_000_000_000;
    if (window != this.icmpErrWindow) { this.icmpErrWindow = window; this.icmpErrCount = 0; }
    if (this.icmpErrCount >= ICMP_ERRORS_PER_SEC) { this.counters.inc(Counter.DropIcmpRateLimit); return; }
    this.icmpErrCount++;
    let quote = ip.headerLen + 8;
    if (quote > this.rxIpLen) quote = this.rxIpLen;
    const out = this.l4Ptr();
    memory.copy(out + ICMP_HEADER_LEN, this.rxIp, <usize>quote);
    const m = new IcmpRepr();
    m.type = ICMP_DEST_UNREACHABLE;
    m.code = code;
    m.dataLen = quote;
    m.emit(out);
    if (this.sendIp(0, ip.src, IP_PROTO_ICMP, ICMP_HEADER_LEN + quote, -1)) this.counters.inc(Counter.IcmpUnreachableOut);
  }

  // ---- transmit ----

  /** Where a transport writes its L4 segment before sendIp(). */
  @inline l4Ptr(): usize { return this.txFrame + ETH_HEADER_LEN + IP_HEADER_LEN; }

  /** Where the frame being built starts: tx, or a device buffer reserved
   *  for a TSO packet (reserveTso: built in place, no copy). */
  private txFrame: usize = 0;
  private txReserved: bool = false;

  /** TCP is about to build a segment over the MTU: have it built straight
   *  into a free TSO buffer of the device when there is one (l4Ptr() then
   *  points there). The next sendIp() sends it or gives the buffer back. */
  reserveTso(): void {
    if (this.txReserved || this.tcpTsoMax() == 0) return;
    const p = this.device.reserveTso();
    if (p == 0) return;
    this.txFrame = p;
    this.txReserved = true;
  }

  private endReserve(): void {
    if (this.txReserved) this.device.releaseTsoReserved();
    this.txReserved = false;
    this.txFrame = changetype<usize>(this.tx);
  }
  /** Largest L4 segment that leaves in one frame. */
  @inline l4Max(): i32 { return this.mtu - IP_HEADER_LEN; }
  /** Largest TCP segment the device cuts into frames itself (TSO), 0 when it
   *  does not: TCP may then hand sendIp() segments of up to this many bytes,
   *  with tsoMss set to the payload per frame. */
  tcpTsoMax(): i32 {
    const m = this.device.tsoMax();
    if (m <= 0 || !this.device.txChecksumOffload()) return 0;
    const l4 = min(m, ETH_HEADER_LEN + 65535) - ETH_HEADER_LEN - IP_HEADER_LEN;
    return l4 > this.l4Max() ? l4 : 0;
  }
  /** The payload bytes per frame for a TCP segment over the MTU (set by TCP
   *  before each send: its connection's MSS). */
  tsoMss: i32 = 0;
  /** The last sendIp() failed because the device's transmit queue was full
   *  (TCP then keeps the segment for later instead of counting it sent). */
  deviceFull: bool = false;
  /** Whether an L4 segment of this length may leave its checksum to the device. */
  offloadFor(l4len: i32): bool {
    return this.device.txChecksumOffload() && (l4len <= this.l4Max() || (this.tsoMss > 0 && l4len <= this.tcpTsoMax()));
  }

  /** Sends the L4 segment at l4Ptr() (l4len bytes) to dst. src 0 means our
   *  address. csumField >= 0: the segment's checksum holds only the
   *  pseudo-header sum (offloadFor() was true) and the device finishes it.
   *  Returns false when the packet could not be sent or queued. */
  sendIp(src: u32, dst: u32, protocol: u32, l4len: i32, csumField: i32): bool {
    if (this.txReserved && !(protocol == IP_PROTO_TCP && csumField >= 0 && this.tsoMss > 0 &&
        IP_HEADER_LEN + l4len > this.mtu && l4len <= this.tcpTsoMax())) {
      // Not a TSO packet after all: it is sent from tx, as any other.
      const l4 = changetype<usize>(this.tx) + ETH_HEADER_LEN + IP_HEADER_LEN;
      if (l4len > 0 && l4len <= TX_BUF_LEN - ETH_HEADER_LEN - IP_HEADER_LEN) memory.copy(l4, this.l4Ptr(), <usize>l4len);
      this.endReserve();
    }
    const ok = this.sendIpFrom(src, dst, protocol, l4len, csumField);
    if (this.txReserved) this.endReserve();      // not sent (no route, no ARP entry): the buffer goes back
    return ok;
  }

  /** Writes the Ethernet header of an IPv4 frame to mac at f. */
  private ethIpv4(f: usize, mac: i64): void {
    const eth = this.txEth;
    eth.dst = <u64>mac;
    eth.src = this.mac;
    eth.ethertype = ETHERTYPE_IPV4;
    eth.emit(f);
  }

  /** The IPv4 header of an unfragmented packet of ours, in txIp: ident is
   *  the next one, which the caller takes (advances) once the packet goes. */
  private ipHeader(src: u32, dst: u32, protocol: u32, l4len: i32): Ipv4Repr {
    const ip = this.txIp;
    ip.tos = 0; ip.dontFrag = false; ip.moreFrags = false; ip.fragOffset = 0; ip.headerLen = IP_HEADER_LEN;
    ip.src = src != 0 ? src : this.addr;
    ip.dst = dst;
    ip.protocol = protocol;
    ip.ttl = 64;
    ip.ident = this.ident;
    ip.payloadLen = l4len;
    return ip;
  }

  private sendIpFrom(src: u32, dst: u32, protocol: u32, l4len: i32, csumField: i32): bool {
    this.deviceFull = false;
    if (l4len < 0 || l4len > 65535 - IP_HEADER_LEN) { this.counters.inc(Counter.DropIpTooBig); return false; }
    let mac: i64 = -1;
    let nextHop = dst;
    if (this.isBroadcast(dst)) mac = <i64>MAC_BROADCAST;
    else if (!this.onLink(dst)) {
      if (this.gateway == 0 || this.addr == 0) { this.counters.inc(Counter.DropIpNoRoute); return false; }
      nextHop = this.gateway;
    }
    const ip = this.ipHeader(src, dst, protocol, l4len);
    this.ident = (this.ident + 1) & 0xffff;
    const ipPtr = changetype<usize>(this.tx) + ETH_HEADER_LEN;
    if (IP_HEADER_LEN + l4len > this.mtu) {
      if (protocol == IP_PROTO_TCP && csumField >= 0 && this.tsoMss > 0 && l4len <= this.tcpTsoMax()) {
        return this.sendTso(ip, mac, nextHop, csumField);
      }
      if (csumField >= 0) throw new Error("net: checksum offload asked for a packet that needs fragments");
      return this.sendFragments(ip, mac, nextHop);
    }
    ip.emit(ipPtr);
    this.counters.inc(Counter.IpOut);
    if (mac < 0) mac = this.arp.lookup(nextHop, this.now);
    if (mac < 0) {
      // Unresolved: the device can't finish a queued checksum later, so finish it now.
      if (csumField >= 0) fillL4Checksum(ip.src, dst, protocol, ipPtr + IP_HEADER_LEN, l4len, csumField);
      if (this.arp.enqueue(nextHop, ipPtr, IP_HEADER_LEN + l4len, this.now)) this.sendArp(ARP_REQUEST, this.addr, MAC_BROADCAST, nextHop, 0);
      return true;
    }
    return this.transmitFrame(<u64>mac, IP_HEADER_LEN + l4len, csumField >= 0 ? ETH_HEADER_LEN + IP_HEADER_LEN : -1, csumField);
  }

  /** RFC 791 §3.2 fragmentation: the L4 segment is moved up in 8-byte
   *  multiples behind a header per fragment. */
  private sendFragments(ip: Ipv4Repr, mac: i64, nextHop: u32): bool {
    const total = ip.payloadLen;
    const chunk = (this.mtu - IP_HEADER_LEN) & ~7;
    const data = new StaticArray<u8>(total);        // the segment, since headers overwrite the tx buffer
    memory.copy(changetype<usize>(data), this.l4Ptr(), <usize>total);
    if (mac < 0) mac = this.arp.lookup(nextHop, this.now);
    const ipPtr = changetype<usize>(this.tx) + ETH_HEADER_LEN;
    for (let off = 0; off < total; off += chunk) {
      const n = total - off < chunk ? total - off : chunk;
      ip.fragOffset = off;
      ip.moreFrags = off + n < total;
      ip.payloadLen = n;
      memory.copy(this.l4Ptr(), changetype<usize>(data) + <usize>off, <usize>n);
      ip.emit(ipPtr);
      this.counters.inc(Counter.IpFragmentsOut);
      if (mac < 0) {
        if (this.arp.enqueue(nextHop, ipPtr, IP_HEADER_LEN + n, this.now) && off == 0) {
          this.sendArp(ARP_REQUEST, this.addr, MAC_BROADCAST, nextHop, 0);
        }
      } else if (!this.transmitFrame(<u64>mac, IP_HEADER_LEN + n, -1, 0)) return false;
    }
    this.counters.inc(Counter.IpOut);
    return true;
  }

  /** A TCP segment over the MTU to a device that segments it (TSO): one
   *  packet of up to 64 KiB, cut by the device into frames of tsoMss payload
   *  bytes. It is not queued behind ARP: an unresolved next hop (rare for a
   *  connection that has been sending) drops it, TCP sends it again. */
  private sendTso(ip: Ipv4Repr, mac: i64, nextHop: u32, csumField: i32): bool {
    const f = this.txFrame;
    const ipPtr = f + ETH_HEADER_LEN;
    if (mac < 0) mac = this.arp.lookup(nextHop, this.now);
    if (mac < 0) {
      this.counters.inc(Counter.DropArpUnresolved);
      this.sendArp(ARP_REQUEST, this.addr, MAC_BROADCAST, nextHop, 0);
      return false;
    }
    ip.emit(ipPtr);
    this.counters.inc(Counter.IpOut);
    this.ethIpv4(f, mac);
    const l4 = ETH_HEADER_LEN + IP_HEADER_LEN;
    const hdrLen = l4 + ((<i32>load<u8>(f + <usize>l4 + 12) >> 4) << 2);     // the TCP data offset
    const len = ETH_HEADER_LEN + IP_HEADER_LEN + ip.payloadLen;
    let sent: bool;
    if (this.txReserved) {
      this.txReserved = false;                   // the device has the buffer back, sent or not
      this.txFrame = changetype<usize>(this.tx);
      sent = this.device.transmitTsoReserved(len, l4, csumField, this.tsoMss, hdrLen);
    } else {
      sent = this.device.transmitTso(f, len, l4, csumField, this.tsoMss, hdrLen);
    }
    if (!sent) {
      this.counters.inc(Counter.TxDeviceFull);
      this.deviceFull = true;
      return false;
    }
    this.counters.inc(Counter.TxCsumOffload);
    this.counters.inc(Counter.TxFrames);
    this.counters.add(Counter.TxBytes, <u64>len);
    return true;
  }

  /** Whether a TCP segment of l4len bytes may leave by sendTcpZc(): the
   *  device segments it (TSO) and reads payloads in place. */
  zeroCopyFor(l4len: i32): bool {
    return this.tsoMss > 0 && l4len > this.l4Max() && l4len <= this.tcpTsoMax() && this.device.txZeroCopy();
  }

  /** Zero copy: a TCP segment over the MTU whose header (hl bytes, checksum
   *  field at csumField holding the pseudo-header sum) is at l4Ptr() and
   *  whose n1 + n2 payload bytes the device reads in place from p1 and p2
   *  (a send ring's range). Returns the device's sequence number for the
   *  packet (the caller pins the payload until the device is done with
   *  it), or 0 when it did not go: not a TSO segment, no route or no ARP
   *  entry yet, no room at the device — the caller then sends it the usual
   *  way (which copies, and counts what fails). */
  sendTcpZc(src: u32, dst: u32, hl: i32, p1: usize, n1: i32, p2: usize, n2: i32, csumField: i32): u64 {
    const l4len = hl + n1 + n2;
    if (!this.zeroCopyFor(l4len) || this.txReserved || this.isBroadcast(dst)) return 0;
    let nextHop = dst;
    if (!this.onLink(dst)) {
      if (this.gateway == 0 || this.addr == 0) return 0;
      nextHop = this.gateway;
    }
    const mac = this.arp.lookup(nextHop, this.now);
    if (mac < 0) return 0;
    const f = changetype<usize>(this.tx);
    this.ipHeader(src, dst, IP_PROTO_TCP, l4len).emit(f + ETH_HEADER_LEN);   // ident taken below, once it went
    this.ethIpv4(f, mac);
    const l4 = ETH_HEADER_LEN + IP_HEADER_LEN;
    const seq = this.device.transmitTsoZc(f, l4 + hl, p1, n1, p2, n2, l4, csumField, this.tsoMss);
    if (seq == 0) return 0;
    this.ident = (this.ident + 1) & 0xffff;
    this.deviceFull = false;
    this.counters.inc(Counter.IpOut);
    this.counters.inc(Counter.TxCsumOffload);
    this.counters.inc(Counter.TxFrames);
    this.counters.add(Counter.TxBytes, <u64>(l4 + l4len));
    this.counters.inc(Counter.TxZeroCopy);
    this.counters.add(Counter.TxZeroCopyBytes, <u64>(n1 + n2));
    return seq;
  }

  /** Puts the Ethernet header before the packet in tx and hands it to the device. */
  private transmitFrame(dstMac: u64, ipLen: i32, csumStart: i32, csumOffset: i32): bool {
    const f = changetype<usize>(this.tx);
    this.ethIpv4(f, <i64>dstMac);
    return this.transmitRaw(f, ETH_HEADER_LEN + ipLen, csumStart, csumOffset);
  }

  private transmitRaw(f: usize, len: i32, csumStart: i32, csumOffset: i32): bool {
    if (!this.device.transmit(f, len, csumStart, csumOffset)) {
      this.counters.inc(Counter.TxDeviceFull);
      this.deviceFull = true;
      return false;
    }
    if (csumStart >= 0) this.counters.inc(Counter.TxCsumOffload);
    this.counters.inc(Counter.TxFrames);
    this.counters.add(Counter.TxBytes, <u64>len);
    return true;
  }

  sendArp(op: u32, senderIp: u32, ethDst: u64, targetIp: u32, targetMac: u64): void {
    // Built in a frame of its own: an ARP request may be sent while tx holds a
    // packet that waits for it.
    const f = memory.data(ETH_HEADER_LEN + ARP_LEN);
    const eth = new EthernetRepr();
    eth.dst = ethDst;
    eth.src = this.mac;
    eth.ethertype = ETHERTYPE_ARP;
    eth.emit(f);
    const a = new ArpRepr();
    a.operation = op;
    a.senderMac = this.mac;
    a.senderIp = senderIp;
    a.targetMac = op == ARP_REQUEST ? 0 : targetMac;
    a.targetIp = targetIp;
    a.emit(f + ETH_HEADER_LEN);
    if (this.transmitRaw(f, ETH_HEADER_LEN + ARP_LEN, -1, 0)) this.counters.inc(Counter.ArpOut);
  }
}

