// test/unit/wasm/net.ts — drives kernel/lib/net from Node: every wire format's
// parse/emit, and whole stacks on in-memory devices whose frames Node reads
// and writes (scripted peers, a lossy link between two stacks, fuzzing).
import {
  EthernetFrame, EthernetRepr, ArpRepr, Ipv4Repr, IcmpRepr, UdpRepr, TcpRepr, DhcpRepr,
  Ipv4Packet, TcpPacket, UdpPacket, IcmpPacket, ArpPacket,
  wireError, wireErrorName, ETH_HEADER_LEN, UDP_HEADER_LEN, ICMP_HEADER_LEN, macToString, ipToString,
} from "../../../kernel/lib/net/wire";
import { NetDevice, FrameSink, FrameChain } from "../../../kernel/lib/net/device";
import { NetStack } from "../../../kernel/lib/net/stack";
import { NetConfig, parseNetConfig } from "../../../kernel/lib/net/config";
import { SeededEntropy } from "../../../kernel/lib/net/entropy";
import { counterName, COUNTER_COUNT } from "../../../kernel/lib/net/counters";
import {
  TcpSocket, TcpHandler, TcpListener, TcpListenHandler, UdpSocket, UdpHandler, tcpStateName,
} from "../../../kernel/lib/net/socket";
export { abortHandler } from "../../../kernel/core/panic";
import { initMemory, memStats, MemOwner } from "../../../kernel/core/mm";
import { MemRegion } from "../../../kernel/platform/bootinfo";

// Socket buffers are pages from kernel/core/mm's pool: give it a machine (256 MiB).
initMemory([new MemRegion(0, 0x9fc00, 1), new MemRegion(0x100000, (256 << 20) - 0x100000, 1)]);

/** Bytes of pool pages the stack's buffers hold now (kernel/core/mm's "net" owner). */
export function netPoolBytes(): u64 { return memStats().byOwner[MemOwner.NetBuffers]; }

// ------------------------------------------------------------------ wire

function flagsOf(t: TcpRepr): string {
  let s = "";
  if (t.flags & 0x02) s += "S";
  if (t.flags & 0x10) s += "A";
  if (t.flags & 0x08) s += "P";
  if (t.flags & 0x01) s += "F";
  if (t.flags & 0x04) s += "R";
  return s;
}

const reusedIp = new Ipv4Repr();
const reusedTcp = new TcpRepr();

function ipJson(r: Ipv4Repr): string {
  return "{\"src\":\"" + ipToString(r.src) + "\",\"dst\":\"" + ipToString(r.dst) + "\",\"proto\":" + r.protocol.toString() +
      ",\"ttl\":" + r.ttl.toString() + ",\"ident\":" + r.ident.toString() + ",\"df\":" + (r.dontFrag ? "true" : "false") +
      ",\"mf\":" + (r.moreFrags ? "true" : "false") + ",\"fragOffset\":" + r.fragOffset.toString() +
      ",\"headerLen\":" + r.headerLen.toString() + ",\"payloadLen\":" + r.payloadLen.toString() + "}";
}

function tcpJson(r: TcpRepr): string {
  return "{\"srcPort\":" + r.srcPort.toString() + ",\"dstPort\":" + r.dstPort.toString() + ",\"seq\":" + r.seq.toString() +
      ",\"ack\":" + r.ack.toString() + ",\"flags\":\"" + flagsOf(r) + "\",\"window\":" + r.window.toString() +
      ",\"mss\":" + r.mss.toString() + ",\"wscale\":" + r.wscale.toString() + ",\"sackPermitted\":" + (r.sackPermitted ? "true" : "false") +
      ",\"headerLen\":" + r.headerLen.toString() + ",\"payloadLen\":" + r.payloadLen.toString() + "}";
}

