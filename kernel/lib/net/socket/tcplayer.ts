// kernel/lib/net/socket/tcplayer.ts — TCP as a transport of the interface: demux
// of segments to connections and listeners, the answers for closed ports
// (RFC 9293 §3.10.7.1), listen backlogs with SYN limits, initial sequence
// numbers (RFC 6528), the challenge-ACK rate limit (RFC 5961 §7), timers and
// the memory account of every connection's buffers. Layer: socket.
import { Interface, ProtocolHandler } from "../iface";
import { Ipv4Repr, TcpRepr, TCP_ACK, TCP_RST, TCP_SYN, TCP_FIN, IP_PROTO_TCP, TCP_FIELD_CHECKSUM, WireError, wireError } from "../wire";
import { Counter, NetCounters, MemAccount } from "../counters";
import { FrameChain } from "../device";
import { EntropySource, siphash2 } from "../entropy";
import { TcpSocket, TcpState, TcpHandler, TcpListener, TcpListenHandler, TcpContext, TCP_OK, MSL_NS } from "./tcp";

/** A connection's buffers start at these sizes and grow with its traffic
 *  (tcp.ts, buffer auto-tuning) up to TCP_MAX_RX / TCP_MAX_TX: enough for
 *  the bandwidth-delay product of a fast local link (e.g. 250 MiB/s with
 *  4 ms of round trip under TCG). Pages are held only while bytes are. */
export const TCP_DEFAULT_RX: i32 = 32 * 1024;
export const TCP_DEFAULT_TX: i32 = 32 * 1024;
export const TCP_MAX_RX: i32 = 1024 * 1024;
export const TCP_MAX_TX: i32 = 1024 * 1024;
export const TCP_DEFAULT_BACKLOG: i32 = 64;
/** Half-open connections across all listeners: a SYN flood stops here. */
export const TCP_MAX_HALF_OPEN: i32 = 256;
export const TCP_MAX_CONNECTIONS: i32 = 4096;
/** TIME-WAIT entries; past this the oldest is dropped (as Linux's
 *  tcp_max_tw_buckets). Each is a few dozen bytes, no buffers. */
export const TCP_MAX_TIME_WAIT: i32 = 8192;
const CHALLENGE_ACKS_PER_SEC = 100;
/** SYN cookies: the clock that dates them ticks every 64 s; a cookie is
 *  good in its own tick and the next (so for 64..128 s). */
const COOKIE_TICK_NS: i64 = 64_000_000_000;
/** The MSS values a cookie can carry (3 bits), as Linux's msstab. */
const COOKIE_MSS: StaticArray<u32> = [536, 1300, 1440, 1460, 8960, 536, 536, 536];
const COOKIE_MSS_COUNT: i32 = 5;
const EPHEMERAL_FIRST: u32 = 49152;
/** Payload from which a TSO segment leaves by zero copy (emitZc): below
 *  it one copy into a slot costs less than the pin and the extra
 *  descriptors (only TSO segments, over one MTU, qualify at all). */
export const ZC_MIN_PAYLOAD: i32 = 2048;

/** The key of a connection: remote address, remote port, local port. */
// @ts-ignore: decorator
@inline function connKey(remoteAddr: u32, remotePort: u32, localPort: u32): u64 {
  return (<u64>remoteAddr << 32) | (<u64>remotePort << 16) | <u64>localPort;
}

/** What remains of a connection in TIME-WAIT (RFC 9293 §3.6): enough to
 *  answer a retransmitted FIN, to refuse stray segments and to recognise a
 *  new SYN for the same 4-tuple — no buffers, no handler, no app state. */
export class TimeWait {
  constructor(public key: u64, public localAddr: u32, public remoteAddr: u32, public localPort: u32,
              public remotePort: u32, public sndNxt: u32, public rcvNxt: u32, public expireAt: i64) {}
  /** Still in the table (an entry reused or dropped early stays queued until its turn). */
  live: bool = true;
  /** Times it stands in the expiry queue. */
  queued: i32 = 1;
}

export abstract class NetLog {
  abstract log(line: string): void;
}

/** The layer as its sockets see it (TcpContext, tcp.ts): each call is
 *  handed to the layer, which the sockets themselves never name. */
