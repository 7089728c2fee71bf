// kernel/lib/net/socket/tcp.ts — one TCP connection: the RFC 9293 state machine
// (§3.3.2, event processing §3.10), RTO estimation and backoff (RFC 6298),
// fast retransmit and Reno congestion control (RFC 5681), window scaling
// (RFC 7323 §2), zero-window probes (RFC 9293 §3.8.6.1), delayed ACKs
// (RFC 9293 §3.8.6.3) and the RFC 5961 defences against blind RST, SYN and
// data injection. Layer: socket. Time is passed in; nothing here reads a clock.
//
// Buffer auto-tuning: both rings start small (tcplayer.ts TCP_DEFAULT_RX/TX)
// and grow, doubling, up to their maxCapacity while the connection moves
// data faster than they let it — the receive ring when the app reads more
// per receive round trip than it did before (as Linux's tcp_rcv_space_adjust,
// the round trip measured as the time to receive one window, RFC 7323
// §4.2's receiver estimate without timestamps), the send ring when the app
// fills it and the windows would carry more than it holds. The window scale
// we offer fits the largest receive ring. A peer alone cannot make a ring
// grow (the app has to read or write), and growth stops at half the stack's
// memory limit (MemAccount.mayGrow).
//
// Sequence space: txSeq is the sequence number of tx's first byte; the FIN,
// once the app closes, sits at finSeq = txSeq + tx.len. sndMax is the highest
// sequence sent (sndNxt moves back to sndUna on a retransmission timeout).
// Received data goes straight into rx: in-order bytes extend rx.len, bytes
// after a hole are placed at their offset and tracked in ooo[] until the hole
// fills.
//
// A socket does not know the layer that demultiplexes its segments
// (tcplayer.ts imports this file, not the other way): it is given a
// TcpContext, the few things it needs from whoever carries its segments —
// the clock, counters and memory account, its ISN and challenge-ACK policy,
// a way to send a segment, and a call to tidy up after it changes state —
// as smoltcp's sockets are given a Context and a dispatch function.
import { TcpRepr, TCP_SYN, TCP_ACK, TCP_FIN, TCP_RST, TCP_PSH, ipToString } from "../wire";
import { Counter, NetCounters, MemAccount } from "../counters";
import { RingBuffer } from "./ring";
import { FrameChain } from "../device";

export enum TcpState {
  Closed = 0, Listen, SynSent, SynReceived, Established,
  FinWait1, FinWait2, CloseWait, Closing, LastAck, TimeWait,
}

export function tcpStateName(s: TcpState): string {
  switch (s) {
    case TcpState.Closed: return "CLOSED";
    case TcpState.Listen: return "LISTEN";
    case TcpState.SynSent: return "SYN-SENT";
    case TcpState.SynReceived: return "SYN-RECEIVED";
    case TcpState.Established: return "ESTABLISHED";
    case TcpState.FinWait1: return "FIN-WAIT-1";
    case TcpState.FinWait2: return "FIN-WAIT-2";
    case TcpState.CloseWait: return "CLOSE-WAIT";
    case TcpState.Closing: return "CLOSING";
    case TcpState.LastAck: return "LAST-ACK";
    case TcpState.TimeWait: return "TIME-WAIT";
  }
  return "?";
}

/** Why a connection ended (TcpSocket.error). */
export const TCP_OK = 0;
export const TCP_ERR_REFUSED = 1;     // RST in answer to our SYN
export const TCP_ERR_RESET = 2;       // RST on an open connection
export const TCP_ERR_TIMEOUT = 3;     // retransmissions ran out
export const TCP_ERR_ABORTED = 4;     // the app called abort()

/** An app's connection callbacks. Each runs after the stack has finished with
 *  the packet or timer that caused it, so it may call read/write/close. */
export abstract class TcpHandler {
  /** An active open (connect) completed. */
  connected(s: TcpSocket): void {}
  /** New data (or the peer's FIN: read() then returns -1). */
  readable(s: TcpSocket): void {}
  /** Send-buffer space was freed by an acknowledgment. */
  writable(s: TcpSocket): void {}
  /** The connection is gone (s.error says why); the socket is dead. */
  closed(s: TcpSocket): void {}
}

/** A listening socket's callback: a new connection finished its handshake.
 *  Set s.handler here to receive its events. */
export abstract class TcpListenHandler {
  abstract accepted(l: TcpListener, s: TcpSocket): void;
}

/** What a connection (and a listener) needs from its owner, the TCP layer
 *  (tcplayer.ts). The layer keeps `now` current before it hands a segment
 *  or a timer to a socket, and before an app's callback runs. */
export abstract class TcpContext {
  /** The time of the packet or timer being handled, in ns. */
  now: i64 = 0;
  /** Log state changes through log(). */
  debug: bool = false;
  constructor(public counters: NetCounters, public mem: MemAccount) {}
  /** The segment being processed came in pieces (FrameChain): its payload
   *  pointer is an offset into the chain, read from there (null: in one piece). */
  rxChain(): FrameChain | null { return null; }
  /** The MSS we can receive (the interface's largest TCP segment). */
  abstract localMss(): u32;
  /** The largest TCP segment the device cuts into frames itself (TSO), with
   *  its TCP header; no more than localMss() + 20 without TSO. */
  abstract tsoMax(): i32;
  /** The initial sequence number for a new connection (RFC 6528). */
  abstract isn(s: TcpSocket, now: i64): u32;
  /** May a challenge ACK go out now (RFC 5961 §7 rate limit)? */
  abstract allowChallengeAck(now: i64): bool;
  /** Sends a segment of s; payload bytes come from its send buffer at txOff. */
  abstract send(s: TcpSocket, r: TcpRepr, txOff: i32): bool;
  /** The header every segment of these sockets is built in (one at a time). */
  txSeg: TcpRepr = new TcpRepr();
  /** Sends a RST for s (no payload, no window). */
  abstract sendRst(s: TcpSocket, seq: u32, ack: u32, withAck: bool): void;
  /** Delivers s's events and forgets it once closed (after an app's close or abort). */
  abstract settle(s: TcpSocket): void;
  /** A half-open connection of l completed or ended. */
  abstract halfOpenDone(l: TcpListener): void;
  /** The listener stops taking connections. */
  abstract unlisten(l: TcpListener): void;
  abstract log(line: string): void;
}

export class TcpListener {
  /** Connections in SYN-RECEIVED for this listener (bounded by backlog). */
  halfOpen: i32 = 0;
  open: bool = true;
  accepted: u64 = 0;
  constructor(public ctx: TcpContext, public port: u32, public handler: TcpListenHandler,
              public backlog: i32, public rxCapacity: i32, public txCapacity: i32,
              public rxMax: i32 = 0, public txMax: i32 = 0) {}
  close(): void { this.ctx.unlisten(this); }
}

// Timers and limits.
export const RTO_INITIAL_NS: i64 = 1_000_000_000;     // RFC 6298 §2.1
export const RTO_MIN_NS: i64 = 1_000_000_000;         // RFC 6298 §2.4
export const RTO_MAX_NS: i64 = 60_000_000_000;        // RFC 6298 §2.5
const CLOCK_G_NS: i64 = 1_000_000;                    // the "G" of RFC 6298 §2
export const MSL_NS: i64 = 30_000_000_000;
export const DELACK_NS: i64 = 100_000_000;            // < 500 ms (RFC 9293 §3.8.6.3)
/** An empty receive ring larger than RING_KEEP_SMALL keeps its pages this
 *  long (a reader drains it many times a millisecond in a bulk transfer). */
const RING_LINGER_NS: i64 = 20_000_000;
const RING_KEEP_SMALL: i32 = 64 * 1024;
/** A segment the device had no room for is tried again this soon. */
const TX_RETRY_NS: i64 = 1_000_000;
export const FIN_WAIT_2_NS: i64 = 60_000_000_000;
export const SYN_RETRIES = 6;
export const DATA_RETRIES = 12;
/** Keepalive defaults (RFC 1122 §4.2.3.6: off unless asked, idle ≥ 2 h by
 *  default; servers that ask pick their own, see setKeepAlive). */