/** Parses one format and describes the result as JSON (or {"error":...}). */
export function parse(kind: i32, ptr: usize, len: i32, src: u32, dst: u32, verify: bool): string {
  switch (kind) {
    case 0: {
      const f = EthernetFrame.check(ptr, len);
      if (f == null) return "{\"error\":\"truncated\"}";
      const e = EthernetRepr.parse(f);
      return "{\"dst\":\"" + macToString(e.dst) + "\",\"src\":\"" + macToString(e.src) + "\",\"type\":" + e.ethertype.toString() + "}";
    }
    case 1: {
      const a = ArpRepr.parse(ptr, len);
      if (a == null) break;
      return "{\"op\":" + a.operation.toString() + ",\"sha\":\"" + macToString(a.senderMac) + "\",\"spa\":\"" + ipToString(a.senderIp) +
        "\",\"tha\":\"" + macToString(a.targetMac) + "\",\"tpa\":\"" + ipToString(a.targetIp) + "\"}";
    }
    case 2: {
      const r = Ipv4Repr.parse(ptr, len, verify);
      if (r == null) break;
      return ipJson(r);
    }
    case 7: {                      // the receive path's way: one object reused for every packet
      if (!reusedIp.parseFrom(ptr, len, verify)) break;
      return ipJson(reusedIp);
    }
    case 8: {
      if (!reusedTcp.parseFrom(ptr, len, src, dst, verify)) break;
      return tcpJson(reusedTcp);
    }
    case 3: {
      const r = IcmpRepr.parse(ptr, len);
      if (r == null) break;
      return "{\"type\":" + r.type.toString() + ",\"code\":" + r.code.toString() + ",\"ident\":" + r.ident.toString() +
        ",\"seq\":" + r.seq.toString() + ",\"dataLen\":" + r.dataLen.toString() + "}";
    }
    case 4: {
      const r = UdpRepr.parse(ptr, len, src, dst, verify);
      if (r == null) break;
      return "{\"srcPort\":" + r.srcPort.toString() + ",\"dstPort\":" + r.dstPort.toString() + ",\"payloadLen\":" + r.payloadLen.toString() + "}";
    }
    case 5: {
      const r = TcpRepr.parse(ptr, len, src, dst, verify);
      if (r == null) break;
      return tcpJson(r);
    }
    case 6: {
      const r = DhcpRepr.parse(ptr, len);
      if (r == null) break;
      let dns = "";
      for (let i = 0; i < r.dnsCount; i++) dns += (i > 0 ? "," : "") + "\"" + ipToString(r.dns[i]) + "\"";
      return "{\"op\":" + r.op.toString() + ",\"xid\":" + r.xid.toString() + ",\"type\":" + r.messageType.toString() +
        ",\"yiaddr\":\"" + ipToString(r.yiaddr) + "\",\"ciaddr\":\"" + ipToString(r.ciaddr) + "\",\"chaddr\":\"" + macToString(r.chaddr) +
        "\",\"serverId\":\"" + ipToString(r.serverId) + "\",\"requestedIp\":\"" + ipToString(r.requestedIp) +
        "\",\"mask\":\"" + ipToString(r.subnetMask) + "\",\"router\":\"" + ipToString(r.router) + "\",\"dns\":[" + dns +
        "],\"lease\":" + r.leaseTime.toString() + ",\"t1\":" + r.renewalTime.toString() + ",\"t2\":" + r.rebindingTime.toString() + "}";
    }
  }
  return "{\"error\":\"" + wireErrorName(wireError()) + "\"}";
}

/** Parses then emits into out (which Node pre-fills with 0xa5); payload bytes
 *  after the header are copied from the input first, since checksums cover
 *  them. Returns the bytes emitted, -1 when parse failed. */
export function reemit(kind: i32, ptr: usize, len: i32, src: u32, dst: u32, out: usize): i32 {
  switch (kind) {
    case 0: {
      const f = EthernetFrame.check(ptr, len);
      if (f == null) return -1;
      EthernetRepr.parse(f).emit(out);
      return ETH_HEADER_LEN;
    }
    case 1: {
      const a = ArpRepr.parse(ptr, len);
      if (a == null) return -1;
      a.emit(out);
      return 28;
    }
    case 2: {
      const r = Ipv4Repr.parse(ptr, len);
      if (r == null || r.headerLen != 20) return -1;
      r.emit(out);
      return 20;
    }
    case 3: {
      const r = IcmpRepr.parse(ptr, len);
      if (r == null) return -1;
      memory.copy(out + ICMP_HEADER_LEN, ptr + ICMP_HEADER_LEN, <usize>r.dataLen);
      r.emit(out);
      return len;
    }
    case 4: {
      const r = UdpRepr.parse(ptr, len, src, dst, true);
      if (r == null) return -1;
      memory.copy(out + UDP_HEADER_LEN, ptr + UDP_HEADER_LEN, <usize>r.payloadLen);
      r.emit(out, src, dst, false);
      return UDP_HEADER_LEN + r.payloadLen;
    }
    case 5: {
      // Emits only the options this stack writes (MSS, window scale).
      const r = TcpRepr.parse(ptr, len, src, dst, true);
      if (r == null) return -1;
      if (!(r.flags & 0x02)) { r.mss = 0; r.wscale = -1; }
      const hl = r.emitHeaderLen;
      memory.copy(out + <usize>hl, ptr + <usize>r.headerLen, <usize>r.payloadLen);
      r.emit(out, src, dst, false);
      return hl + r.payloadLen;
    }
    case 6: {
      const r = DhcpRepr.parse(ptr, len);
      if (r == null) return -1;
      r.emit(out);
      return r.emitLen;
    }
  }
  return -1;
}

