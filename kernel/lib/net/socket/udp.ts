// kernel/lib/net/socket/udp.ts — UDP sockets (RFC 768): bind a port, receive
// datagrams through a handler, send to any address. Layer: socket.
import { Interface, ProtocolHandler } from "../iface";
import { Ipv4Repr, UdpRepr, UDP_HEADER_LEN, IP_PROTO_UDP, UDP_FIELD_CHECKSUM, WireError, wireError } from "../wire";
import { Counter, NetCounters } from "../counters";
import { EntropySource } from "../entropy";

/** A bound socket's callback. The payload is valid only during the call. */
export abstract class UdpHandler {
  abstract received(s: UdpSocket, srcAddr: u32, srcPort: u32, payload: usize, len: i32, dstAddr: u32): void;
}

export class UdpSocket {
  open: bool = true;
  constructor(public layer: UdpLayer, public port: u32, public handler: UdpHandler) {}

  /** Sends one datagram; false when it could not be sent (no route, too big). */
  sendTo(addr: u32, port: u32, payload: usize, len: i32): bool {
    if (!this.open) return false;
    return this.layer.send(0, this.port, addr, port, payload, len);
  }
  sendBytes(addr: u32, port: u32, b: Uint8Array): bool { return this.sendTo(addr, port, b.dataStart, b.length); }
  close(): void { this.layer.unbind(this); }
}

export class UdpLayer extends ProtocolHandler {
  sockets: Map<u32, UdpSocket> = new Map();

  constructor(public iface: Interface, public counters: NetCounters, public entropy: EntropySource) {
    super();
  }

  bind(port: u32, handler: UdpHandler): UdpSocket | null {
    if (port > 65535) return null;
    if (port == 0) {
      for (let i = 0; i < 16384; i++) {
        const p = 49152 + (this.entropy.next32() % 16384);
        if (!this.sockets.has(p)) { port = p; break; }
      }
      if (port == 0) return null;
    }
    if (this.sockets.has(port)) return null;
    const s = new UdpSocket(this, port, handler);
    this.sockets.set(port, s);
    return s;
  }

  unbind(s: UdpSocket): void {
    if (s.open && this.sockets.has(s.port) && this.sockets.get(s.port) == s) this.sockets.delete(s.port);
    s.open = false;
  }

  receive(ip: Ipv4Repr, ptr: usize, len: i32, csumValid: bool, now: i64): bool {
    const u = UdpRepr.parse(ptr, len, ip.src, ip.dst, !csumValid);
    if (u == null) {
      this.counters.inc(wireError() == WireError.BadChecksum ? Counter.DropUdpBadChecksum : Counter.DropUdpMalformed);
      return true;
    }
    this.counters.inc(Counter.UdpIn);
    if (!this.sockets.has(u.dstPort)) { this.counters.inc(Counter.DropUdpNoSocket); return false; }
    const s = this.sockets.get(u.dstPort);
    s.handler.received(s, ip.src, u.srcPort, ptr + UDP_HEADER_LEN, u.payloadLen, ip.dst);
    return true;
  }

  poll(now: i64): i64 { return i64.MAX_VALUE; }

  /** src 0 means the interface's address, which is itself 0.0.0.0 before
   *  configuration (what DHCP needs). */
  send(src: u32, srcPort: u32, dst: u32, dstPort: u32, payload: usize, len: i32): bool {
    if (len < 0 || len > 65535 - 20 - UDP_HEADER_LEN) { this.counters.inc(Counter.DropIpTooBig); return false; }
    const p = this.iface.l4Ptr();
    memory.copy(p + UDP_HEADER_LEN, payload, <usize>len);
    return this.sendPrepared(src, srcPort, dst, dstPort, len);
  }

  /** Sends a payload the caller already wrote at iface.l4Ptr() + 8. */
  sendPrepared(src: u32, srcPort: u32, dst: u32, dstPort: u32, len: i32): bool {
    const u = new UdpRepr();
    u.srcPort = srcPort;
    u.dstPort = dstPort;
    u.payloadLen = len;
    const total = UDP_HEADER_LEN + len;
    const offload = this.iface.offloadFor(total);
    const realSrc = src != 0 ? src : this.iface.addr;
    u.emit(this.iface.l4Ptr(), realSrc, dst, offload);
    const ok = this.iface.sendIp(realSrc, dst, IP_PROTO_UDP, total, offload ? UDP_FIELD_CHECKSUM : -1);
    if (ok) this.counters.inc(Counter.UdpOut);
    return ok;
  }
}