export const KEEPALIVE_IDLE_NS: i64 = 7200_000_000_000;
export const KEEPALIVE_INTERVAL_NS: i64 = 75_000_000_000;
export const KEEPALIVE_PROBES = 9;
const OOO_RANGES = 8;
/** No window is larger (65535 << 14 < 2^30). */
const CWND_MAX: i32 = 0x40000000;
const DEFAULT_MSS: u32 = 536;                         // RFC 9293 §3.7.1

// @ts-ignore: decorator
@inline function seqLt(a: u32, b: u32): bool { return <i32>(a - b) < 0; }
// @ts-ignore: decorator
@inline function seqLe(a: u32, b: u32): bool { return <i32>(a - b) <= 0; }
// @ts-ignore: decorator
@inline function seqGt(a: u32, b: u32): bool { return <i32>(a - b) > 0; }
// @ts-ignore: decorator
@inline function seqGe(a: u32, b: u32): bool { return <i32>(a - b) >= 0; }
// @ts-ignore: decorator
@inline function min32(a: i32, b: i32): i32 { return a < b ? a : b; }
// @ts-ignore: decorator
@inline function max64(a: i64, b: i64): i64 { return a > b ? a : b; }

export class TcpSocket {
  state: TcpState = TcpState.Closed;
  handler: TcpHandler | null = null;
  listener: TcpListener | null = null;
  error: i32 = TCP_OK;
  /** Any value the app wants to keep with the connection. */
  userData: u64 = 0;

  localAddr: u32 = 0;
  localPort: u32 = 0;
  remoteAddr: u32 = 0;
  remotePort: u32 = 0;

  // Send sequence space (RFC 9293 §3.3.1).
  iss: u32 = 0;
  sndUna: u32 = 0;
  sndNxt: u32 = 0;
  sndMax: u32 = 0;
  sndWnd: i32 = 0;
  sndWl1: u32 = 0;
  sndWl2: u32 = 0;
  maxSndWnd: i32 = 0;
  sndShift: i32 = 0;
  // Receive sequence space.
  irs: u32 = 0;
  rcvNxt: u32 = 0;
  rcvShift: i32 = 0;
  /** Window scaling was offered by us (always) and by the peer. */
  wsOk: bool = false;
  private lastAdvRight: u32 = 0;
  /** The window (bytes) of the last segment we sent. */
  private lastAdvWnd: i32 = 0;
  // Receive auto-tuning: the window-fill time (its minimum so far) and the
  // bytes the app read in the current period of that length.
  private rcvRttNs: i64 = 0;
  private rcvRttStart: i64 = 0;
  private rcvRttSeq: u32 = 0;
  private rcvRttOn: bool = false;
  private rcvSpace: i32 = 0;
  private rcvCopied: i32 = 0;
  private rcvSpaceStart: i64 = 0;
  private rcvSpaceOn: bool = false;
  /** A segment arrived past a hole on this connection (loss or reordering):
   *  the receive ring no longer grows (rcvSpaceAdjust). */
  private rcvSawHole: bool = false;

  peerMss: u32 = DEFAULT_MSS;
  effMss: i32 = <i32>DEFAULT_MSS;

  tx: RingBuffer | null;
  rx: RingBuffer | null;
  txSeq: u32 = 0;
  finQueued: bool = false;
  finSeq: u32 = 0;
  peerFin: bool = false;
  private peerFinPending: bool = false;
  private peerFinSeq: u32 = 0;
  private ooo: StaticArray<u32> = new StaticArray<u32>(OOO_RANGES * 2);
  private oooCount: i32 = 0;

  // Timers (0: off).
  rtxAt: i64 = 0;
  delackAt: i64 = 0;
  persistAt: i64 = 0;
  timewaitAt: i64 = 0;
  /** When an empty, grown receive ring gives its pages back (0: not due). */
  private ringReleaseAt: i64 = 0;
  // RFC 6298 state.
  rto: i64 = RTO_INITIAL_NS;
  srtt: i64 = 0;
  rttvar: i64 = 0;
  hasRtt: bool = false;
  private rttTiming: bool = false;
  private rttSeq: u32 = 0;
  private rttStart: i64 = 0;
  retries: i32 = 0;
  private persistBackoff: i32 = 0;
  /** Zero-window probes sent since the peer last said anything. */
  private probesUnanswered: i32 = 0;
  // Keepalive (RFC 1122 §4.2.3.6): off while keepIdle is 0.
  private keepIdle: i64 = 0;
  private keepInterval: i64 = 0;
  private keepCount: i32 = 0;
  private keepAt: i64 = 0;
  private keepSent: i32 = 0;
  /** cork(): writes queue without sending until uncork(). close() uncorks. */
  private corked: bool = false;
  // Idle timeout: no data either way for idleLimit ns ends the connection.
  private idleLimit: i64 = 0;
  private idleAt: i64 = 0;
  // RFC 5681 state.
  cwnd: i32 = 0;
  ssthresh: i32 = 0x3fffffff;
  dupAcks: i32 = 0;
  private inRecovery: bool = false;
  private recover: u32 = 0;

  private ackNow: bool = false;
  private unackedSegs: i32 = 0;
  /** The ACK of the peer's FIN waits until the app has heard of the FIN
   *  (flushAck, after deliver): an app that closes then sends one FIN,ACK
   *  instead of an ACK and a FIN (as Linux's do). */
  private ackAfterDeliver: bool = false;
  private finJustArrived: bool = false;

  // Events gathered while processing, delivered by deliver().
  private evAccepted: bool = false;
  private evConnected: bool = false;
  private evReadable: bool = false;
  private evWritable: bool = false;
  private evClosed: bool = false;
  closedDelivered: bool = false;
  /** A new incarnation of a connection taken over from TIME-WAIT starts
   *  its sequence numbers above the old one's (RFC 9293 §3.6.1, RFC 6191). */
  issFloor: u32 = 0;
  hasIssFloor: bool = false;
  /** Index in the layer's connection list, -1 once removed. */
  slot: i32 = -1;

  /** rxMax, txMax: how far auto-tuning may grow the rings (no further than
   *  the capacities when smaller: fixed-size buffers). */
  constructor(public ctx: TcpContext, rxCapacity: i32, txCapacity: i32, rxMax: i32 = 0, txMax: i32 = 0) {
    // No storage yet: the rings take pages when bytes arrive or are written.
    this.rx = new RingBuffer(rxCapacity, ctx.mem, rxMax);
    this.tx = new RingBuffer(txCapacity, ctx.mem, txMax);
    this.rcvShift = shiftFor(this.rx!.maxCapacity);
  }


  // ---------------------------------------------------------------- app API

  get readableBytes(): i32 { const rx = this.rx; return rx == null ? 0 : rx.len; }
  get writableBytes(): i32 {
    const tx = this.tx;
    return tx == null || this.finQueued || !this.canQueueData() ? 0 : tx.free;
  }
  get isOpen(): bool { return this.state != TcpState.Closed; }
  /** The peer sent FIN and everything before it has been read. */
  get atEof(): bool { return this.peerFin && this.readableBytes == 0; }

  /** Copies up to max received bytes to dst. Returns the count, 0 when
   *  nothing is waiting, -1 at end of stream (peer closed) or when closed. */
  read(dst: usize, max: i32): i32 {
    const rx = this.rx;
    if (rx == null || (rx.len == 0 && (this.peerFin || this.state == TcpState.Closed))) return -1;
    const n = rx.read(dst, max);
    if (n > 0) {
      this.rcvSpaceAdjust(n);
      this.maybeWindowUpdate();
      this.trimBuffers();
    }
    return n;
  }
  readInto(buf: Uint8Array): i32 {
    return this.read(buf.dataStart, buf.length);
  }