/** Builds a TCP header from fields (flags as bits) for the emit tests. */
export function emitTcp(out: usize, src: u32, dst: u32, sport: u32, dport: u32, seq: u32, ack: u32, flags: u32,
                        window: u32, mss: u32, wscale: i32, payloadLen: i32, offload: bool): i32 {
  const r = new TcpRepr();
  r.srcPort = sport; r.dstPort = dport; r.seq = seq; r.ack = ack; r.flags = flags; r.window = window;
  r.mss = mss; r.wscale = wscale; r.payloadLen = payloadLen;
  r.emit(out, src, dst, offload);
  return r.emitHeaderLen;
}

export function emitDhcp(out: usize, op: u32, type: u32, xid: u32, macHi: u32, macLo: u32, yiaddr: u32, serverId: u32,
                         requested: u32, mask: u32, router: u32, dns: u32, lease: u32, params: bool): i32 {
  const r = new DhcpRepr();
  r.op = op; r.messageType = type; r.xid = xid; r.chaddr = (<u64>macHi << 32) | <u64>macLo;
  r.yiaddr = yiaddr; r.serverId = serverId; r.requestedIp = requested;
  if (mask != 0) { r.subnetMask = mask; r.hasSubnetMask = true; }
  r.router = router;
  if (dns != 0) { r.dns[0] = dns; r.dnsCount = 1; }
  r.leaseTime = lease; r.requestParams = params;
  r.emit(out);
  return r.emitLen;
}

/** Reads an Ethernet frame through the views (no Repr), and rewrites its
 *  TTL and ports through their setters; returns "" when a check fails. */
export function views(ptr: usize, len: i32, ttl: u32, sport: u32, dport: u32): string {
  const e = EthernetFrame.check(ptr, len);
  if (e == null) return "";
  if (e.ethertype == 0x0806) {
    const a = ArpPacket.check(e.payload, e.payloadLen);
    return a == null ? "" : "arp " + a.operation.toString() + " " + ipToString(a.senderIp) + ">" + ipToString(a.targetIp);
  }
  const ip = Ipv4Packet.check(e.payload, e.payloadLen);
  if (ip == null) return "";
  ip.ttl = ttl;
  let out = "ip v" + ip.version.toString() + " " + ipToString(ip.src) + ">" + ipToString(ip.dst) + " len " + ip.totalLen.toString() + " ttl " + ip.ttl.toString();
  const l4 = ip.ptr + <usize>ip.headerLen, l4len = ip.totalLen - ip.headerLen;
  if (ip.protocol == 6) {
    const t = TcpPacket.check(l4, l4len);
    if (t == null) return "";
    t.srcPort = sport; t.dstPort = dport;
    out += " tcp " + t.srcPort.toString() + ">" + t.dstPort.toString() + " seq " + t.seq.toString() + " hl " + t.headerLen.toString() + " data " + t.payloadLen.toString();
  } else if (ip.protocol == 17 && (ip.flagsFrag & 0x3fff) == 0) {
    const u = UdpPacket.check(l4, l4len);
    if (u == null) return "";
    u.srcPort = sport; u.dstPort = dport;
    out += " udp " + u.srcPort.toString() + ">" + u.dstPort.toString() + " len " + u.length.toString();
  } else if (ip.protocol == 1) {
    const m = IcmpPacket.check(l4, l4len);
    if (m == null) return "";
    out += " icmp " + m.type.toString() + " ok " + (m.checksumOk ? "1" : "0");
  }
  return out;
}

/** Runs every parser over the input (fuzzing): must never trap or abort. */
export function parseAll(ptr: usize, len: i32): i32 {
  let ok = 0;
  if (EthernetFrame.check(ptr, len) != null) ok++;
  if (ArpRepr.parse(ptr, len) != null) ok++;
  if (Ipv4Repr.parse(ptr, len, false) != null) ok++;
  if (IcmpRepr.parse(ptr, len) != null) ok++;
  if (UdpRepr.parse(ptr, len, 1, 2, false) != null) ok++;
  if (TcpRepr.parse(ptr, len, 1, 2, false) != null) ok++;
  if (DhcpRepr.parse(ptr, len) != null) ok++;
  if (Ipv4Packet.check(ptr, len) != null) ok++;
  if (TcpPacket.check(ptr, len) != null) ok++;
  return ok;
}