class LayerContext extends TcpContext {
  constructor(private layer: TcpLayer, counters: NetCounters, mem: MemAccount) { super(counters, mem); }
  localMss(): u32 { return <u32>(this.layer.iface.l4Max() - 20); }
  tsoMax(): i32 { return this.layer.iface.tcpTsoMax(); }
  rxChain(): FrameChain | null { return this.layer.iface.rxChain; }
  isn(s: TcpSocket, now: i64): u32 { return this.layer.isn(s, now); }
  allowChallengeAck(now: i64): bool { return this.layer.allowChallengeAck(now); }
  send(s: TcpSocket, r: TcpRepr, txOff: i32): bool {
    this.layer.iface.tsoMss = s.effMss;        // the frame size, should the segment be larger (TSO)
    return this.layer.sendSegment(s, r, txOff);
  }
  sendRst(s: TcpSocket, seq: u32, ack: u32, withAck: bool): void { this.layer.sendRst(s, seq, ack, withAck); }
  settle(s: TcpSocket): void { this.layer.settle(s); }
  halfOpenDone(l: TcpListener): void { this.layer.halfOpenDone(l); }
  unlisten(l: TcpListener): void { this.layer.unlisten(l); }
  log(line: string): void { this.layer.log(line); }
}

export class TcpLayer extends ProtocolHandler {
  conns: Map<u64, TcpSocket> = new Map();
  /** The same connections as a list for poll (no allocation per pass); each
   *  socket knows its slot, removal swaps the last one in. */
  private list: Array<TcpSocket> = [];
  listeners: Map<u32, TcpListener> = new Map();
  /** Connections in TIME-WAIT by key, and the same in the order they entered it. */
  timeWaits: Map<u64, TimeWait> = new Map();
  /** The header of the segment being received, reused (nothing allocated per segment). */
  private rxSeg: TcpRepr = new TcpRepr();
  private twQueue: Array<TimeWait> = [];
  private twHead: i32 = 0;
  halfOpen: i32 = 0;
  /** Socket buffers grow with their traffic (tcp.ts); false keeps every
   *  connection's at the size it starts with (`tcp.no_autotune`). */
  autotune: bool = true;
  /** Connections that ended (the kernel collects garbage after them). */
  ended: u64 = 0;
  logger: NetLog | null = null;
  /** What the sockets and listeners of this layer are given instead of it. */
  readonly ctx!: TcpContext;
  private k0: u64;
  private k1: u64;
  private challengeWindow: i64 = -1;
  private challengeCount: i32 = 0;

  constructor(public iface: Interface, public counters: NetCounters, public mem: MemAccount,
              public entropy: EntropySource) {
    super();
    this.ctx = new LayerContext(this, counters, mem);
    this.k0 = entropy.next64();
    this.k1 = entropy.next64();
  }

  /** The clock of the packet or timer being handled (kept in the context the sockets read). */
  get now(): i64 { return this.ctx.now; }
  set now(t: i64) { this.ctx.now = t; }
  /** Log every state change (net.debug). */
  get debug(): bool { return this.ctx.debug; }
  set debug(on: bool) { this.ctx.debug = on; }

  log(line: string): void {
    const l = this.logger;
    if (l != null) l.log("tcp: " + line);
  }

  // ---------------------------------------------------------------- app side

  /** rxCapacity, txCapacity: the buffers a connection starts with; rxMax,
   *  txMax: how far auto-tuning may grow them (the capacity itself, or
   *  less, keeps a buffer at its size). */
  listen(port: u32, handler: TcpListenHandler, backlog: i32 = TCP_DEFAULT_BACKLOG,
         rxCapacity: i32 = TCP_DEFAULT_RX, txCapacity: i32 = TCP_DEFAULT_TX,
         rxMax: i32 = TCP_MAX_RX, txMax: i32 = TCP_MAX_TX): TcpListener | null {
    if (port == 0 || port > 65535 || this.listeners.has(port)) return null;
    if (backlog < 1) backlog = 1;
    const l = new TcpListener(this.ctx, port, handler, backlog, rxCapacity, txCapacity, rxMax, txMax);
    this.listeners.set(port, l);
    return l;
  }

