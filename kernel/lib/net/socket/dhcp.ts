// kernel/lib/net/socket/dhcp.ts — the DHCP client (RFC 2131 §4.4, state diagram
// figure 5): INIT -> SELECTING -> REQUESTING -> BOUND -> RENEWING ->
// REBINDING, with retransmission backoff (§4.1) and the subnet, router and DNS
// options (RFC 2132). Layer: socket (a UDP user on port 68). It configures the
// interface; a static address from the command line replaces it entirely.
import { Interface } from "../iface";
import {
  DhcpRepr, DHCPDISCOVER, DHCPOFFER, DHCPREQUEST, DHCPACK, DHCPNAK, BOOTREQUEST, BOOTREPLY,
  UDP_HEADER_LEN, IP_BROADCAST,
} from "../wire";
import { Counter, NetCounters } from "../counters";
import { EntropySource } from "../entropy";
import { UdpHandler, UdpLayer, UdpSocket } from "./udp";
import { NetLog } from "./tcplayer";
import { ipToString } from "../wire";

export enum DhcpState { Init = 0, Selecting, Requesting, Bound, Renewing, Rebinding, Stopped }

export function dhcpStateName(s: DhcpState): string {
  switch (s) {
    case DhcpState.Init: return "INIT";
    case DhcpState.Selecting: return "SELECTING";
    case DhcpState.Requesting: return "REQUESTING";
    case DhcpState.Bound: return "BOUND";
    case DhcpState.Renewing: return "RENEWING";
    case DhcpState.Rebinding: return "REBINDING";
    case DhcpState.Stopped: return "STOPPED";
  }
  return "?";
}

export const DHCP_CLIENT_PORT: u32 = 68;
export const DHCP_SERVER_PORT: u32 = 67;
const SEC: i64 = 1_000_000_000;
const REQUEST_TRIES = 4;

/** Number of leading one bits of a netmask (a mask with holes counts up to the first). */
export function maskToPrefix(mask: u32): i32 {
  let n = 0;
  while (n < 32 && (mask & (0x80000000 >> n)) != 0) n++;
  return n;
}

export class DhcpClient extends UdpHandler {
  state: DhcpState = DhcpState.Stopped;
  sock: UdpSocket | null = null;
  xid: u32 = 0;
  offered: u32 = 0;
  server: u32 = 0;
  /** The lease (valid from BOUND on). */
  addr: u32 = 0;
  prefixLen: i32 = 0;
  router: u32 = 0;
  dns: Array<u32> = [];
  leaseSecs: u32 = 0;
  t1At: i64 = 0;
  t2At: i64 = 0;
  expireAt: i64 = 0;
  private retryAt: i64 = 0;
  private backoff: i64 = 4 * SEC;
  private tries: i32 = 0;
  private now: i64 = 0;
  /** Lease events go here (the boot log), when set. */
  logger: NetLog | null = null;

  constructor(public iface: Interface, public udp: UdpLayer, public counters: NetCounters,
              public entropy: EntropySource) {
    super();
  }

  /** Binds port 68 and starts from INIT; false when the port is taken. */
  start(now: i64): bool {
    this.sock = this.udp.bind(DHCP_CLIENT_PORT, this);
    if (this.sock == null) return false;
    this.now = now;
    this.enterInit(now);
    return true;
  }

  stop(): void {
    const s = this.sock;
    if (s != null) s.close();
    this.sock = null;
    this.state = DhcpState.Stopped;
  }

  private enterInit(now: i64): void {
    this.state = DhcpState.Init;
    this.xid = this.entropy.next32();
    this.backoff = 4 * SEC;
    this.tries = 0;
    this.state = DhcpState.Selecting;                        // INIT -send DHCPDISCOVER-> SELECTING
    this.send(DHCPDISCOVER, now);
  }

  /** §4.1: 4 s, 8 s, ... 64 s, each randomised by ±1 s. */
  private armRetry(now: i64): void {
    const jitter = <i64>(this.entropy.next32() % 2001) * 1_000_000 - SEC;
    this.retryAt = now + this.backoff + jitter;
    if (this.backoff < 64 * SEC) this.backoff *= 2;
  }

  private send(type: u32, now: i64): void {
    const m = new DhcpRepr();
    m.op = BOOTREQUEST;
    m.xid = this.xid;
    m.chaddr = this.iface.mac;
    m.messageType = type;
    m.requestParams = true;
    let src: u32 = 0, dst: u32 = IP_BROADCAST;
    if (type == DHCPREQUEST) {
      if (this.state == DhcpState.Requesting) {
        m.requestedIp = this.offered;                        // §4.3.2 SELECTING: server id + requested IP
        m.serverId = this.server;
      } else {
        m.ciaddr = this.addr;                                // RENEWING / REBINDING: ciaddr only
        src = this.addr;
        if (this.state == DhcpState.Renewing) dst = this.server;
      }
    }
    const len = m.emitLen;
    m.emit(this.iface.l4Ptr() + UDP_HEADER_LEN);
    if (this.udp.sendPrepared(src, DHCP_CLIENT_PORT, dst, DHCP_SERVER_PORT, len)) this.counters.inc(Counter.DhcpOut);
    this.tries++;
    if (this.state == DhcpState.Selecting || this.state == DhcpState.Requesting) this.armRetry(now);
    else if (this.state == DhcpState.Renewing) this.retryAt = this.halfwayTo(now, this.t2At);
    else if (this.state == DhcpState.Rebinding) this.retryAt = this.halfwayTo(now, this.expireAt);
  }