// --------------------------------------------------------- test device

class Frame {
  /** Transmitted with TSO: the payload bytes per segment (0: a plain frame). */
  gso: i32 = 0;
  constructor(public data: StaticArray<u8>, public flags: u32, public csumStart: i32, public csumOffset: i32) {}
}

class ZcChain {
  constructor(public seq: u64, public hdr: StaticArray<u8>, public p1: usize, public n1: i32, public p2: usize,
              public n2: i32, public csumStart: i32, public csumOffset: i32, public mss: i32) {}
}

/** An in-memory NIC: Node queues received frames, reads transmitted ones. */
class TestDevice extends NetDevice {
  rxq: Array<Frame> = [];
  txq: Array<Frame> = [];
  macBytes: StaticArray<u8> = new StaticArray<u8>(6);
  mtuValue: i32 = 1500;
  txOffload: bool = false;
  rxOffload: bool = false;
  txLimit: i32 = 100000;
  tso: i32 = 0;
  mac(): StaticArray<u8> { return this.macBytes; }
  tsoMax(): i32 { return this.tso; }
  transmitTso(frame: usize, len: i32, csumStart: i32, csumOffset: i32, mss: i32, hdrLen: i32): bool {
    if (this.tso == 0 || len > this.tso) return false;
    if (!this.transmit(frame, len, csumStart, csumOffset)) return false;
    this.txq[this.txq.length - 1].gso = mss;
    return true;
  }
  /** Zero-copy TSO: one buffer lent at a time; tsoInPlace counts packets sent from it. */
  slot: StaticArray<u8> = new StaticArray<u8>(14 + 65535);
  slotLent: bool = false;
  tsoInPlace: i32 = 0;
  lendTso: bool = true;
  reserveTso(): usize {
    if (!this.lendTso || this.tso == 0 || this.slotLent || this.txq.length >= this.txLimit) return 0;
    this.slotLent = true;
    memory.fill(changetype<usize>(this.slot), 0xa5, <usize>this.slot.length);
    return changetype<usize>(this.slot);
  }
  transmitTsoReserved(len: i32, csumStart: i32, csumOffset: i32, mss: i32, hdrLen: i32): bool {
    if (!this.slotLent) throw new Error("transmitTsoReserved without a reservation");
    this.slotLent = false;
    if (!this.transmitTso(changetype<usize>(this.slot), len, csumStart, csumOffset, mss, hdrLen)) return false;
    this.tsoInPlace++;
    return true;
  }
  releaseTsoReserved(): void { this.slotLent = false; }
  /** Zero copy (transmitTsoZc): off unless a test turns it on. Held: the
   *  chains wait (as at a device that has not read them yet) until
   *  zcComplete() reads their bytes — from wherever the pointers point then. */
  zc: bool = false;
  zcHold: bool = false;
  zcSeq: u64 = 0;
  zcq: Array<ZcChain> = [];
  zcWrapped: i32 = 0;
  zcSent: i32 = 0;
  txZeroCopy(): bool { return this.zc; }
  transmitTsoZc(frame: usize, hdrLen: i32, p1: usize, n1: i32, p2: usize, n2: i32,
                csumStart: i32, csumOffset: i32, mss: i32): u64 {
    if (!this.zc || this.tso == 0 || this.txq.length >= this.txLimit) return 0;
    const hdr = new StaticArray<u8>(hdrLen);
    memory.copy(changetype<usize>(hdr), frame, <usize>hdrLen);
    const c = new ZcChain(++this.zcSeq, hdr, p1, n1, p2, n2, csumStart, csumOffset, mss);
    if (n2 > 0) this.zcWrapped++;
    this.zcSent++;
    this.zcq.push(c);
    if (!this.zcHold) this.zcComplete(1);
    return c.seq;
  }
  zcInFlight(seq: u64): bool {
    for (let i = 0; i < this.zcq.length; i++) if (this.zcq[i].seq == seq) return true;
    return false;
  }
  /** The device reads the n oldest held chains now and sends them. */
  zcComplete(n: i32): void {
    for (let k = 0; k < n && this.zcq.length > 0; k++) {
      const c = this.zcq.shift();
      const h = c.hdr.length;
      const d = new StaticArray<u8>(h + c.n1 + c.n2);
      const dp = changetype<usize>(d);
      memory.copy(dp, changetype<usize>(c.hdr), <usize>h);
      memory.copy(dp + <usize>h, c.p1, <usize>c.n1);
      if (c.n2 > 0) memory.copy(dp + <usize>(h + c.n1), c.p2, <usize>c.n2);
      const f = new Frame(d, 0, c.csumStart, c.csumOffset);
      f.gso = c.mss;
      this.txq.push(f);
      this.stats.txPackets++;
    }
  }
  mtu(): i32 { return this.mtuValue; }
  linkUp(): bool { return true; }
  txChecksumOffload(): bool { return this.txOffload; }
  rxChecksumOffload(): bool { return this.rxOffload; }
  transmit(frame: usize, len: i32, csumStart: i32, csumOffset: i32): bool {
    if (this.txq.length >= this.txLimit) { this.stats.txDropped++; return false; }
    const d = new StaticArray<u8>(len);
    memory.copy(changetype<usize>(d), frame, <usize>len);
    this.txq.push(new Frame(d, 0, csumStart, csumOffset));
    this.stats.txPackets++;
    return true;
  }
  /** > 0: frames longer than this arrive in pieces of this many bytes, each
   *  in a buffer of its own (as virtio-net's mergeable receive buffers). */
  rxPiece: i32 = 0;
  chain: FrameChain = new FrameChain(64, changetype<usize>(new StaticArray<u8>(14 + 65535)), 14 + 65535);
  /** Frames handed over in pieces. */
  chained: i32 = 0;
  poll(sink: FrameSink, budget: i32): i32 {
    let n = 0;
    while (n < budget && this.rxq.length > 0) {
      const f = this.rxq.shift();
      const len = f.data.length;
      if (this.rxPiece > 0 && len > this.rxPiece) {
        const c = this.chain;
        c.reset();
        const keep = new Array<StaticArray<u8>>();
        for (let off = 0; off < len; off += this.rxPiece) {
          const k = len - off < this.rxPiece ? len - off : this.rxPiece;
          const b = new StaticArray<u8>(k);
          memory.copy(changetype<usize>(b), changetype<usize>(f.data) + <usize>off, <usize>k);
          keep.push(b);
          c.add(changetype<usize>(b), k);
        }
        this.chained++;
        sink.receiveChain(c, f.flags);
      } else {
        sink.receive(changetype<usize>(f.data), len, f.flags);
      }
      n++;
    }
    return n;
  }
}