  unlisten(l: TcpListener): void {
    if (l.open && this.listeners.has(l.port) && this.listeners.get(l.port) == l) this.listeners.delete(l.port);
    l.open = false;
  }

  /** Active open to addr:port; null when no route, port or memory. */
  connect(addr: u32, port: u32, handler: TcpHandler,
          rxCapacity: i32 = TCP_DEFAULT_RX, txCapacity: i32 = TCP_DEFAULT_TX,
          rxMax: i32 = TCP_MAX_RX, txMax: i32 = TCP_MAX_TX): TcpSocket | null {
    if (this.iface.addr == 0 || addr == 0 || port == 0 || port > 65535) return null;
    const local = this.ephemeralPort(addr, port);
    if (local == 0) return null;
    const s = this.newSocket(rxCapacity, txCapacity, rxMax, txMax);
    if (s == null) return null;
    s.handler = handler;
    s.localAddr = this.iface.addr;
    s.localPort = local;
    s.remoteAddr = addr;
    s.remotePort = port;
    this.add(connKey(addr, port, local), s);
    s.openActive(this.now);
    return s;
  }

  private newSocket(rxCapacity: i32, txCapacity: i32, rxMax: i32, txMax: i32): TcpSocket | null {
    if (this.conns.size >= TCP_MAX_CONNECTIONS) return null;
    if (!this.autotune) { rxMax = 0; txMax = 0; }
    if (rxCapacity < 1024) rxCapacity = 1024;
    if (txCapacity < 1024) txCapacity = 1024;
    // The rings take their pages only when bytes arrive or are written; a
    // new connection is refused when they could not both be had now.
    if (this.mem.used + <i64>rxCapacity + <i64>txCapacity > this.mem.limit) return null;
    return new TcpSocket(this.ctx, rxCapacity, txCapacity, rxMax, txMax);
  }

  private ephemeralPort(addr: u32, port: u32): u32 {
    const start = this.entropy.next32() % 16384;
    for (let i: u32 = 0; i < 16384; i++) {
      const p = EPHEMERAL_FIRST + (start + i) % 16384;
      const k = connKey(addr, port, p);
      if (!this.listeners.has(p) && !this.conns.has(k) && !this.timeWaits.has(k)) return p;
    }
    return 0;
  }

  /** RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock. */
  isn(s: TcpSocket, now: i64): u32 {
    const m0 = connKey(s.remoteAddr, s.remotePort, s.localPort);
    return <u32>(now / 4000) + <u32>siphash2(this.k0, this.k1, m0, <u64>s.localAddr);
  }

  allowChallengeAck(now: i64): bool {
    const w = now / 1_000_000_000;
    if (w != this.challengeWindow) { this.challengeWindow = w; this.challengeCount = 0; }
    if (this.challengeCount >= CHALLENGE_ACKS_PER_SEC) return false;
    this.challengeCount++;
    return true;
  }

  halfOpenDone(l: TcpListener): void {
    l.halfOpen--;
    this.halfOpen--;
  }

  /** Live connections; -1 would mean the map and the list disagree (tests check). */
  connectionCount(): i32 { return this.conns.size == this.list.length ? this.list.length : -1; }

  // ------------------------------------------------------------ receive

  receive(ip: Ipv4Repr, ptr: usize, len: i32, csumValid: bool, now: i64): bool {
    this.now = now;
    const seg = this.rxSeg;
    if (!seg.parseFrom(ptr, len, ip.src, ip.dst, !csumValid)) {
      this.counters.inc(wireError() == WireError.BadChecksum ? Counter.DropTcpBadChecksum : Counter.DropTcpMalformed);
      return true;
    }
    this.counters.inc(Counter.TcpIn);
    if (ip.dst != this.iface.addr || seg.srcPort == 0 || seg.dstPort == 0) {
      this.counters.inc(Counter.DropTcpMalformed);             // no TCP to broadcasts, no port 0
      return true;
    }
    const payload = ptr + <usize>seg.headerLen;
    const key = connKey(ip.src, seg.srcPort, seg.dstPort);
    if (this.conns.has(key)) {
      const s = this.conns.get(key);
      if (s.state != TcpState.Closed) {
        s.process(seg, payload, now);
        this.settle(s);
        return true;
      }
    }
    let floor: TimeWait | null = null;
    if (this.timeWaits.has(key)) {
      const tw = this.timeWaits.get(key);
      if (!this.timeWaitInput(tw, seg, now)) return true;
      floor = tw;                                              // a new SYN takes the 4-tuple over
    }
    const l = this.listeners.has(seg.dstPort) ? this.listeners.get(seg.dstPort) : null;
    if (l != null) { this.listenInput(l, ip, seg, payload, now, floor); return true; }
    this.counters.inc(Counter.DropTcpNoSocket);
    this.resetFor(ip, seg);
    return true;
  }