  /** §4.4.5: retransmit after half the remaining time, but at least 60 s. */
  private halfwayTo(now: i64, end: i64): i64 {
    let t = now + (end - now) / 2;
    if (t < now + 60 * SEC) t = now + 60 * SEC;
    return t < end ? t : end;
  }

  received(s: UdpSocket, srcAddr: u32, srcPort: u32, payload: usize, len: i32, dstAddr: u32): void {
    const m = DhcpRepr.parse(payload, len);
    if (m == null || m.op != BOOTREPLY || m.xid != this.xid || m.chaddr != this.iface.mac) return;
    this.counters.inc(Counter.DhcpIn);
    const now = this.iface.now;
    switch (this.state) {
      case DhcpState.Selecting:
        if (m.messageType != DHCPOFFER || m.yiaddr == 0 || m.serverId == 0) return;
        this.offered = m.yiaddr;                             // take the first offer
        this.server = m.serverId;
        this.state = DhcpState.Requesting;                   // SELECTING -DHCPOFFER-> REQUESTING
        this.backoff = 4 * SEC;
        this.tries = 0;
        this.send(DHCPREQUEST, now);
        return;
      case DhcpState.Requesting:
      case DhcpState.Renewing:
      case DhcpState.Rebinding:
        if (m.messageType == DHCPACK) this.bind(m, now);     // -DHCPACK-> BOUND
        else if (m.messageType == DHCPNAK) {                 // -DHCPNAK-> INIT, address dropped
          const l = this.logger;
          if (l != null) l.log("dhcp: NAK from " + ipToString(srcAddr) + ", address dropped");
          this.iface.setIpv4(0, 0, 0);
          this.addr = 0;
          this.enterInit(now);
        }
        return;
      default:
        return;                                              // BOUND ignores offers and late ACKs
    }
  }

  private bind(m: DhcpRepr, now: i64): void {
    if (m.yiaddr == 0) return;
    if (m.serverId != 0) this.server = m.serverId;
    this.addr = m.yiaddr;
    this.prefixLen = m.hasSubnetMask ? maskToPrefix(m.subnetMask) : 24;
    this.router = m.router;
    this.dns = [];
    for (let i = 0; i < m.dnsCount; i++) this.dns.push(m.dns[i]);
    const lease: u32 = m.leaseTime == 0 ? 3600 : m.leaseTime;      // infinite (0xffffffff) is just long
    this.leaseSecs = lease;
    const t1 = m.renewalTime != 0 && m.renewalTime < lease ? m.renewalTime : lease / 2;
    let t2 = m.rebindingTime != 0 && m.rebindingTime < lease ? m.rebindingTime : <u32>(<u64>lease * 7 / 8);
    if (t2 < t1) t2 = t1;
    this.t1At = now + <i64>t1 * SEC;
    this.t2At = now + <i64>t2 * SEC;
    this.expireAt = now + <i64>lease * SEC;
    this.retryAt = 0;
    this.state = DhcpState.Bound;
    this.counters.inc(Counter.DhcpLeases);
    this.iface.setIpv4(this.addr, this.prefixLen, this.router);
    this.iface.dns = this.dns;
    const l = this.logger;
    if (l != null) {
      l.log("dhcp: " + ipToString(this.addr) + "/" + this.prefixLen.toString() + " router " + ipToString(this.router) +
        (this.dns.length > 0 ? " dns " + ipToString(this.dns[0]) : "") + " from " + ipToString(this.server) +
        ", lease " + lease.toString() + " s");
    }
  }

  poll(now: i64): i64 {
    this.now = now;
    switch (this.state) {
      case DhcpState.Selecting:
        if (now >= this.retryAt) this.send(DHCPDISCOVER, now);
        return this.retryAt;
      case DhcpState.Requesting:
        if (now >= this.retryAt) {
          if (this.tries >= REQUEST_TRIES) this.enterInit(now);   // no ACK: start over
          else this.send(DHCPREQUEST, now);
        }
        return this.retryAt;
      case DhcpState.Bound:
        if (now >= this.t1At) { this.state = DhcpState.Renewing; this.send(DHCPREQUEST, now); return this.retryAt; }  // T1
        return this.t1At;
      case DhcpState.Renewing:
        if (now >= this.t2At) { this.state = DhcpState.Rebinding; this.send(DHCPREQUEST, now); return this.retryAt; }  // T2
        if (now >= this.retryAt) this.send(DHCPREQUEST, now);
        return this.retryAt < this.t2At ? this.retryAt : this.t2At;
      case DhcpState.Rebinding:
        if (now >= this.expireAt) {                          // lease gone: stop using the address
          this.iface.setIpv4(0, 0, 0);
          this.addr = 0;
          this.enterInit(now);
          return this.retryAt;
        }
        if (now >= this.retryAt) this.send(DHCPREQUEST, now);
        return this.retryAt < this.expireAt ? this.retryAt : this.expireAt;
      default:
        return i64.MAX_VALUE;
    }
  }
}