const devices: Array<TestDevice> = [];
const stacks: Array<NetStack> = [];

/** A stack on a test device. ip 0 with dhcp: DHCP client. Returns its handle. */
export function newStack(seed: u32, macLo: u32, ip: u32, prefix: i32, gw: u32, dhcp: bool, mtu: i32, memLimit: i32): i32 {
  const d = new TestDevice();
  const mac: u64 = 0x020000000000 | <u64>macLo;
  for (let i = 0; i < 6; i++) d.macBytes[i] = <u8>(mac >> (<u64>(5 - i) * 8));
  d.mtuValue = mtu;
  const c = new NetConfig();
  c.dhcp = dhcp;
  c.addr = ip;
  c.prefixLen = prefix;
  c.gateway = gw;
  const s = new NetStack(d, new SeededEntropy(<u64>seed * 0x9e3779b97f4a7c15 + 1), c, memLimit > 0 ? <i64>memLimit : (24 << 20));
  devices.push(d);
  stacks.push(s);
  s.start(0);
  return stacks.length - 1;
}
export function setOffload(h: i32, tx: bool, rx: bool): void { devices[h].txOffload = tx; devices[h].rxOffload = rx; }
/** Received frames over piece bytes come in pieces (0: whole). */
export function setRxPiece(h: i32, piece: i32): void { devices[h].rxPiece = piece; }
/** "<frames handed over in pieces> <of those joined into one buffer>". */
export function rxChains(h: i32): string { return devices[h].chained.toString() + " " + devices[h].chain.flattened.toString(); }
export function setTxLimit(h: i32, n: i32): void { devices[h].txLimit = n; }
/** The device segments TCP frames of up to max bytes (0: off). */
export function setTso(h: i32, max: i32): void { devices[h].tso = max; }
/** The gso size of the first frame waiting in h's transmit queue (0: a plain frame). */
export function txGso(h: i32): i32 { return devices[h].txq[0].gso; }
export function tsoInPlace(h: i32): i32 { return devices[h].tsoInPlace; }
/** Zero copy on h's device; hold: chains wait for zcComplete(). */
export function setZeroCopy(h: i32, on: bool, hold: bool): void { devices[h].zc = on; devices[h].zcHold = hold; }
export function zcComplete(h: i32, n: i32): void { devices[h].zcComplete(n); }
export function zcHeld(h: i32): i32 { return devices[h].zcq.length; }
/** "<zero-copy packets> <of those over a wrapped ring range>". */
export function zcStats(h: i32): string { return devices[h].zcSent.toString() + " " + devices[h].zcWrapped.toString(); }
export function deferredBytes(h: i32): i64 { return stacks[h].mem.pins.deferredBytes; }
export function pinCount(h: i32): i32 { return stacks[h].mem.pins.count; }
export function sockTxGrow(id: i32, cap: i32): bool { const t = socks[id].tx; return t != null && t.grow(cap); }
export function tsoLent(h: i32): bool { return devices[h].slotLent; }
export function setLendTso(h: i32, on: bool): void { devices[h].lendTso = on; }
export function poll(h: i32, now: i64): i64 { return stacks[h].poll(now); }
export function inject(h: i32, ptr: usize, len: i32, flags: u32): void {
  const d = new StaticArray<u8>(len);
  memory.copy(changetype<usize>(d), ptr, <usize>len);
  devices[h].rxq.push(new Frame(d, flags, -1, 0));
}
export function txCount(h: i32): i32 { return devices[h].txq.length; }
export function txPtr(h: i32): usize { return changetype<usize>(devices[h].txq[0].data); }
export function txLen(h: i32): i32 { return devices[h].txq[0].data.length; }
export function txCsumStart(h: i32): i32 { return devices[h].txq[0].csumStart; }
export function txCsumOffset(h: i32): i32 { return devices[h].txq[0].csumOffset; }
export function txPop(h: i32): void { devices[h].txq.shift(); }
/** Moves every transmitted frame of a to b's receive queue (a perfect wire). */
export function wire(a: i32, b: i32): i32 {
  const q = devices[a].txq;
  const n = q.length;
  for (let i = 0; i < n; i++) devices[b].rxq.push(q[i]);
  devices[a].txq = [];
  return n;
}
export function counter(h: i32, i: i32): u64 { return stacks[h].counters.get(i); }
export function counterCount(): i32 { return COUNTER_COUNT; }
export function counterNameOf(i: i32): string { return counterName(i); }
export function memUsed(h: i32): i64 { return stacks[h].mem.used; }
export function memPeak(h: i32): i64 { return stacks[h].mem.peak; }
export function connCount(h: i32): i32 { return stacks[h].tcp.connectionCount(); }
export function timeWaits(h: i32): i32 { return stacks[h].tcp.timeWaits.size; }
export function spareBytes(h: i32): i64 { return stacks[h].mem.spareBytes; }
export function dropSpares(h: i32): void { stacks[h].mem.dropSpares(); }
export function ifaceAddr(h: i32): u32 { return stacks[h].iface.addr; }
export function ifacePrefix(h: i32): i32 { return stacks[h].iface.prefixLen; }
export function ifaceGateway(h: i32): u32 { return stacks[h].iface.gateway; }
export function ifaceDns(h: i32): u32 { const d = stacks[h].iface.dns; return d.length > 0 ? d[0] : 0; }
export function setIpv4(h: i32, ip: u32, prefix: i32, gw: u32): void { stacks[h].iface.setIpv4(ip, prefix, gw); }
export function dhcpState(h: i32): i32 { const d = stacks[h].dhcp; return d == null ? -1 : <i32>d.state; }
export function dhcpT1(h: i32): i64 { const d = stacks[h].dhcp; return d == null ? 0 : d.t1At; }
export function dhcpT2(h: i32): i64 { const d = stacks[h].dhcp; return d == null ? 0 : d.t2At; }
export function dhcpExpire(h: i32): i64 { const d = stacks[h].dhcp; return d == null ? 0 : d.expireAt; }
export function arpCount(h: i32): i32 { return stacks[h].iface.arp.count(); }
export function fragsInProgress(h: i32): i32 { return stacks[h].iface.frags.inProgress(); }
export function describe(h: i32): string { return stacks[h].describe(); }
export function configFrom(ip: string | null, gw: string | null, dns: string | null): string {
  const c = parseNetConfig(ip, gw, dns);
  return (c.dhcp ? "dhcp" : ipToString(c.addr) + "/" + c.prefixLen.toString()) + " gw " + ipToString(c.gateway) +
    " dns " + ipToString(c.dns) + (c.problems.length > 0 ? " | " + c.problems.join("; ") : "");
}