  /** RFC 9293 §3.10.7.2, LISTEN. */
  private listenInput(l: TcpListener, ip: Ipv4Repr, seg: TcpRepr, payload: usize, now: i64, floor: TimeWait | null): void {
    if (seg.has(TCP_RST)) return;                               // nothing to reset
    if (seg.has(TCP_ACK)) {
      if (!seg.has(TCP_SYN) && this.cookieAccept(l, ip, seg, payload, now)) return;
      this.resetFor(ip, seg);                                   // <SEQ=SEG.ACK><CTL=RST>
      return;
    }
    if (!seg.has(TCP_SYN)) return;
    if (l.halfOpen >= l.backlog || this.halfOpen >= TCP_MAX_HALF_OPEN) {
      // Backlog full (a SYN flood, or just a burst): answer statelessly with
      // a SYN cookie instead of dropping, so real clients still get in.
      this.counters.inc(Counter.DropTcpSynBacklog);
      this.sendCookie(ip, seg, now);
      return;
    }
    const s = this.newSocket(l.rxCapacity, l.txCapacity, l.rxMax, l.txMax);
    if (s == null) { this.counters.inc(Counter.DropTcpNoMemory); return; }
    s.listener = l;
    s.localAddr = ip.dst;
    s.localPort = seg.dstPort;
    s.remoteAddr = ip.src;
    s.remotePort = seg.srcPort;
    if (floor != null) { s.issFloor = floor.sndNxt; s.hasIssFloor = true; }
    l.halfOpen++;
    this.halfOpen++;
    this.add(connKey(ip.src, seg.srcPort, seg.dstPort), s);
    s.openPassive(seg, now);
    this.settle(s);
  }

  /** The reset for a segment that no connection wants (RFC 9293 §3.10.7.1). */
  private resetFor(ip: Ipv4Repr, seg: TcpRepr): void {
    if (seg.has(TCP_RST)) return;
    const r = new TcpRepr();
    r.srcPort = seg.dstPort;
    r.dstPort = seg.srcPort;
    if (seg.has(TCP_ACK)) {
      r.seq = seg.ack;
      r.flags = TCP_RST;
    } else {
      r.seq = 0;
      r.ack = seg.seq + seg.segLen;
      r.flags = TCP_RST | TCP_ACK;
    }
    this.emit(ip.dst, ip.src, r, null, 0);
    this.counters.inc(Counter.TcpRstOut);
  }

  // -------------------------------------------------------- SYN cookies

  /** 24 bits that only we can compute for this 4-tuple, client ISN and tick. */
  private cookieHash(ip: Ipv4Repr, seg: TcpRepr, clientIsn: u32, tick: u32): u32 {
    const m0 = connKey(ip.src, seg.srcPort, seg.dstPort);
    const m1 = (<u64>ip.dst << 32) | <u64>(clientIsn ^ (tick * 0x9e3779b9));
    return <u32>siphash2(this.k1, this.k0, m0, m1) & 0xffffff;
  }