  /** Queues up to len bytes; returns how many were taken (0: send buffer
   *  full, wait for writable), -1 when the connection can no longer send. */
  write(src: usize, len: i32): i32 {
    const tx = this.tx;
    if (tx == null || this.finQueued || !this.canQueueData()) return -1;
    let n = tx.write(src, len);
    // Full: grow it if that is what holds the connection back (an app that
    // writes only writableBytes finds the room on its next look).
    if (tx.free == 0 && this.sndBufExpand() && n < len) n += tx.write(src + <usize>n, len - n);
    if (n > 0) {
      if (this.idleLimit > 0) this.idleAt = this.ctx.now + this.idleLimit;
      if (!this.corked) this.output(this.ctx.now);
    }
    return n;
  }
  /** Writing in place, for a producer that would otherwise copy into a
   *  buffer of its own first (an HTTP body read from a file cache or a disk):
   *  the contiguous room in the send ring, 0 when it is full (wait for
   *  writable), -1 when the connection can no longer send. Fill at
   *  writePtr(), then writeCommit() what was written; nothing in between. */
  writeSpan(): i32 {
    const tx = this.tx;
    if (tx == null || this.finQueued || !this.canQueueData()) return -1;
    // Full: grow it if that is what holds the connection back (as write()).
    if (tx.free == 0 && !this.sndBufExpand()) return 0;
    if (!tx.ensure()) return 0;
    return tx.tailSpan();
  }
  /** Where writeSpan()'s room starts. */
  writePtr(): usize { const tx = this.tx; return tx == null ? 0 : tx.tailPtr(); }
  /** Queues the n bytes written at writePtr() (n <= writeSpan()) and sends. */
  writeCommit(n: i32): void {
    const tx = this.tx;
    if (tx == null || n <= 0) return;
    const room = tx.tailSpan();
    tx.commit(n < room ? n : room);
    if (this.idleLimit > 0) this.idleAt = this.ctx.now + this.idleLimit;
    if (!this.corked) this.output(this.ctx.now);
  }
  /** Holds what write() and writeCommit() queue until uncork(), so that
   *  pieces written one after another (an HTTP response's head, then its
   *  body from a file) leave as one segment, not one each (Linux's
   *  TCP_CORK, without its 200 ms limit: the writer uncorks when done). */
  cork(): void { this.corked = true; }
  /** Ends cork(): sends what was queued. */
  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.output(this.ctx.now);
  }
  writeBytes(buf: Uint8Array): i32 { return this.write(buf.dataStart, buf.length); }
  writeString(s: string): i32 {
    const b = String.UTF8.encode(s);
    return this.write(changetype<usize>(b), b.byteLength);
  }

  /** Keepalive (RFC 1122 §4.2.3.6), off by default: after idleNs without a
   *  segment from the peer, probe every intervalNs; after `probes`
   *  unanswered probes the connection is reset (error TCP_ERR_TIMEOUT). A
   *  peer that vanished (power off, NAT state gone) is found this way. */
  setKeepAlive(idleNs: i64 = KEEPALIVE_IDLE_NS, intervalNs: i64 = KEEPALIVE_INTERVAL_NS, probes: i32 = KEEPALIVE_PROBES): void {
    if (idleNs <= 0) { this.keepIdle = 0; this.keepAt = 0; return; }
    this.keepIdle = idleNs;
    this.keepInterval = intervalNs > 0 ? intervalNs : KEEPALIVE_INTERVAL_NS;
    this.keepCount = probes > 0 ? probes : 1;
    this.keepSent = 0;
    this.keepAt = this.ctx.now + idleNs;
  }

  /** Ends the connection with a RST (error TCP_ERR_TIMEOUT) when no data has
   *  moved either way for ns (0: never, the default). */
  setIdleTimeout(ns: i64): void {
    this.idleLimit = ns > 0 ? ns : 0;
    this.idleAt = ns > 0 ? this.ctx.now + ns : 0;
  }

  /** Graceful close (RFC 9293 §3.10.4): queued data is still sent, then FIN.
   *  Receiving continues until the peer closes too. */
  close(): void {
    const now = this.ctx.now;
    this.corked = false;                     // what was queued leaves with the FIN
    switch (this.state) {
      case TcpState.SynSent:
        // Nothing queued: delete the TCB (§3.10.4). With data queued, an app
        // that writes and closes before the handshake ends still gets its
        // data sent: the FIN waits for ESTABLISHED, as in SYN-RECEIVED.
        if (this.tx != null && this.tx!.len > 0) { this.queueFin(); break; }
        this.enterClosed(TCP_OK, true);
        this.ctx.settle(this);
        return;
      case TcpState.SynReceived:               // FIN after the handshake (queued until ESTABLISHED)
        this.queueFin();
        break;
      case TcpState.Established:
        this.queueFin();
        this.setState(TcpState.FinWait1, "close");
        break;
      case TcpState.CloseWait:
        this.queueFin();
        this.setState(TcpState.LastAck, "close");
        break;
      default:                                 // already closing or closed
        return;
    }
    this.output(now);
  }

  /** Abortive close: RST to the peer, buffers dropped (RFC 9293 §3.10.5). */
  abort(): void {
    if (this.state == TcpState.Closed) return;
    if (this.isSynchronized()) this.ctx.sendRst(this, this.sndNxt, 0, false);
    this.enterClosed(TCP_ERR_ABORTED, true);
    this.ctx.settle(this);                   // closed() runs now, and the layer forgets the socket
  }

  // ------------------------------------------------------------ opening

  /** Active open: SYN-SENT (RFC 9293 §3.10.1). */
  openActive(now: i64): void {
    this.initSend(now);
    this.setState(TcpState.SynSent, "connect");
    this.output(now);
  }

  /** Passive open from a listener's SYN (RFC 9293 §3.10.7.2). */
  openPassive(seg: TcpRepr, now: i64): void {
    this.irs = seg.seq;
    this.rcvNxt = seg.seq + 1;
    this.takeSynOptions(seg);
    this.sndWnd = <i32>seg.window;                // never scaled in a SYN (RFC 7323 §2.2)
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = seg.seq;
    this.initSend(now);
    this.setState(TcpState.SynReceived, "SYN");
    this.output(now);
  }

  /** The handshake's last ACK returned a valid SYN cookie (tcplayer.ts):
   *  the connection starts ESTABLISHED with the cookie as ISN, the MSS it
   *  carried, no window scaling; the ACK is then processed as usual (it may
   *  carry data). */
  openFromCookie(seg: TcpRepr, payload: usize, cookie: u32, mss: u32, now: i64): void {
    this.irs = seg.seq - 1;
    this.rcvNxt = seg.seq;
    this.peerMss = mss;
    this.wsOk = false; this.sndShift = 0; this.noWindowScaling();
    this.iss = cookie;
    this.sndUna = cookie + 1;
    this.sndNxt = cookie + 1;
    this.sndMax = cookie + 1;
    this.txSeq = cookie + 1;
    this.effMss = this.computeMss();
    this.cwnd = 10 * this.effMss;
    this.sndWnd = <i32>seg.window;
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    this.setState(TcpState.Established, "ACK (SYN cookie)");
    this.evAccepted = true;
    this.lastAdvRight = this.rcvNxt + 65535;
    this.process(seg, payload, now);
  }

  private initSend(now: i64): void {
    let iss = this.ctx.isn(this, now);
    if (this.hasIssFloor && seqLe(iss, this.issFloor)) iss = this.issFloor + 65536;
    this.iss = iss;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.txSeq = this.iss + 1;
    this.effMss = this.computeMss();
    this.cwnd = 10 * this.effMss;                  // RFC 6928 initial window
  }

  private takeSynOptions(seg: TcpRepr): void {
    this.peerMss = seg.mss != 0 ? seg.mss : DEFAULT_MSS;
    if (seg.wscale >= 0) { this.wsOk = true; this.sndShift = seg.wscale; }
    else { this.wsOk = false; this.sndShift = 0; this.noWindowScaling(); }   // RFC 7323 §2.2: both or neither
    this.effMss = this.computeMss();
  }

  /** Without scaling a window says at most 65535 bytes: a larger receive
   *  ring would only hold memory. */
  private noWindowScaling(): void {
    this.rcvShift = 0;
    const rx = this.rx;
    if (rx != null && rx.maxCapacity > 65535) rx.maxCapacity = rx.capacity > 65535 ? rx.capacity : 65535;
  }

  private computeMss(): i32 {
    const ours = <i32>this.ctx.localMss();
    const m = <i32>this.peerMss;
    return m < ours ? (m < 64 ? 64 : m) : ours;
  }

  // ------------------------------------------------------ segment arrives

  /** RFC 9293 §3.10.7: one segment for this connection. */
  process(seg: TcpRepr, payload: usize, now: i64): void {
    // The peer is alive: keepalive and zero-window probing start over.
    this.probesUnanswered = 0;
    if (this.keepIdle > 0) { this.keepSent = 0; this.keepAt = now + this.keepIdle; }
    if (this.idleLimit > 0 && seg.payloadLen > 0) this.idleAt = now + this.idleLimit;
    switch (this.state) {
      case TcpState.Closed:
      case TcpState.Listen:
        return;                                          // handled by the layer
      case TcpState.SynSent:
        this.processSynSent(seg, now);
        break;
      default:
        this.processSynchronized(seg, payload, now);
        break;
    }
    if (<TcpState>this.state != TcpState.Closed) {
      // The peer's FIN arrived in order and is all we owe an ACK for: hold
      // that ACK until the app's callbacks ran (flushAck), so a close() in
      // them carries it on its FIN.
      if (this.ackNow && this.finJustArrived && this.handler != null) { this.ackNow = false; this.ackAfterDeliver = true; }
      this.output(now);
    }
    this.finJustArrived = false;
    this.trimBuffers();
  }

  /** Sends the ACK process() held for the app's callbacks, unless a segment
   *  since (the app's FIN or data) carried it. The layer calls this after
   *  deliver(). */
  flushAck(): void {
    if (!this.ackAfterDeliver) return;
    this.ackAfterDeliver = false;
    if (this.state == TcpState.Closed) return;
    this.ackNow = true;
    this.output(this.ctx.now);
  }

  /** Gives back the pages of a ring that is empty: the send ring once
   *  everything in it was acknowledged, the receive ring once the app has
   *  read everything and no out-of-order bytes wait in it. */
  trimBuffers(): void {
    const tx = this.tx;
    if (tx != null && tx.len == 0 && tx.allocated) tx.release();
    const rx = this.rx;
    if (rx != null && rx.len == 0 && this.oooCount == 0 && rx.allocated) {
      // A ring that grew is kept a moment (RING_LINGER_NS) while a fast
      // reader drains it: taking and returning 256 pages for every 64 KiB
      // that arrives costs more than the copy. poll() returns it.
      if (rx.capacity <= RING_KEEP_SMALL || this.state == TcpState.Closed) rx.release();
      else if (this.ringReleaseAt == 0) this.ringReleaseAt = this.ctx.now + RING_LINGER_NS;
    }
  }

  private processSynSent(seg: TcpRepr, now: i64): void {
    const hasAck = seg.has(TCP_ACK);
    // §3.10.7.3 first: an ACK must cover our SYN and nothing we never sent.
    if (hasAck && (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndMax))) {
      if (!seg.has(TCP_RST)) this.ctx.sendRst(this, seg.ack, 0, false);
      this.ctx.counters.inc(Counter.DropTcpBadAck);
      return;
    }
    if (seg.has(TCP_RST)) {
      if (hasAck) { this.ctx.counters.inc(Counter.TcpRstIn); this.enterClosed(TCP_ERR_REFUSED, true); }
      return;                                           // a RST without ACK is ignored here
    }
    if (!seg.has(TCP_SYN)) return;
    this.irs = seg.seq;
    this.rcvNxt = seg.seq + 1;
    const mssBefore = this.effMss;
    const synLost = this.cwnd <= mssBefore;           // a SYN retransmission cut the window (RFC 5681 §3.1)
    this.takeSynOptions(seg);
    this.sndWnd = <i32>seg.window;
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    if (hasAck) {
      this.ackAdvance(seg.ack, now);                    // our SYN is acknowledged
      // The initial window (RFC 6928) was set at connect, from the MSS
      // assumed before the peer's was known (536): size it by the MSS now
      // in use (the SYN's ACK is no data and grows nothing), or one segment
      // if the SYN had to be sent again (RFC 6928 §2).
      this.cwnd = synLost ? this.effMss : 10 * this.effMss;
      this.setState(TcpState.Established, "SYN,ACK");              // SYN-SENT -SYN,ACK-> ESTABLISHED
      if (this.finQueued) this.setState(TcpState.FinWait1, "close (queued)");   // close() during the handshake
      this.evConnected = true;
      this.ackNow = true;
    } else {
      this.setState(TcpState.SynReceived, "SYN");              // simultaneous open (§3.5, figure 7)
      this.sndNxt = this.iss;                           // resend as SYN,ACK <SEQ=ISS>
    }
  }

  private isSynchronized(): bool {
    return this.state >= TcpState.SynReceived;
  }

  /** Bytes we can take now, counted from rcvNxt. */
  private rcvWindow(): i32 {
    const rx = this.rx;
    if (rx == null || this.state == TcpState.TimeWait) return 0;
    return rx.free;
  }

  private processSynchronized(seg: TcpRepr, payload: usize, now: i64): void {
    const counters = this.ctx.counters;
    // Simultaneous open (§3.5 figure 8, line 4): the peer's SYN,ACK repeats the
    // SYN we already took; drop the old SYN and keep its ACK.
    if (this.state == TcpState.SynReceived && seg.has(TCP_SYN) && seg.seq == this.irs) {
      seg.flags &= ~TCP_SYN;
      seg.seq++;
      if (!seg.has(TCP_ACK)) { this.sndNxt = this.iss; return; }   // a repeated SYN: answer with the SYN,ACK again
      this.ackNow = true;                                            // figure 8 line 5
    }
    // 1. Sequence number check (§3.10.7.4, first).
    const segLen = seg.segLen;
    const wnd = <u32>this.rcvWindow();
    let ok: bool;
    if (segLen == 0) {
      ok = wnd == 0 ? seg.seq == this.rcvNxt
        : seqGe(seg.seq, this.rcvNxt) && seqLt(seg.seq, this.rcvNxt + wnd);
    } else {
      const last = seg.seq + segLen - 1;
      ok = wnd != 0 && ((seqGe(seg.seq, this.rcvNxt) && seqLt(seg.seq, this.rcvNxt + wnd)) ||
                        (seqGe(last, this.rcvNxt) && seqLt(last, this.rcvNxt + wnd)));
    }
    // An old zero-length ACK (overtaken by newer data on a reordering path)
    // fails the check above, yet its acknowledgment is valid; dropping it
    // would stall fast retransmit and window updates. Take its ACK field only
    // (the RFC 5961 ACK check below still applies), as Linux does.
    const lateAck = !ok && segLen == 0 && seg.flags == TCP_ACK && this.state != TcpState.SynReceived &&
      seqLt(seg.seq, this.rcvNxt) && seqGe(seg.seq, this.rcvNxt - (<u32>65535 << <u32>this.rcvShift));
    if (!ok && !lateAck) {
      counters.inc(Counter.DropTcpOutOfWindow);
      if (!seg.has(TCP_RST)) this.ackNow = true;           // an unacceptable segment gets an ACK
      if (this.state == TcpState.TimeWait && seg.has(TCP_FIN)) this.timewaitAt = now + 2 * MSL_NS;
      return;
    }
    // 2. RST (RFC 5961 §3.2: only an exact match resets; in-window gets a challenge ACK).
    if (seg.has(TCP_RST)) {
      if (seg.seq != this.rcvNxt) { this.challengeAck(now); return; }
      counters.inc(Counter.TcpRstIn);
      if (this.state == TcpState.SynReceived && this.listener != null) {
        this.enterClosed(TCP_ERR_RESET, false);            // back to LISTEN: the listener forgets it
      } else if (this.state == TcpState.SynReceived) {
        this.enterClosed(TCP_ERR_REFUSED, true);
      } else {
        if (this.state == TcpState.Established || this.state == TcpState.CloseWait) counters.inc(Counter.TcpEstablishedResets);
        this.enterClosed(TCP_ERR_RESET, true);
      }
      return;
    }
    // 4. SYN in a synchronized state: challenge ACK (RFC 5961 §4.2).
    if (seg.has(TCP_SYN)) { this.challengeAck(now); return; }
    // 5. ACK.
    if (!seg.has(TCP_ACK)) return;
    if (this.state == TcpState.SynReceived) {
      if (!(seqLt(this.sndUna, seg.ack) && seqLe(seg.ack, this.sndMax))) {
        this.ctx.sendRst(this, seg.ack, 0, false);       // §3.10.7.4: <SEQ=SEG.ACK><CTL=RST>
        return;
      }
      this.setState(TcpState.Established, "ACK");                 // SYN-RECEIVED -ACK-> ESTABLISHED
      if (this.listener != null) this.ctx.halfOpenDone(this.listener!);
      this.sndWnd = <i32>seg.window << this.sndShift;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      if (this.listener != null) this.evAccepted = true; else this.evConnected = true;
      if (this.finQueued) this.setState(TcpState.FinWait1, "close (queued)");  // close() during the handshake
    }
    // RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT].
    if (seqGt(seg.ack, this.sndMax)) { counters.inc(Counter.DropTcpBadAck); this.ackNow = true; return; }
    if (seqLt(seg.ack, this.sndUna - <u32>this.maxSndWnd)) { counters.inc(Counter.DropTcpBadAck); this.ackNow = true; return; }
    const newWnd = <i32>seg.window << this.sndShift;
    if (seqGt(seg.ack, this.sndUna)) {
      this.ackAdvance(seg.ack, now);
    } else if (seg.ack == this.sndUna && seg.payloadLen == 0 && !seg.has(TCP_FIN) &&
               newWnd == this.sndWnd && this.sndMax != this.sndUna) {
      this.duplicateAck(now);                               // RFC 5681 §2 "duplicate"
    }
    // Window update (§3.10.7.4): only from a segment at least as new as the last.
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 == seg.seq && seqLe(this.sndWl2, seg.ack))) {
      const wasZero = this.sndWnd == 0;
      this.sndWnd = newWnd;
      if (newWnd > this.maxSndWnd) this.maxSndWnd = newWnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      if (wasZero && newWnd > 0) { this.persistAt = 0; this.persistBackoff = 0; }
    }
    const finAcked = this.finQueued && seqGt(this.sndUna, this.finSeq);
    switch (this.state) {
      case TcpState.FinWait1:
        if (finAcked) { this.setState(TcpState.FinWait2, "ACK of FIN"); this.timewaitAt = now + FIN_WAIT_2_NS; }  // our FIN is acked
        break;
      case TcpState.Closing:
        if (finAcked) this.enterTimeWait(now);              // CLOSING -ACK of FIN-> TIME-WAIT
        break;
      case TcpState.LastAck:
        if (finAcked) { this.enterClosed(TCP_OK, true); return; }  // LAST-ACK -ACK of FIN-> CLOSED
        break;
      default:
        break;
    }
    if (lateAck) return;
    // 7. Segment text: only while we may still receive.
    if (seg.payloadLen > 0 && (this.state == TcpState.Established || this.state == TcpState.FinWait1 ||
        this.state == TcpState.FinWait2)) {
      this.receiveText(seg.seq, payload, seg.payloadLen, now);
    }
    // 8. FIN: takes effect once every byte before it has arrived.
    if (seg.has(TCP_FIN) && !this.peerFin) {
      this.peerFinPending = true;
      this.peerFinSeq = seg.seq + <u32>seg.payloadLen;
      this.checkFin(now);
      if (!this.peerFin) this.ackNow = true;                 // a FIN beyond a hole: tell the peer where we are
    }
  }

  private checkFin(now: i64): void {
    if (!this.peerFinPending || this.peerFin || this.peerFinSeq != this.rcvNxt) return;
    this.peerFin = true;
    this.rcvNxt++;
    this.ackNow = true;
    this.finJustArrived = true;
    this.evReadable = true;
    const finAcked = this.finQueued && seqGt(this.sndUna, this.finSeq);
    switch (this.state) {
      case TcpState.SynReceived:
      case TcpState.Established:
        this.setState(TcpState.CloseWait, "FIN");                  // ESTABLISHED -FIN-> CLOSE-WAIT
        break;
      case TcpState.FinWait1:
        if (finAcked) this.enterTimeWait(now);              // FIN and ACK of our FIN together
        else this.setState(TcpState.Closing, "FIN");               // simultaneous close (§3.6, figure 13)
        break;
      case TcpState.FinWait2:
        this.enterTimeWait(now);                            // FIN-WAIT-2 -FIN-> TIME-WAIT
        break;
      default:
        break;
    }
  }

  private receiveText(seq: u32, ptr: usize, len: i32, now: i64): void {
    const rx = this.rx;
    if (rx == null) return;
    let off = <i32>(seq - this.rcvNxt);
    if (off < 0) { ptr += <usize>(-off); len += off; off = 0; }  // already have the front
    const wnd = rx.free;
    if (off + len > wnd) len = wnd - off;                   // trim to the window
    if (len <= 0) { this.ackNow = true; return; }
    if (!rx.ensure()) { this.ctx.counters.inc(Counter.DropTcpNoMemory); return; }   // the peer resends it
    const chain = this.ctx.rxChain();
    if (chain === null) rx.copyIn(rx.len + off, ptr, len);
    else copyChainIn(rx, rx.len + off, chain, <i32>(ptr - chain.ptr(0)), len);   // piece by piece, the one copy
    if (off == 0) {
      const hadHoles = this.oooCount > 0;
      rx.len += len;
      this.rcvNxt += <u32>len;
      this.mergeOoo();
      this.rcvRttMeasure(now);
      this.evReadable = true;
      this.unackedSegs += len > this.effMss ? 2 : 1;     // a large (GRO) segment is many
      // Delayed ACK: every second full segment at once, holes filled at once.
      if (hadHoles || this.unackedSegs >= 2) this.ackNow = true;
      else if (this.delackAt == 0) this.delackAt = now + DELACK_NS;
      this.checkFin(now);
    } else {
      this.addOoo(this.rcvNxt + <u32>off, this.rcvNxt + <u32>(off + len));
      this.rcvSawHole = true;
      this.ackNow = true;                                   // duplicate ACK tells the sender about the hole
    }
  }

  /** The receiver's round-trip estimate without timestamps (as Linux's
   *  tcp_rcv_rtt_measure): the time to receive one advertised window (as
   *  last advertised: the app has not read yet), the smallest seen so far. */
  private rcvRttMeasure(now: i64): void {
    if (this.rcvRttOn && seqGe(this.rcvNxt, this.rcvRttSeq)) {
      const d = now - this.rcvRttStart;
      if (d > 0 && (this.rcvRttNs == 0 || d < this.rcvRttNs)) this.rcvRttNs = d;
      this.rcvRttOn = false;
    }
    if (!this.rcvRttOn) {
      this.rcvRttOn = true;
      this.rcvRttStart = now;
      this.rcvRttSeq = this.rcvNxt + <u32>(this.lastAdvWnd > 0 ? this.lastAdvWnd : this.rcvWindow());
    }
  }

  /** The app read n bytes. Once per receive round trip: if it read more in
   *  that time than in any before, the peer may be held back by our window,
   *  so the receive ring grows to twice that (doubling, up to its
   *  maxCapacity and within MemAccount.mayGrow), as Linux's
   *  tcp_rcv_space_adjust. An app that does not read never grows it.
   *  Nor does a connection that has seen a hole: this stack sends no SACK
   *  blocks, so a sender recovers one loss per round trip (NewReno) and
   *  falls back on its retransmission timeout, backing off, when a large
   *  window holds many losses (a 5 %-loss link with a 512 KiB window took
   *  minutes for 8 MiB; test/system/reliability-netem.test.ts). */
  private rcvSpaceAdjust(n: i32): void {
    const rx = this.rx;
    if (rx == null || this.rcvRttNs == 0 || this.rcvSawHole || rx.capacity >= rx.maxCapacity) return;
    const now = this.ctx.now;
    if (!this.rcvSpaceOn) { this.rcvSpaceOn = true; this.rcvSpaceStart = now; this.rcvCopied = 0; }
    this.rcvCopied += n;
    if (now - this.rcvSpaceStart < this.rcvRttNs) return;
    const copied = this.rcvCopied;
    this.rcvCopied = 0;
    this.rcvSpaceStart = now;
    if (copied <= this.rcvSpace) return;
    this.rcvSpace = copied;
    let want = rx.capacity;
    while (want < 2 * copied && want < rx.maxCapacity) want <<= 1;
    if (want > rx.maxCapacity) want = rx.maxCapacity;
    // What the stack would hold with the ring filled: all of it when it has
    // no pages now (they are taken whole at the first byte).
    if (want <= rx.capacity || !this.ctx.mem.mayGrow(rx.allocated ? want - rx.capacity : want)) return;
    if (rx.grow(want)) this.ctx.counters.inc(Counter.TcpRxBufferGrown);
  }

  /** The app filled the send ring. When the windows would carry more than
   *  it holds (min(cwnd, SND.WND) at least its size), the ring is what
   *  limits the connection: it doubles (up to maxCapacity, within
   *  MemAccount.mayGrow). A peer that does not acknowledge never opens
   *  cwnd, and a closed window keeps SND.WND small: neither grows it. */
  private sndBufExpand(): bool {
    const tx = this.tx;
    const st = this.state;
    if (tx == null || tx.capacity >= tx.maxCapacity || (st != TcpState.Established && st != TcpState.CloseWait)) return false;
    const wnd = this.sndWnd < this.cwnd ? this.sndWnd : this.cwnd;
    if (wnd < tx.capacity) return false;
    let want = tx.capacity << 1;
    if (want > tx.maxCapacity) want = tx.maxCapacity;
    if (!this.ctx.mem.mayGrow(want - tx.capacity) || !tx.grow(want)) return false;
    this.ctx.counters.inc(Counter.TcpTxBufferGrown);
    return true;
  }

  private addOoo(start: u32, end: u32): void {
    // Merge with overlapping or touching ranges.
    let i = 0;
    while (i < this.oooCount) {
      const s = this.ooo[2 * i], e = this.ooo[2 * i + 1];
      if (seqLe(start, e) && seqLe(s, end)) {
        if (seqLt(s, start)) start = s;
        if (seqGt(e, end)) end = e;
        this.removeOoo(i);
        continue;
      }
      i++;
    }
    if (this.oooCount == OOO_RANGES) { this.ctx.counters.inc(Counter.DropTcpOooFull); return; }
    this.ooo[2 * this.oooCount] = start;
    this.ooo[2 * this.oooCount + 1] = end;
    this.oooCount++;
  }

  private removeOoo(i: i32): void {
    this.oooCount--;
    this.ooo[2 * i] = this.ooo[2 * this.oooCount];
    this.ooo[2 * i + 1] = this.ooo[2 * this.oooCount + 1];
  }

  /** Pulls ranges that now touch rcvNxt into the in-order data. */
  private mergeOoo(): void {
    const rx = this.rx!;
    let again = true;
    while (again) {
      again = false;
      for (let i = 0; i < this.oooCount; i++) {
        const s = this.ooo[2 * i], e = this.ooo[2 * i + 1];
        if (seqLe(s, this.rcvNxt)) {
          if (seqGt(e, this.rcvNxt)) {
            const n = <i32>(e - this.rcvNxt);
            rx.len += n;
            this.rcvNxt = e;
          }
          this.removeOoo(i);
          again = true;
          break;
        }
      }
    }
  }

  /** SND.UNA moves forward to ack (RFC 9293 §3.10.7.4, RFC 6298 §5, RFC 5681 §3). */
  private ackAdvance(ack: u32, now: i64): void {
    const acked = <i32>(ack - this.sndUna);
    let dataEnd = ack;
    if (this.finQueued && seqGt(ack, this.finSeq)) dataEnd = this.finSeq;
    const n = <i32>(dataEnd - this.txSeq);
    const tx = this.tx;
    if (n > 0 && tx != null) {
      tx.discard(n);
      this.txSeq += <u32>n;
      this.evWritable = true;
    }
    this.sndUna = ack;
    if (seqLt(this.sndNxt, this.sndUna)) this.sndNxt = this.sndUna;
    if (this.rttTiming && seqGe(ack, this.rttSeq)) {
      this.rttTiming = false;
      this.rttSample(now - this.rttStart);
    } else if (this.retries > 0 && this.hasRtt) {
      this.rto = this.rtoFromEstimate();                    // new data acked: undo the backoff (§5.7)
    }
    this.retries = 0;
    if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
        this.inRecovery = false;
        this.cwnd = this.ssthresh;                          // full ACK: leave fast recovery
      } else {
        this.sendAt(this.sndUna, now);                      // partial ACK (RFC 6582): next hole
        this.cwnd = this.cwnd - acked + this.effMss;
        if (this.cwnd < this.effMss) this.cwnd = this.effMss;
      }
    } else if (this.cwnd < this.ssthresh) {
      this.cwnd += min32(acked, this.effMss);              // slow start
    } else {
      this.cwnd += max32(1, this.effMss * this.effMss / this.cwnd);   // congestion avoidance
    }
    if (this.cwnd > CWND_MAX) this.cwnd = CWND_MAX;        // grows on every ACK: keep it an i32
    this.dupAcks = 0;
    this.rtxAt = this.sndUna == this.sndMax ? 0 : now + this.rto;
  }

  private duplicateAck(now: i64): void {
    this.dupAcks++;
    if (this.dupAcks == 3 && !this.inRecovery) {
      const flight = <i32>(this.sndMax - this.sndUna);
      this.ssthresh = max32(flight / 2, 2 * this.effMss);
      this.inRecovery = true;
      this.recover = this.sndMax;
      this.rttTiming = false;
      this.ctx.counters.inc(Counter.TcpFastRetransmits);
      this.sendAt(this.sndUna, now);
      this.cwnd = this.ssthresh + 3 * this.effMss;
    } else if (this.dupAcks > 3 && this.inRecovery) {
      this.cwnd += this.effMss;                             // each dup ACK: a segment has left
    }
  }

  private rttSample(r: i64): void {
    if (r < 0) r = 0;
    if (!this.hasRtt) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasRtt = true;
    } else {
      const d = this.srtt > r ? this.srtt - r : r - this.srtt;
      this.rttvar = (3 * this.rttvar + d) / 4;
      this.srtt = (7 * this.srtt + r) / 8;
    }
    this.rto = this.rtoFromEstimate();
  }

  private rtoFromEstimate(): i64 {
    let rto = this.srtt + max64(CLOCK_G_NS, 4 * this.rttvar);
    if (rto < RTO_MIN_NS) rto = RTO_MIN_NS;
    if (rto > RTO_MAX_NS) rto = RTO_MAX_NS;
    return rto;
  }

  private challengeAck(now: i64): void {
    if (this.ctx.allowChallengeAck(now)) {
      this.ctx.counters.inc(Counter.TcpChallengeAcks);
      this.ackNow = true;
    }
  }

  // ------------------------------------------------------------- timers

  /** Runs due timers and sends what is due; returns the next deadline. */
  poll(now: i64): i64 {
    if (this.state == TcpState.Closed) return i64.MAX_VALUE;
    if (this.timewaitAt != 0 && now >= this.timewaitAt) {
      // TIME-WAIT ran 2 MSL, or FIN-WAIT-2 waited too long for the peer's FIN.
      this.enterClosed(this.state == TcpState.TimeWait ? TCP_OK : TCP_ERR_TIMEOUT, true);
      return i64.MAX_VALUE;
    }
    if (this.rtxAt != 0 && now >= this.rtxAt) {
      this.rtxAt = 0;
      this.retransmitTimeout(now);
      if (<TcpState>this.state == TcpState.Closed) return i64.MAX_VALUE;
    }
    if (this.persistAt != 0 && now >= this.persistAt) {
      this.persistAt = 0;
      this.windowProbe(now);
      if (<TcpState>this.state == TcpState.Closed) return i64.MAX_VALUE;
    }
    if (this.idleAt != 0 && now >= this.idleAt) {
      this.idleAt = 0;
      this.ctx.counters.inc(Counter.TcpTimeouts);
      if (this.isSynchronized()) this.ctx.sendRst(this, this.sndNxt, 0, false);
      this.enterClosed(TCP_ERR_TIMEOUT, true);
      return i64.MAX_VALUE;
    }
    if (this.keepAt != 0 && now >= this.keepAt) {
      this.keepalive(now);
      if (<TcpState>this.state == TcpState.Closed) return i64.MAX_VALUE;
    }
    if (this.delackAt != 0 && now >= this.delackAt) {
      this.delackAt = 0;
      this.ackNow = true;
    }
    const tx = this.tx;
    if (tx != null && tx.pinBlocked) {
      // Writes were held back while the device still read ACKed bytes
      // (zero copy): the room is there again once it is done.
      tx.pinBlocked = false;
      if (tx.free > 0) this.evWritable = true;
    }
    this.output(now);
    if (this.ringReleaseAt != 0 && now >= this.ringReleaseAt) {
      this.ringReleaseAt = 0;
      const rx = this.rx;
      if (rx != null && rx.len == 0 && this.oooCount == 0) rx.release();
    }
    this.trimBuffers();
    let next = i64.MAX_VALUE;
    if (this.rtxAt != 0 && this.rtxAt < next) next = this.rtxAt;
    if (this.persistAt != 0 && this.persistAt < next) next = this.persistAt;
    if (this.delackAt != 0 && this.delackAt < next) next = this.delackAt;
    if (this.timewaitAt != 0 && this.timewaitAt < next) next = this.timewaitAt;
    if (this.keepAt != 0 && this.keepAt < next) next = this.keepAt;
    if (this.idleAt != 0 && this.idleAt < next) next = this.idleAt;
    if (this.ringReleaseAt != 0 && this.ringReleaseAt < next) next = this.ringReleaseAt;
    return next;
  }

  /** RFC 6298 §5.4-5.6: back off, go back to SND.UNA, collapse cwnd (RFC 5681 §3.1). */
  private retransmitTimeout(now: i64): void {
    const counters = this.ctx.counters;
    this.retries++;
    const limit = this.isSynchronized() && this.state != TcpState.SynReceived ? DATA_RETRIES : SYN_RETRIES;
    if (this.retries > limit) {
      counters.inc(Counter.TcpTimeouts);
      if (this.isSynchronized()) this.ctx.sendRst(this, this.sndNxt, 0, false);
      this.enterClosed(TCP_ERR_TIMEOUT, !(this.state == TcpState.SynReceived && this.listener != null));
      return;
    }
    counters.inc(Counter.TcpRetransmits);
    this.rto = this.rto * 2 > RTO_MAX_NS ? RTO_MAX_NS : this.rto * 2;
    const flight = <i32>(this.sndMax - this.sndUna);
    this.ssthresh = max32(flight / 2, 2 * this.effMss);
    this.cwnd = this.effMss;
    this.inRecovery = false;
    this.dupAcks = 0;
    this.rttTiming = false;                                 // Karn: no samples from retransmissions
    this.sndNxt = this.state == TcpState.SynSent || this.state == TcpState.SynReceived ? this.iss : this.sndUna;
  }

  /** A keepalive probe is due (RFC 1122 §4.2.3.6): a segment at SND.UNA - 1
   *  without data draws the peer's ACK. Not while data is in flight or
   *  waiting on a closed window: retransmission and window probes watch
   *  the peer then. */
  private keepalive(now: i64): void {
    const s = this.state;
    if (!(s == TcpState.Established || s == TcpState.CloseWait || s == TcpState.FinWait2) ||
        this.sndMax != this.sndUna || this.persistAt != 0) {
      this.keepAt = now + this.keepIdle;
      return;
    }
    if (this.keepSent >= this.keepCount) {
      this.ctx.counters.inc(Counter.TcpKeepaliveTimeouts);
      this.ctx.sendRst(this, this.sndNxt, 0, false);
      this.enterClosed(TCP_ERR_TIMEOUT, true);
      return;
    }
    this.keepSent++;
    this.ctx.counters.inc(Counter.TcpKeepaliveProbes);
    this.sendSegment(this.sndUna - 1, TCP_ACK, 0, 0, false);
    this.keepAt = now + this.keepInterval;
  }

  /** Zero-window probe (RFC 9293 §3.8.6.1): a segment below the window
   *  (SEQ = SND.UNA - 1) makes the peer answer with its current window. */
  private windowProbe(now: i64): void {
    const tx = this.tx;
    if (this.sndWnd != 0 || tx == null || <i32>(this.sndNxt - this.txSeq) >= tx.len) { this.persistBackoff = 0; return; }
    // A peer that stopped answering even probes is gone (its window stays
    // shut forever otherwise): give up after as many as data retries.
    if (this.probesUnanswered >= DATA_RETRIES) {
      this.ctx.counters.inc(Counter.TcpTimeouts);
      this.ctx.sendRst(this, this.sndNxt, 0, false);
      this.enterClosed(TCP_ERR_TIMEOUT, true);
      return;
    }
    this.probesUnanswered++;
    this.ctx.counters.inc(Counter.TcpWindowProbes);
    this.sendSegment(this.sndUna - 1, TCP_ACK, 0, 0, false);
    if (this.persistBackoff < 6) this.persistBackoff++;
    let wait = this.rto << this.persistBackoff;
    if (wait > RTO_MAX_NS) wait = RTO_MAX_NS;
    this.persistAt = now + wait;
  }

  // ------------------------------------------------------------- output

  private canQueueData(): bool {
    const s = this.state;
    return s == TcpState.SynSent || s == TcpState.SynReceived || s == TcpState.Established || s == TcpState.CloseWait;
  }

  private queueFin(): void {
    if (this.finQueued) return;
    this.finQueued = true;
    this.finSeq = this.txSeq + <u32>(this.tx == null ? 0 : this.tx!.len);
  }

  /** Sends everything the windows allow, and an ACK when one is owed. */
  output(now: i64): void {
    const s = this.state;
    if (s == TcpState.Closed || s == TcpState.Listen) return;
    if (s == TcpState.SynSent || s == TcpState.SynReceived) {
      if (this.sndNxt == this.iss) {
        const flags = s == TcpState.SynSent ? TCP_SYN : TCP_SYN | TCP_ACK;
        this.sendSegment(this.iss, flags, 0, 0, true);
        this.sndNxt = this.iss + 1;
        if (seqGt(this.sndNxt, this.sndMax)) {
          this.sndMax = this.sndNxt;
          this.rttTiming = true; this.rttSeq = this.sndNxt; this.rttStart = now;
        }
        if (this.rtxAt == 0) this.rtxAt = now + this.rto;
      }
      this.ackNow = false;
      return;
    }
    const tx = this.tx;
    const sending = s == TcpState.Established || s == TcpState.CloseWait || s == TcpState.FinWait1 ||
                    s == TcpState.Closing || s == TcpState.LastAck;
    let avail = 0;
    // With TSO (tap with vnet_hdr) one segment of up to 64 KiB, in whole MSS,
    // leaves at once and the device cuts it (kernel/lib/net/iface sendTso).
    const tso = this.ctx.tsoMax() - 20;
    const segMax = tso > this.effMss ? tso - tso % this.effMss : this.effMss;
    while (sending && tx != null) {
      const off = <i32>(this.sndNxt - this.txSeq);
      if (off > tx.len) break;                               // FIN already sent
      avail = tx.len - off;
      const flight = <i32>(this.sndNxt - this.sndUna);
      const wnd = this.sndWnd < this.cwnd ? this.sndWnd : this.cwnd;
      let room = wnd - flight;
      if (room < 0) room = 0;
      let n = min32(min32(avail, room), segMax);
      if (n > this.effMss && n < avail) n -= n % this.effMss;     // TSO: whole segments, no runt behind them
      const fin = this.finQueued && this.sndNxt + <u32>n == this.finSeq;
      if (n == 0 && !fin) break;
      // Sender SWS avoidance (§3.8.6.2.1): no small segment while data is in flight.
      if (n < avail && n < this.effMss && flight > 0) break;
      let flags = TCP_ACK;
      if (n > 0 && n == avail) flags |= TCP_PSH;
      if (fin) flags |= TCP_FIN;
      if (!this.sendSegment(this.sndNxt, flags, off, n, false)) break;
      this.sndNxt += <u32>n + (fin ? 1 : 0);
      if (seqGt(this.sndNxt, this.sndMax)) {
        if (!this.rttTiming) { this.rttTiming = true; this.rttSeq = this.sndNxt; this.rttStart = now; }
        this.sndMax = this.sndNxt;
      }
      if (this.rtxAt == 0) this.rtxAt = now + this.rto;
      if (fin) break;
    }
    // A pure ACK carries the highest sequence sent: after a go-back-N
    // timeout sndNxt is below what the peer may already have received.
    if (this.ackNow) this.sendSegment(this.sndMax, TCP_ACK, 0, 0, false);
    // A closed window with data waiting and nothing in flight: probe it.
    if (sending && this.sndWnd == 0 && avail > 0 && this.sndNxt == this.sndUna && this.persistAt == 0) {
      this.persistAt = now + this.rto;
    }
  }

  /** Retransmits one segment starting at seq (fast retransmit). */
  private sendAt(seq: u32, now: i64): void {
    const tx = this.tx;
    if (tx == null) return;
    const off = <i32>(seq - this.txSeq);
    if (off < 0 || off > tx.len) return;
    const n = min32(tx.len - off, this.effMss);
    const fin = this.finQueued && seq + <u32>n == this.finSeq;
    if (n == 0 && !fin) return;
    this.ctx.counters.inc(Counter.TcpRetransmits);
    this.sendSegment(seq, TCP_ACK | (fin ? TCP_FIN : 0), off, n, false);
    this.rtxAt = now + this.rto;
  }

  /** Builds and sends one segment; false when the device could not take it
   *  (its queue is full): nothing changes then, the caller tries later. */
  private sendSegment(seq: u32, flags: u32, txOff: i32, len: i32, syn: bool): bool {
    const r = this.ctx.txSeg;                  // reused: nothing allocated per segment
    r.clear();
    r.srcPort = this.localPort;
    r.dstPort = this.remotePort;
    r.seq = seq;
    r.flags = flags;
    if (flags & TCP_ACK) r.ack = this.rcvNxt;
    const wnd = this.rcvWindow();
    if (syn) {
      r.window = <u32>min32(wnd, 65535);
      r.mss = this.ctx.localMss();
      // Offer scaling in our SYN; answer it only if the peer offered (RFC 7323 §2.2).
      if (this.state == TcpState.SynSent || this.wsOk) r.wscale = this.rcvShift;
    } else {
      r.window = <u32>min32(wnd >> this.rcvShift, 65535);
    }
    r.payloadLen = len;
    if (!this.ctx.send(this, r, txOff)) {
      // A full transmit queue: come back in a moment (the delayed-ACK timer
      // runs output again), rather than count the segment as sent and lose it.
      const retry = this.ctx.now + TX_RETRY_NS;
      if (this.delackAt == 0 || this.delackAt > retry) this.delackAt = retry;
      return false;
    }
    this.lastAdvWnd = <i32>(r.window << (syn ? 0 : <u32>this.rcvShift));
    this.lastAdvRight = this.rcvNxt + <u32>this.lastAdvWnd;
    if (flags & TCP_ACK) {
      this.ackNow = false;
      this.ackAfterDeliver = false;
      this.delackAt = 0;
      this.unackedSegs = 0;
    }
    return true;
  }

  /** After the app reads: announce a window that opened by a useful amount
   *  (receiver SWS avoidance, §3.8.6.2.2), but only when the window the peer
   *  knows has shrunk below half the buffer and the new one is at least twice
   *  it (as Linux's tcp_cleanup_rbuf does). Otherwise the next ACK, every
   *  second segment or the delayed-ACK timer, carries the new window anyway:
   *  an update after every read would double the ACKs of a bulk transfer. */
  private maybeWindowUpdate(): void {
    if (!this.isSynchronized() || this.state == TcpState.TimeWait) return;
    const rx = this.rx!;
    const right = this.rcvNxt + <u32>(rx.free >> this.rcvShift << this.rcvShift);
    const step = min32(rx.capacity / 2, this.effMss);
    let known = <i32>(this.lastAdvRight - this.rcvNxt);
    if (known < 0) known = 0;
    if (2 * known > rx.capacity || rx.free < 2 * known) return;
    if (<i32>(right - this.lastAdvRight) >= step) {
      this.ackNow = true;
      this.output(this.ctx.now);
    }
  }

  // ------------------------------------------------------------- endings

  private enterTimeWait(now: i64): void {
    this.setState(TcpState.TimeWait, "FIN / ACK of FIN");
    this.timewaitAt = now + 2 * MSL_NS;
    this.rtxAt = 0;
    this.persistAt = 0;
    this.ackNow = true;
  }

  /** The connection is over; the layer reaps the socket after deliver(). */
  enterClosed(err: i32, notify: bool): void {
    if (this.state == TcpState.SynReceived && this.listener != null) this.ctx.halfOpenDone(this.listener!);
    this.setState(TcpState.Closed, err == TCP_OK ? "done" : err == TCP_ERR_TIMEOUT ? "timeout" : err == TCP_ERR_ABORTED ? "abort" : "RST");
    this.error = err;
    this.rtxAt = 0; this.delackAt = 0; this.persistAt = 0; this.timewaitAt = 0;
    this.keepAt = 0; this.idleAt = 0; this.ringReleaseAt = 0;
    this.ackNow = false;
    if (notify) this.evClosed = true; else this.closedDelivered = true;
  }

  /** Logs "OLD -event-> NEW" when the layer's debug flag is on (net.debug). */
  private setState(s: TcpState, event: string): void {
    if (this.ctx.debug) {
      this.ctx.log(tcpStateName(this.state) + " -" + event + "-> " + tcpStateName(s) + " (:" +
        this.localPort.toString() + " " + ipToString(this.remoteAddr) + ":" + this.remotePort.toString() + ")");
    }
    this.state = s;
  }

  /** Runs the app's callbacks for what happened since the last call. */
  deliver(): void {
    if (this.evAccepted) {
      this.evAccepted = false;
      const l = this.listener;
      if (l != null) {
        l.accepted++;
        this.ctx.counters.inc(Counter.TcpPassiveOpens);
        l.handler.accepted(l, this);
      }
      this.listener = null;                                 // a full connection now; no longer counted
    }
    if (this.evConnected) {
      this.evConnected = false;
      this.ctx.counters.inc(Counter.TcpActiveOpens);
      const h = this.handler; if (h != null) h.connected(this);
    }
    if (this.evReadable) {
      this.evReadable = false;
      const h = this.handler; if (h != null) h.readable(this);
    }
    if (this.evWritable) {
      this.evWritable = false;
      const h = this.handler; if (h != null && this.writableBytes > 0) h.writable(this);
    }
    if (this.evClosed && !this.closedDelivered) {
      this.evClosed = false;
      this.closedDelivered = true;
      const h = this.handler; if (h != null) h.closed(this);
    }
  }
}

// @ts-ignore: decorator
@inline function max32(a: i32, b: i32): i32 { return a > b ? a : b; }

/** The window shift to offer: the least that lets a window reach the largest receive ring. */
function shiftFor(most: i32): i32 {
  let s = 0;
  while (s < 14 && (most >> s) > 65535) s++;
  return s;
}

/** Copies n bytes of chain from offset from into rx at offset at (the payload
 *  of a segment that came in pieces: slot by slot, straight into the ring). */
function copyChainIn(rx: RingBuffer, at: i32, chain: FrameChain, from: i32, n: i32): void {
  let base = 0;
  for (let i = 0; i < chain.count && n > 0; i++) {
    const l = chain.len(i);
    if (from < base + l) {
      const o = from - base;
      const k = l - o < n ? l - o : n;
      rx.copyIn(at, chain.ptr(i) + <usize>o, k);
      at += k;
      from += k;
      n -= k;
    }
    base += l;
  }
}