// ------------------------------------------------------------ sockets

const socks: Array<TcpSocket> = [];
const logs: Array<string> = [];
const collected: Array<Array<u8>> = [];
const pending: Array<StaticArray<u8>> = [];
const pendingOff: Array<i32> = [];
const closeWhenSent: Array<bool> = [];
const autoRead: Array<bool> = [];
const echoing: Array<bool> = [];

function register(s: TcpSocket): i32 {
  const id = socks.length;
  socks.push(s);
  logs.push("");
  collected.push([]);
  pending.push(new StaticArray<u8>(0));
  pendingOff.push(0);
  closeWhenSent.push(false);
  autoRead.push(true);
  echoing.push(false);
  s.userData = <u64>id;
  return id;
}

const scratch = new StaticArray<u8>(65536);

/** Records events; reads everything (autoRead), echoes (echo mode), pumps
 *  queued data out as the send buffer frees, closes at EOF when asked. */
class TestHandler extends TcpHandler {
  connected(s: TcpSocket): void { const id = <i32>s.userData; logs[id] += "C"; pump(id); }
  readable(s: TcpSocket): void {
    const id = <i32>s.userData;
    logs[id] += "R";
    if (!autoRead[id]) return;
    drain(id);
  }
  writable(s: TcpSocket): void { const id = <i32>s.userData; logs[id] += "W"; pump(id); }
  closed(s: TcpSocket): void { const id = <i32>s.userData; logs[id] += "X" + s.error.toString(); }
}
const handler = new TestHandler();