  /** SYN,ACK whose ISN is the cookie: tick (5 bits) | MSS index (3 bits) |
   *  hash (24 bits). No state is kept; no window scaling is offered, since
   *  the cookie cannot remember the peer's. */
  private sendCookie(ip: Ipv4Repr, seg: TcpRepr, now: i64): void {
    const tick = <u32>(now / COOKIE_TICK_NS) & 31;
    const peerMss = seg.mss != 0 ? seg.mss : 536;
    let idx = 0;
    for (let i = 1; i < COOKIE_MSS_COUNT; i++) if (COOKIE_MSS[i] <= peerMss) idx = i;
    const cookie = (tick << 27) | (<u32>idx << 24) | this.cookieHash(ip, seg, seg.seq, tick);
    const r = new TcpRepr();
    r.srcPort = seg.dstPort;
    r.dstPort = seg.srcPort;
    r.seq = cookie;
    r.ack = seg.seq + 1;
    r.flags = TCP_SYN | TCP_ACK;
    r.window = 65535;
    r.mss = <u32>(this.iface.l4Max() - 20);
    this.emit(ip.dst, ip.src, r, null, 0);
    this.counters.inc(Counter.TcpSynCookiesSent);
  }

  /** An ACK to a listener without a connection: if it returns a cookie of
   *  ours (this tick or the last), the connection is made from it. */
  private cookieAccept(l: TcpListener, ip: Ipv4Repr, seg: TcpRepr, payload: usize, now: i64): bool {
    if (this.counters.get(Counter.TcpSynCookiesSent) == 0) return false;
    const cookie = seg.ack - 1;
    const tick = cookie >> 27, idx = <i32>((cookie >> 24) & 7);
    const nowTick = <u32>(now / COOKIE_TICK_NS) & 31;
    if ((tick != nowTick && tick != ((nowTick - 1) & 31)) || idx >= COOKIE_MSS_COUNT ||
        (cookie & 0xffffff) != this.cookieHash(ip, seg, seg.seq - 1, tick)) {
      this.counters.inc(Counter.TcpSynCookiesFailed);
      return false;
    }
    const s = this.newSocket(l.rxCapacity, l.txCapacity, l.rxMax, l.txMax);
    if (s == null) { this.counters.inc(Counter.DropTcpNoMemory); return true; }
    this.counters.inc(Counter.TcpSynCookiesValid);
    s.listener = l;
    s.localAddr = ip.dst;
    s.localPort = seg.dstPort;
    s.remoteAddr = ip.src;
    s.remotePort = seg.srcPort;
    this.add(connKey(ip.src, seg.srcPort, seg.dstPort), s);
    s.openFromCookie(seg, payload, cookie, COOKIE_MSS[idx], now);
    this.settle(s);
    return true;
  }

  // ---------------------------------------------------------- TIME-WAIT

  /** A segment for a connection in TIME-WAIT (RFC 9293 §3.10.7.4 in that
   *  state). Returns true when it is a SYN that may open a new incarnation
   *  (the entry is then gone and the caller hands the SYN to the listener). */
  private timeWaitInput(tw: TimeWait, seg: TcpRepr, now: i64): bool {
    if (seg.has(TCP_RST)) {
      if (seg.seq == tw.rcvNxt) this.forgetTimeWait(tw);      // an exact RST ends it, as before (RFC 5961)
      return false;
    }
    if (seg.has(TCP_SYN) && !seg.has(TCP_ACK)) {
      // RFC 6191 without timestamps falls back to RFC 1122 §4.2.2.13: a SYN
      // above everything the old incarnation received may reopen at once.
      if (<i32>(seg.seq - tw.rcvNxt) > 0) {
        this.forgetTimeWait(tw);
        this.counters.inc(Counter.TcpTimeWaitReopened);
        return true;
      }
      this.timeWaitAck(tw);
      return false;
    }
    // The peer's FIN again (it sits just below RCV.NXT): our ACK was lost;
    // ACK again and restart 2 MSL. Queued again at most once at a time.
    if (seg.has(TCP_FIN) && seg.seq + <u32>seg.payloadLen + 1 == tw.rcvNxt) {
      tw.expireAt = now + 2 * MSL_NS;
      const q = this.twQueue;
      if (q.length == 0 || unchecked(q[q.length - 1]) != tw) { tw.queued++; q.push(tw); }
    }
    if (seg.segLen > 0 || seg.seq != tw.rcvNxt) this.timeWaitAck(tw);
    return false;
  }