function drain(id: i32): void {
  const s = socks[id];
  while (true) {
    const n = s.read(changetype<usize>(scratch), scratch.length);
    if (n < 0) { logs[id] += "E"; if (echoing[id] || closeWhenSent[id]) { closeWhenSent[id] = true; pump(id); } return; }
    if (n == 0) return;
    const c = collected[id];
    for (let i = 0; i < n; i++) c.push(scratch[i]);
    if (echoing[id]) queueSend(id, changetype<usize>(scratch), n);
  }
}

function queueSend(id: i32, ptr: usize, len: i32): void {
  const old = pending[id];
  const rest = old.length - pendingOff[id];
  const nb = new StaticArray<u8>(rest + len);
  memory.copy(changetype<usize>(nb), changetype<usize>(old) + <usize>pendingOff[id], <usize>rest);
  memory.copy(changetype<usize>(nb) + <usize>rest, ptr, <usize>len);
  pending[id] = nb;
  pendingOff[id] = 0;
  pump(id);
}

function pump(id: i32): void {
  const s = socks[id];
  const p = pending[id];
  while (pendingOff[id] < p.length) {
    const n = s.write(changetype<usize>(p) + <usize>pendingOff[id], p.length - pendingOff[id]);
    if (n <= 0) break;
    pendingOff[id] += n;
  }
  if (pendingOff[id] >= p.length && closeWhenSent[id]) { closeWhenSent[id] = false; s.close(); }
}

class TestListen extends TcpListenHandler {
  echo: bool = false;
  accepted(l: TcpListener, s: TcpSocket): void {
    const id = register(s);
    s.handler = handler;
    echoing[id] = this.echo;
    logs[id] += "A";
    lastAcceptedId = id;
  }
}
let lastAcceptedId: i32 = -1;
const listeners: Array<TcpListener> = [];

/** How far new connections' buffers may grow (auto-tuning); 0: they keep
 *  their size, which most tests count on. */
let tuneRxMax: i32 = 0;
let tuneTxMax: i32 = 0;
export function setBufferMax(rx: i32, tx: i32): void { tuneRxMax = rx; tuneTxMax = tx; }