  private timeWaitAck(tw: TimeWait): void {
    const r = new TcpRepr();
    r.srcPort = tw.localPort;
    r.dstPort = tw.remotePort;
    r.seq = tw.sndNxt;
    r.ack = tw.rcvNxt;
    r.flags = TCP_ACK;
    r.window = 0;
    this.emit(tw.localAddr, tw.remoteAddr, r, null, 0);
  }

  /** A connection reached TIME-WAIT: the app hears closed() now, the socket
   *  and its buffers go, a small TimeWait entry stays for 2 MSL. */
  private enterTimeWait(s: TcpSocket): void {
    const key = connKey(s.remoteAddr, s.remotePort, s.localPort);
    const expire = s.timewaitAt != 0 ? s.timewaitAt : this.now + 2 * MSL_NS;
    const tw = new TimeWait(key, s.localAddr, s.remoteAddr, s.localPort, s.remotePort, s.sndMax, s.rcvNxt, expire);
    s.enterClosed(TCP_OK, true);
    s.deliver();
    if (this.conns.has(key) && this.conns.get(key) == s) this.conns.delete(key);
    if (this.timeWaits.has(key)) this.timeWaits.get(key).live = false;
    while (this.timeWaits.size >= TCP_MAX_TIME_WAIT && this.twHead < this.twQueue.length) {
      const old = unchecked(this.twQueue[this.twHead++]);       // under pressure the oldest goes first
      old.queued--;
      if (old.live) { this.forgetTimeWait(old); this.counters.inc(Counter.TcpTimeWaitDropped); }
    }
    this.counters.inc(Counter.TcpTimeWaits);
    this.timeWaits.set(key, tw);
    this.twQueue.push(tw);
  }

  private forgetTimeWait(tw: TimeWait): void {
    if (!tw.live) return;
    tw.live = false;
    if (this.timeWaits.has(tw.key) && this.timeWaits.get(tw.key) == tw) this.timeWaits.delete(tw.key);
  }

  /** Ends TIME-WAITs that ran out; returns the next expiry. The queue is
   *  in expiry order: an entry restarted by a FIN is queued again at the
   *  back, and only its last occurrence counts. */
  private expireTimeWaits(now: i64): i64 {
    const q = this.twQueue;
    while (this.twHead < q.length) {
      const tw = unchecked(q[this.twHead]);
      if (tw.live && tw.queued == 1 && tw.expireAt > now) break;
      this.twHead++;
      tw.queued--;
      if (tw.queued == 0) this.forgetTimeWait(tw);
    }
    if (this.twHead > 64 && this.twHead * 2 > q.length) {     // drop the consumed front
      this.twQueue = q.slice(this.twHead);
      this.twHead = 0;
    }
    return this.twHead < this.twQueue.length ? unchecked(this.twQueue[this.twHead]).expireAt : i64.MAX_VALUE;
  }

  // ------------------------------------------------------------- timers

  poll(now: i64): i64 {
    this.now = now;
    let next = this.expireTimeWaits(now);
    // Downwards: a socket removed meanwhile is replaced by one already seen.
    for (let i = this.list.length - 1; i >= 0; i--) {
      if (i >= this.list.length) continue;            // callbacks closed several
      const s = unchecked(this.list[i]);
      const d = s.poll(now);
      this.settle(s);
      if (d < next) next = d;
    }
    return next;
  }

  private add(key: u64, s: TcpSocket): void {
    this.conns.set(key, s);
    s.slot = this.list.length;
    this.list.push(s);
  }

  /** Delivers a connection's events, and forgets it once it is closed. */
  settle(s: TcpSocket): void {
    s.deliver();
    s.flushAck();                            // the ACK of a FIN the app did not answer with its own
    if (s.state == TcpState.TimeWait) this.enterTimeWait(s);
    if (<TcpState>s.state == TcpState.Closed && s.closedDelivered) {
      const key = connKey(s.remoteAddr, s.remotePort, s.localPort);
      if (this.conns.has(key) && this.conns.get(key) == s) this.conns.delete(key);
      const i = s.slot;
      if (i >= 0 && i < this.list.length && unchecked(this.list[i]) == s) {
        const last = this.list.pop();
        if (last != s) { this.list[i] = last; last.slot = i; }
      }
      s.slot = -1;
      this.ended++;
      const rx = s.rx, tx = s.tx;
      if (rx != null) rx.release();
      if (tx != null) tx.release();
      s.rx = null;
      s.tx = null;
      s.handler = null;                      // the app's objects are not kept alive by a dead socket
      s.listener = null;
    }
  }

  // ------------------------------------------------------------- transmit

  /** A connection's segment; payload bytes come from its send buffer at txOff. */
  sendSegment(s: TcpSocket, r: TcpRepr, txOff: i32): bool {
    return this.emit(s.localAddr, s.remoteAddr, r, s, txOff);
  }

  sendRst(s: TcpSocket, seq: u32, ack: u32, withAck: bool): void {
    const r = new TcpRepr();
    r.srcPort = s.localPort;
    r.dstPort = s.remotePort;
    r.seq = seq;
    r.ack = ack;
    r.flags = TCP_RST | (withAck ? TCP_ACK : 0);
    this.emit(s.localAddr, s.remoteAddr, r, null, 0);
    this.counters.inc(Counter.TcpRstOut);
  }

  /** Zero copy (issue: from the send buffer to the descriptor): a TSO
   *  segment whose payload the device reads straight from the send ring, in
   *  one piece or two where the range wraps. The ring's storage is pinned
   *  (kernel/lib/net/txpin.ts) until the device is done with the packet.
   *  False when it did not go (no TSO or zero copy, no pin place, no room
   *  at the device, no ARP entry): the caller copies it as before. */
  private emitZc(src: u32, dst: u32, r: TcpRepr, s: TcpSocket, txOff: i32): bool {
    const hl = r.emitHeaderLen;
    const n = r.payloadLen;
    const tx = s.tx;
    const pins = this.mem.pins;
    if (tx == null || !tx.allocated || txOff < 0 || txOff + n > tx.len || !pins.room() ||
        !this.iface.zeroCopyFor(hl + n)) return false;
    const cap = tx.capacity;
    const pos = (tx.head + txOff) % cap;
    const first = cap - pos < n ? cap - pos : n;
    const p = this.iface.l4Ptr();
    r.emit(p, src, dst, true);             // the pseudo-header sum only: the device sums the payload
    const base = tx.base;
    const seq = this.iface.sendTcpZc(src, dst, hl, base + <usize>pos, first, base, n - first, TCP_FIELD_CHECKSUM);
    if (seq == 0) return false;
    const lo = tx.start + <i64>txOff;
    pins.add(base, lo, seq);
    tx.pin(lo);
    return true;
  }

  /** False when the device's queue had no room (nothing was sent). Other
   *  losses (no route, no ARP answer yet for a TSO segment) count as sent:
   *  retransmission deals with them, with its backoff and its end. */
  private emit(src: u32, dst: u32, r: TcpRepr, s: TcpSocket | null, txOff: i32): bool {
    const hl = r.emitHeaderLen;
    let n = r.payloadLen;
    if (n >= ZC_MIN_PAYLOAD && s != null && this.emitZc(src, dst, r, s, txOff)) {
      this.counters.inc(Counter.TcpOut);
      return true;
    }
    // Over the MTU (TSO): built straight into the device's buffer where it
    // lends one, so the payload is copied once, from the send ring.
    if (hl + n > this.iface.l4Max()) this.iface.reserveTso();
    const p = this.iface.l4Ptr();
    if (n > 0) {
      if (s == null) throw new Error("net: TCP payload without a connection");
      const tx = s!.tx;
      if (tx == null) throw new Error("net: TCP payload without a send buffer");
      if (tx.peek(txOff, p + <usize>hl, n) != n) throw new Error("net: TCP segment beyond the send buffer");
    }
    const offload = this.iface.offloadFor(hl + n);
    r.emit(p, src, dst, offload);
    if (!this.iface.sendIp(src, dst, IP_PROTO_TCP, hl + n, offload ? TCP_FIELD_CHECKSUM : -1)) return !this.iface.deviceFull;
    this.counters.inc(Counter.TcpOut);
    return true;
  }
}