export function listen(h: i32, port: u32, echo: bool, backlog: i32, rxCap: i32, txCap: i32): i32 {
  const lh = new TestListen();
  lh.echo = echo;
  const l = stacks[h].tcp.listen(port, lh, backlog, rxCap > 0 ? rxCap : 32768, txCap > 0 ? txCap : 32768, tuneRxMax, tuneTxMax);
  if (l == null) return -1;
  listeners.push(l);
  return listeners.length - 1;
}
export function unlisten(li: i32): void { listeners[li].close(); }
export function lastAccepted(): i32 { return lastAcceptedId; }
export function acceptedOn(li: i32): u64 { return listeners[li].accepted; }
export function halfOpen(li: i32): i32 { return listeners[li].halfOpen; }
export function connect(h: i32, ip: u32, port: u32, rxCap: i32, txCap: i32): i32 {
  const s = stacks[h].tcp.connect(ip, port, handler, rxCap > 0 ? rxCap : 32768, txCap > 0 ? txCap : 32768, tuneRxMax, tuneTxMax);
  return s == null ? -1 : register(s);
}
export function sockSend(id: i32, ptr: usize, len: i32, closeAfter: bool): void {
  closeWhenSent[id] = closeAfter;
  queueSend(id, ptr, len);
}
export function sockWrite(id: i32, ptr: usize, len: i32): i32 { return socks[id].write(ptr, len); }
export function sockCork(id: i32): void { socks[id].cork(); }
export function sockUncork(id: i32): void { socks[id].uncork(); }
export function sockRead(id: i32, ptr: usize, len: i32): i32 { return socks[id].read(ptr, len); }
export function setAutoRead(id: i32, on: bool): void { autoRead[id] = on; if (on) drain(id); }
export function sockClose(id: i32): void { socks[id].close(); }
export function sockKeepAlive(id: i32, idle: i64, interval: i64, probes: i32): void { socks[id].setKeepAlive(idle, interval, probes); }
export function sockIdleTimeout(id: i32, ns: i64): void { socks[id].setIdleTimeout(ns); }
export function sockAbort(id: i32): void { socks[id].abort(); }
export function sockState(id: i32): string { return tcpStateName(socks[id].state); }
export function sockError(id: i32): i32 { return socks[id].error; }
export function sockLog(id: i32): string { return logs[id]; }
export function sockPending(id: i32): i32 { return pending[id].length - pendingOff[id]; }
export function collectedLen(id: i32): i32 { return collected[id].length; }
export function collectedPtr(id: i32): usize { return collected[id].dataStart; }
export function sockLocalPort(id: i32): u32 { return socks[id].localPort; }
export function sockIss(id: i32): u32 { return socks[id].iss; }
export function sockSndUna(id: i32): u32 { return socks[id].sndUna; }
export function sockSndNxt(id: i32): u32 { return socks[id].sndNxt; }
export function sockRcvNxt(id: i32): u32 { return socks[id].rcvNxt; }
export function sockSndWnd(id: i32): i32 { return socks[id].sndWnd; }
export function sockSndShift(id: i32): i32 { return socks[id].sndShift; }
export function sockRcvShift(id: i32): i32 { return socks[id].rcvShift; }
export function sockMss(id: i32): i32 { return socks[id].effMss; }
export function sockRto(id: i32): i64 { return socks[id].rto; }
export function sockSrtt(id: i32): i64 { return socks[id].srtt; }
export function sockRttvar(id: i32): i64 { return socks[id].rttvar; }
export function sockCwnd(id: i32): i32 { return socks[id].cwnd; }
export function sockReadable(id: i32): i32 { return socks[id].readableBytes; }
export function sockWritable(id: i32): i32 { return socks[id].writableBytes; }
export function sockRxCapacity(id: i32): i32 { const r = socks[id].rx; return r == null ? -1 : r.capacity; }
export function sockTxCapacity(id: i32): i32 { const t = socks[id].tx; return t == null ? -1 : t.capacity; }

// ----------------------------------------------------------------- UDP

class UdpRecorder extends UdpHandler {
  echo: bool = false;
  log: string = "";
  received(s: UdpSocket, srcAddr: u32, srcPort: u32, payload: usize, len: i32, dstAddr: u32): void {
    this.log += ipToString(srcAddr) + ":" + srcPort.toString() + " " + len.toString() + ";";
    if (this.echo) s.sendTo(srcAddr, srcPort, payload, len);
  }
}
const udpRecorders: Array<UdpRecorder> = [];
const udpSocks: Array<UdpSocket> = [];
export function udpBind(h: i32, port: u32, echo: bool): i32 {
  const r = new UdpRecorder();
  r.echo = echo;
  const s = stacks[h].udp.bind(port, r);
  if (s == null) return -1;
  udpRecorders.push(r);
  udpSocks.push(s);
  return udpSocks.length - 1;
}
export function udpLog(u: i32): string { return udpRecorders[u].log; }
export function udpSend(u: i32, ip: u32, port: u32, ptr: usize, len: i32): bool { return udpSocks[u].sendTo(ip, port, ptr, len); }
