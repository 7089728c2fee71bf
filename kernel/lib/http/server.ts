// kernel/lib/http/server.ts — the per-connection HTTP/1.1 state machine: bytes in,
// requests parsed, handlers called, response bytes out. It knows nothing of
// sockets: an adapter (or a unit test) calls feed() with received bytes,
// sends what outputPtr()/outputLength() hold and reports it with
// consumeOutput(), calls poll() at the deadline it returns, and closes the
// socket once shouldClose() is true. Time is only what the caller passes in.
//
// Persistent connections and pipelining (RFC 9112 §9.3): requests on one
// connection are answered in order; handlers run synchronously, so each
// response is complete before the next request is parsed. When too much
// output is waiting, parsing pauses (the input stays buffered and feed()
// accepts less), which pushes back on a client that never reads.
//
// The connection table (maxConnections) is defended against slow clients
// (slowloris) the way nginx and Node's http server are, plus eviction:
// - a header timeout (headerTimeoutNs) besides the idle and request ones;
// - under pressure (the table more than pressurePercent full) the idle and
//   header timeouts shrink (pressureIdleTimeoutNs, pressureHeaderTimeoutNs);
// - a per-peer cap (maxPerPeer): a peer (source address) at its cap that
//   opens another connection loses its own least useful one, so one address
//   cannot hold the table, yet its new connections still get in (behind
//   QEMU's user networking every client is the same address);
// - a full table evicts the least useful connection for a newcomer instead
//   of answering it 503: an idle kept-alive one first (the longest idle),
//   then the one open longest of those with part of a header section in,
//   then one silent since it opened (past a grace of a second). Connections reading a body, running a handler or
//   sending a response are never evicted; when only those remain the
//   newcomer gets 503.
// An evicted connection's buffers and body charge are given back at once and
// its transport (HttpTransport) drops the socket.
import { ByteBuf } from "./buf";
import { Request } from "./request";
import { Response, Handler, BodySource, serializeResponse, errorJson, MIME_JSON } from "./response";
import { RequestParser } from "./parser";
import { bodyBudget } from "./budget";
import { HttpLimits } from "./limits";
import { statusHasNoBody } from "./status";
import { WallClock, httpDate } from "./clock";
import { Guarded, runGuarded, reportFault, FaultSite, FAULT_NONE, FAULT_OOM } from "../../core/fault";
import { wantCollection } from "../../core/mm";

/** One handler call, run guarded: a fault in it answers that request only. */
class HandlerCall extends Guarded {
  constructor(public handler: Handler, public req: Request | null, public res: Response | null) { super(); }
  run(): void { this.handler.handle(this.req!, this.res!); }
}

/** Told about every response the server writes (for metrics and logs). */
export abstract class HttpObserver {
  /** route is the matched pattern, "" when no route matched or the request
   *  never parsed; durationNs runs from the request's first byte to its
   *  response being queued, in the caller's nowNs. */
  abstract completed(method: string, route: string, status: i32, durationNs: u64, requestBytes: i32, responseBytes: i32): void;
}

/** The Response admit() lends a handler's admit(), taken while in use (a
 *  nested admit, or one cut short by a fault, makes a new one). */
// @ts-ignore: decorator
@lazy let admitScratch: Response | null = null;

/** What carries a connection's bytes (a TCP socket): told when the server
 *  ends the connection on its own to make room (eviction). */
export abstract class HttpTransport {
  /** Drop the connection now: abortive (RST, a client caught mid-header)
   *  or a normal close (an idle kept-alive client). The connection is
   *  already closed on the server's side. */
  abstract drop(c: HttpConnection, abortive: bool): void;
}

export class HttpServerStats {
  connectionsOpened: u64 = 0;
  /** Newcomers answered 503 (no connection could make room). */
  connectionsRejected: u64 = 0;
  /** Of those, refused because their peer was at its cap with nothing evictable. */
  peerRejected: u64 = 0;
  /** Connections evicted for a newcomer: table full / peer at its cap,
   *  an idle kept-alive one / one still in its header section. */
  evictedFullIdle: u64 = 0;
  evictedFullHeaders: u64 = 0;
  evictedPeerIdle: u64 = 0;
  evictedPeerHeaders: u64 = 0;
  /** Timeouts by kind (timeouts is their sum). */
  idleTimeouts: u64 = 0;
  headerTimeouts: u64 = 0;
  requestTimeouts: u64 = 0;
  /** Timeouts that fired only because the table was under pressure. */
  pressureTimeouts: u64 = 0;
  /** Most connections open at once. */
  peakActive: i32 = 0;
  requests: u64 = 0;
  parseErrors: u64 = 0;
  timeouts: u64 = 0;
  responses2xx: u64 = 0;
  responses3xx: u64 = 0;
  responses4xx: u64 = 0;
  responses5xx: u64 = 0;
  bytesIn: u64 = 0;
  bytesOut: u64 = 0;
  /** Handlers that faulted (answered 500, or 503 when the heap was full). */
  handlerFaults: u64 = 0;
}

/** Every server a transport listens with (for /metrics). Lazy: an image
 *  without an HTTP server (hello) must not allocate it at start. */
// @ts-ignore: decorator
@lazy
const listening = new Array<HttpServer>();

/** The servers registered with registerListening, in order. */
export function listeningServers(): HttpServer[] { return listening; }

export class HttpServer {
  limits: HttpLimits = new HttpLimits();
  clock: WallClock | null = null;
  observer: HttpObserver | null = null;
  /** Reads the monotonic clock the callers' nowNs comes from, for request
   *  durations (HttpObserver.completed): a request read and answered within
   *  one feed would otherwise measure 0, the handler's own time uncounted.
   *  null: the nowNs of the last call. */
  monotonicNs: (() => u64) | null = null;
  /** The connection table's size: a newcomer beyond it takes the place of
   *  the least useful connection, or gets 503 when none may go. */
  maxConnections: i32 = 16;
  /** Connections one peer may hold; 0: half of maxConnections (at least 1). */
  maxPerPeer: i32 = 0;
  /** The TCP port it listens on (a label in /metrics); 0 when not on TCP. */
  port: i32 = 0;
  /** Handlers are app code: their heap growth stops short of the reserve the
   *  kernel keeps (kernel/core/fault.ts). The management endpoint clears it. */
  appCode: bool = true;
  /** Sent as the Server header; "" omits it. */
  serverName: string = "Skiff";
  active: i32 = 0;
  stats: HttpServerStats = new HttpServerStats();

  /** The counted connections (each knows its index, `slot`). */
  private table: HttpConnection[] = [];
  /** Counted connections per peer address (peers other than 0). */
  private perPeer: Map<u32, i32> = new Map();
  /** The last Date value and the second it is for (dateHeader). */
  private dateSecond: i64 = -1;
  private dateText: string = "";

  constructor(public handler: Handler) {}

  /** Lists this server in listeningServers() once (transports call it). */
  registerListening(port: i32): void {
    this.port = port;
    if (!listening.includes(this)) listening.push(this);
  }

  /** A new connection from peer (an IPv4 address; 0: unknown, never capped)
   *  at nowNs. When its peer is at its cap or the table is full, the least
   *  useful connection makes room (evicted); when none may go, the newcomer
   *  comes back already holding a 503 and set to close, and the adapter
   *  treats it like any other. */
  open(nowNs: u64, peer: u32 = 0): HttpConnection {
    const c = new HttpConnection(this, nowNs);
    c.peer = peer;
    const st = this.stats;
    st.connectionsOpened++;
    if (peer != 0 && this.peerConnections(peer) >= this.peerLimit()) {
      const v = this.victim(peer, nowNs, peer);
      if (v === null) {
        st.connectionsRejected++;
        st.peerRejected++;
        c.reject(nowNs);
        return c;
      }
      if (v.idleBetweenRequests) st.evictedPeerIdle++; else st.evictedPeerHeaders++;
      v.evict();
    }
    if (this.active >= this.maxConnections) {
      const v = this.victim(0, nowNs, peer);
      if (v === null) {
        st.connectionsRejected++;
        c.reject(nowNs);
        return c;
      }
      if (v.idleBetweenRequests) st.evictedFullIdle++; else st.evictedFullHeaders++;
      v.evict();
    }
    this.active++;
    if (this.active > st.peakActive) st.peakActive = this.active;
    c.counted = true;
    c.slot = this.table.length;
    this.table.push(c);
    if (peer != 0) this.perPeer.set(peer, this.peerConnections(peer) + 1);
    return c;
  }

  /** The per-peer cap in force. */
  peerLimit(): i32 {
    if (this.maxPerPeer > 0) return this.maxPerPeer;
    const half = this.maxConnections >> 1;
    return half > 0 ? half : 1;
  }

  /** Open (counted) connections from peer. */
  peerConnections(peer: u32): i32 { return this.perPeer.has(peer) ? this.perPeer.get(peer) : 0; }

  /** The table is more than limits.pressurePercent full. */
  get underPressure(): bool {
    return <i64>this.active * 100 > <i64>this.maxConnections * <i64>this.limits.pressurePercent;
  }

  /** Called by a counted connection as it ends. */
  release(c: HttpConnection): void {
    if (!c.counted) return;
    c.counted = false;
    this.active--;
    const i = c.slot;
    const t = this.table;
    if (i >= 0 && i < t.length && unchecked(t[i]) === c) {
      const last = t.pop();
      if (last !== c) { t[i] = last; last.slot = i; }
    }
    c.slot = -1;
    const p = c.peer;
    if (p != 0 && this.perPeer.has(p)) {
      const n = this.perPeer.get(p) - 1;
      if (n > 0) this.perPeer.set(p, n); else this.perPeer.delete(p);
    }
  }

  /** The least useful connection (of peer's, or of anyone's when peer is 0):
   *  the longest-idle kept-alive one; else the one open longest of those
   *  with part of a header section in; else the one open longest of those
   *  silent since they opened, once past limits.evictGraceNs (a real client
   *  sends its request right after connecting: the grace keeps a burst of
   *  them from evicting each other before their requests arrive — but not
   *  from a newcomer whose address, `from`, holds fewer connections than
   *  theirs: a client does not wait on another address's burst); else
   *  null. Only connections with a transport can be evicted. */
  private victim(peer: u32, nowNs: u64, from: u32): HttpConnection | null {
    let idle: HttpConnection | null = null;
    let partial: HttpConnection | null = null;
    let silent: HttpConnection | null = null;
    const grace = this.limits.evictGraceNs;
    const have = this.peerConnections(from);
    const t = this.table;
    for (let i = 0; i < t.length; i++) {
      const c = unchecked(t[i]);
      if (c.transport === null || (peer != 0 && c.peer != peer)) continue;
      if (c.idleBetweenRequests) {
        if (idle === null || c.lastActivity < idle.lastActivity) idle = c;
      } else if (c.inHeaders) {
        if (c.silent) {
          const fair = from != 0 && c.peer != from && this.peerConnections(c.peer) > have + 1;
          if ((fair || nowNs >= c.openedNs + grace) && (silent === null || c.openedNs < silent.openedNs)) silent = c;
        } else if (partial === null || c.openedNs < partial.openedNs) {
          partial = c;
        }
      }
    }
    return idle !== null ? idle : partial !== null ? partial : silent;
  }

  /** The Date header's value at nowNs; built once per second, not per response. */
  dateHeader(nowNs: u64): string | null {
    const c = this.clock;
    if (c === null) return null;
    const t = c.unixSeconds(nowNs);
    if (t < 0) return null;
    if (t != this.dateSecond) { this.dateText = httpDate(t); this.dateSecond = t; }
    return this.dateText;
  }

  countStatus(status: i32): void {
    if (status < 300) this.stats.responses2xx++;
    else if (status < 400) this.stats.responses3xx++;
    else if (status < 500) this.stats.responses4xx++;
    else this.stats.responses5xx++;
  }
}

/** A streamed body is pulled into the output in pieces of this size, once
 *  less than this is waiting to be sent. */
const SOURCE_PIECE: i32 = 65536;

export class HttpConnection {
  private input: ByteBuf = new ByteBuf(512, 1024);   // more is pool pages, back once parsed
  private output: ByteBuf = new ByteBuf(512, 4096);   // 4 KiB and more: pool pages, back once sent
  /** A streamed response body still being read (Response.stream), and how
   *  many of its bytes are still to come. */
  private source: BodySource | null = null;
  private sourceLeft: i32 = 0;
  /** The transport pulls this source itself (directBody and an in-memory source). */
  private sourceDirect: bool = false;
  private parser: RequestParser;
  /** Reused for each request's handler call (dispatch). */
  private call: HandlerCall | null = null;
  private closing: bool = false;
  private closed: bool = false;
  private lastActivityNs: u64;
  private requestStartNs: u64 = 0;
  private requestBytes: i32 = 0;
  private continueSent: bool = false;
  /** The current request passed the handler's admit(). */
  private admitted: bool = false;
  /** Bytes of the body budget (budget.ts) the current request holds. */
  private charged: i64 = 0;
  private nowNs: u64;
  counted: bool = false;
  /** Index in the server's table while counted. */
  slot: i32 = -1;
  /** Requests answered on this connection. */
  requests: i32 = 0;
  /** The client's address (IPv4), 0 when unknown. */
  peer: u32 = 0;
  /** What carries the bytes; without one the connection is never evicted. */
  transport: HttpTransport | null = null;
  /** When the connection opened (nowNs). */
  openedNs: u64;
  /** The server ended it to make room for a newcomer. */
  evicted: bool = false;
  /** The transport pulls a streamed body (Response.stream) whose bytes are
   *  in memory (BodySource.inMemory) itself, with pullBody() into its own
   *  send buffer, once the output before it is sent: the body is then
   *  copied once, from its source to the socket, instead of through the
   *  output buffer as well. A source that reads a disk still fills the
   *  output buffer 64 KiB at a time (one disk request per 64 KiB, not one
   *  per sliver of room in the send ring; the disk's DMA is the first copy). */
  directBody: bool = false;

  constructor(public server: HttpServer, nowNs: u64) {
    this.parser = new RequestParser(server.limits);
    this.lastActivityNs = nowNs;
    this.nowNs = nowNs;
    this.openedNs = nowNs;
  }

  /** Last traffic either way (nowNs). */
  get lastActivity(): u64 { return this.lastActivityNs; }

  /** Kept alive between requests: answered at least once, nothing of the
   *  next request yet, nothing left to send. */
  get idleBetweenRequests(): bool {
    return !this.closing && this.requests > 0 && !this.parser.started && this.input.length == 0 &&
      this.output.length == 0 && this.source === null;
  }

  /** Nothing received since it opened. */
  get silent(): bool { return this.requests == 0 && !this.parser.started && this.input.length == 0; }

  /** Still in a request's header section, or silent since it opened. */
  get inHeaders(): bool {
    return !this.closing && !this.parser.headersDone && this.output.length == 0 && this.source === null &&
      (this.parser.started || this.requests == 0);
  }

  /** Ends the connection for a newcomer: buffers and body charge given back
   *  now, and the transport told to drop it (a normal close for an idle
   *  kept-alive client, a reset for one caught mid-header). */
  evict(): void {
    const abortive = !this.idleBetweenRequests;
    this.evicted = true;
    this.output.clear();
    this.close();
    const t = this.transport;
    this.transport = null;
    if (t !== null) t.drop(this, abortive);
  }

  /** Offers received bytes; returns how many were taken (the rest should be
   *  offered again later). After the connection decided to close, input is
   *  read and discarded. */
  feed(ptr: usize, len: i32, nowNs: u64): i32 {
    this.nowNs = nowNs;
    if (len <= 0) return 0;
    if (this.closed || this.closing) return len;
    let n = this.server.limits.maxPendingInput - this.input.length;
    if (n <= 0) return 0;
    if (n > len) n = len;
    this.input.append(ptr, n);
    this.server.stats.bytesIn += <u64>n;
    this.lastActivityNs = nowNs;
    this.process();
    return n;
  }

  feedBytes(a: Uint8Array, nowNs: u64): i32 { return this.feed(a.dataStart, a.length, nowNs); }

  /** Unsent response bytes start here; valid until the next call into this connection. */
  outputPtr(): usize { return this.output.ptr; }
  outputLength(): i32 { return this.output.length; }

  /** The adapter sent n bytes of the output. */
  consumeOutput(n: i32): void {
    if (n <= 0) return;
    this.output.consume(n);
    this.server.stats.bytesOut += <u64>n;
    this.lastActivityNs = this.nowNs;
    this.pullSource();
    // Output drained below the limit: pipelined requests may continue.
    if (!this.closing && this.input.length > 0) this.process();
  }

  /** A streamed body waits to be pulled with pullBody() (directBody: the
   *  output before it is all sent). */
  get bodyPending(): bool { return this.sourceDirect && this.source !== null && this.output.length == 0; }

  /** The transport's side of directBody: the streamed body's next bytes,
   *  up to max (at most SOURCE_PIECE), read straight to dst (the socket's
   *  send buffer). Returns the count; 0 when nothing is to be pulled now;
   *  -1 when the body cannot be finished (the connection is then closing,
   *  short of the length). Pipelined requests go on once the body is out. */
  pullBody(dst: usize, max: i32): i32 {
    const src = this.source;
    if (src === null || !this.sourceDirect || this.output.length > 0 || max <= 0) return 0;
    let want = this.sourceLeft < max ? this.sourceLeft : max;
    if (want > SOURCE_PIECE) want = SOURCE_PIECE;
    const got = src.read(dst, want);
    if (got <= 0 || got > want) {
      this.source = null;
      this.closing = true;
      this.input.clear();
      return -1;
    }
    this.sourceLeft -= got;
    this.server.stats.bytesOut += <u64>got;
    this.lastActivityNs = this.nowNs;
    if (this.sourceLeft == 0) {
      this.source = null;
      if (!this.closing && this.input.length > 0) this.process();
    }
    return got;
  }

  /** Tops the output up from a streamed body while little is waiting
   *  (unless the transport pulls it itself: directBody). */
  private pullSource(): void {
    if (this.sourceDirect) return;
    while (this.source !== null && this.output.length < SOURCE_PIECE) {
      const src = this.source!;
      const want = this.sourceLeft < SOURCE_PIECE ? this.sourceLeft : SOURCE_PIECE;
      const got = src.read(this.output.space(want), want);
      if (got <= 0 || got > want) {
        // The body cannot be finished: end the connection short of it.
        this.source = null;
        this.closing = true;
        this.input.clear();
        return;
      }
      this.output.grow(got);
      this.sourceLeft -= got;
      if (this.sourceLeft == 0) this.source = null;
    }
  }

  /** All pending output, consumed (for tests and simple adapters); with
   *  directBody, a streamed body's bytes too, as pullBody() would give them. */
  takeOutput(): Uint8Array {
    if (!this.directBody) {
      const b = this.output.toBytes();
      this.consumeOutput(b.length);
      return b;
    }
    const all = new ByteBuf(256);
    while (true) {
      const n = this.output.length;
      if (n > 0) { all.append(this.output.ptr, n); this.consumeOutput(n); continue; }
      if (this.source === null || !this.sourceDirect) break;
      const got = this.pullBody(all.space(SOURCE_PIECE), SOURCE_PIECE);
      if (got <= 0) break;
      all.grow(got);
    }
    const b = all.toBytes();
    all.clear();
    return b;
  }

  /** The client half-closed (FIN): nothing more will arrive. */
  peerClosed(nowNs: u64): void {
    this.nowNs = nowNs;
    // An incomplete request can never complete; answer nothing and close.
    this.closing = true;
  }

  /** True once the connection is done and its output has been sent: the
   *  adapter should close the socket and call close(). */
  shouldClose(): bool { return (this.closing || this.closed) && this.output.length == 0 && this.source === null; }

  get isClosing(): bool { return this.closing; }

  /** Releases the connection's slot; call once when the socket is gone. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    this.input.clear();
    this.parser.release();
    wantCollection();                   // its garbage: collected soon (kernel/lib/net/service.ts)
    this.source = null;
    this.server.release(this);
    this.releaseBody();
  }

  /** Charges chunked content received beyond what is charged; when the
   *  budget has no room, answers 503 and closes (the rest is not read). */
  private chargeBody(req: Request): bool {
    const more = <i64>req.bodyLength - this.charged;
    if (bodyBudget().take(more)) { this.charged += more; return true; }
    const res = new Response();
    budgetExceeded(res);
    const srv = this.server;
    srv.stats.requests++;
    serializeResponse(res, false, req.versionMinor, false, srv.dateHeader(this.nowNs), srv.serverName, this.output);
    srv.countStatus(503);
    this.closing = true;
    this.input.clear();
    return false;
  }

  private releaseBody(): void {
    if (this.charged > 0) { bodyBudget().give(this.charged); this.charged = 0; }
  }

  /** Checks timeouts at nowNs; returns the next deadline (0: none needed). */
  poll(nowNs: u64): u64 {
    this.nowNs = nowNs;
    if (this.closed || this.closing) return 0;
    const srv = this.server;
    const lim = srv.limits;
    const never: u64 = 0xffffffffffffffff;
    let idleT = lim.idleTimeoutNs;
    let headerT = lim.headerTimeoutNs;
    if (srv.underPressure) {
      if (lim.pressureIdleTimeoutNs < idleT) idleT = lim.pressureIdleTimeoutNs;
      if (lim.pressureHeaderTimeoutNs < headerT) headerT = lim.pressureHeaderTimeoutNs;
    }
    const started = this.parser.started;
    const inHeaders = started && !this.parser.headersDone;
    const idleDeadline = this.lastActivityNs + idleT;
    const headerDeadline = inHeaders ? this.requestStartNs + headerT : never;
    const reqDeadline = started ? this.requestStartNs + lim.requestTimeoutNs : never;
    if (nowNs >= idleDeadline || nowNs >= headerDeadline || nowNs >= reqDeadline) {
      const st = srv.stats;
      st.timeouts++;
      if (nowNs >= reqDeadline) st.requestTimeouts++;
      else if (nowNs >= headerDeadline) st.headerTimeouts++;
      else st.idleTimeouts++;
      // Would the normal limits have let it live?
      if (nowNs < reqDeadline && nowNs < this.lastActivityNs + lim.idleTimeoutNs &&
          (!inHeaders || nowNs < this.requestStartNs + lim.headerTimeoutNs)) st.pressureTimeouts++;
      if (started) {
        // RFC 9110 §15.5.9: a request was under way; say so before closing.
        this.errorResponse(408, "request timeout");
      }
      this.closing = true;
      this.input.clear();
      return 0;
    }
    let next = idleDeadline < reqDeadline ? idleDeadline : reqDeadline;
    if (headerDeadline < next) next = headerDeadline;
    return next;
  }

  /** Answers 503 at once (connection limit reached). */
  reject(nowNs: u64): void {
    this.nowNs = nowNs;
    this.errorResponse(503, "too many connections");
    this.closing = true;
  }

  private process(): void {
    const p = this.parser;
    const lim = this.server.limits;
    while (!this.closing && this.input.length > 0 && this.output.length < lim.maxPendingOutput && this.source === null) {
      const wasStarted = p.started;
      const n = p.feed(this.input.ptr, this.input.length);
      if (!wasStarted && p.started) { this.requestStartNs = this.stampNs(); this.requestBytes = 0; }
      this.requestBytes += n;
      this.input.consume(n);
      if (p.failed) {
        this.server.stats.parseErrors++;
        this.errorResponse(p.status, p.reason);
        // After a framing error the rest of the stream cannot be trusted.
        this.closing = true;
        this.input.clear();
        return;
      }
      if (p.headersDone && !this.admitted) {
        this.admitted = true;
        if (!this.admit(p.req, p.done)) {
          if (this.closing) return;
          p.reset();                    // refused a request without content: the connection goes on
          this.continueSent = false;
          this.admitted = false;
          continue;
        }
      }
      if (p.req.chunked && p.req.bodyLength > this.charged && !this.chargeBody(p.req)) return;
      if (p.done) {
        this.dispatch(p.req);
        this.releaseBody();
        p.reset();
        this.continueSent = false;
        this.admitted = false;
        continue;
      }
      // Waiting for more: a client that sent Expect: 100-continue waits for
      // our go-ahead before the content (RFC 9110 §10.1.1).
      // (Not when the content is already here.)
      if (p.inBody && p.req.expectContinue && !this.continueSent && this.input.length == 0) {
        this.output.appendLatin1("HTTP/1.1 100 Continue\r\n\r\n");
        this.continueSent = true;
      }
      if (n == 0) break;
    }
  }

  /** The handler's say once the headers are in; a refusal is answered at once.
   *  complete: the request has no content; otherwise the connection closes
   *  without reading it. */
  private admit(req: Request, complete: bool): bool {
    // Most requests are admitted and their admit response is never sent: one
    // reused Response instead of one per request (a nested admit gets its own).
    let res = admitScratch;
    if (res === null) res = new Response();
    else { admitScratch = null; res.reset(); }
    const ok = this.admitWith(req, complete, res);
    admitScratch = res;
    return ok;
  }

  private admitWith(req: Request, complete: bool, res: Response): bool {
    const srv = this.server;
    req.nowNs = this.nowNs;
    req.peer = this.peer;
    if (srv.handler.admit(req, res)) {
      if (complete) return true;
      // Content of a known length is charged to the guest's body budget
      // before it is read; chunked content as it arrives (chargeBody).
      const need: i64 = req.contentLength >= 0 ? req.contentLength : 0;
      if (bodyBudget().take(need)) { this.charged = need; return true; }
      budgetExceeded(res);
    }
    srv.stats.requests++;
    const keepAlive = complete && req.keepAlive;
    const before = this.output.length;
    serializeResponse(res, req.isHead, req.versionMinor, keepAlive, srv.dateHeader(this.nowNs), srv.serverName, this.output);
    this.requests++;
    srv.countStatus(res.status);
    const o = srv.observer;
    if (o !== null) {
      o.completed(req.method, req.route, res.status, this.elapsedNs(), this.requestBytes, this.output.length - before);
    }
    if (!keepAlive) { this.closing = true; this.input.clear(); }
    return false;
  }

  private dispatch(req: Request): void {
    const srv = this.server;
    srv.stats.requests++;
    req.nowNs = this.nowNs;
    req.peer = this.peer;
    let res = new Response();
    // One HandlerCall per connection, its references dropped after the call
    // (a connection dispatches one request at a time).
    let call = this.call;
    if (call === null) { call = new HandlerCall(srv.handler, req, res); this.call = call; }
    else { call.handler = srv.handler; call.req = req; call.res = res; }
    const code = runGuarded(call, srv.appCode);
    call.req = null;
    call.res = null;
    if (code != FAULT_NONE) {
      // The handler's half-built response is dropped; the connection and the
      // requests after this one carry on.
      srv.stats.handlerFaults++;
      const status = code == FAULT_OOM ? 503 : 500;
      res = new Response();
      res.error(status, code == FAULT_OOM ? "out of memory" : "internal error");
      reportFault(FaultSite.Http, code, req.method + " " + (req.route.length > 0 ? req.route : req.path), "answered " + status.toString());
    }
    if (res.status < 100 || res.status > 999 || (res.status >= 100 && res.status < 200)) {
      // A handler that set nothing (or an interim code) produced no answer.
      res.error(500, "handler produced no response");
    }
    const keepAlive = req.keepAlive && !res.close;
    const before = this.output.length;
    serializeResponse(res, req.isHead, req.versionMinor, keepAlive, srv.dateHeader(this.nowNs), srv.serverName, this.output);
    res.clearBody();                    // copied: pool pages go back now, not when collected
    this.requests++;
    srv.countStatus(res.status);
    const src = res.source;
    let streamed = 0;
    if (src !== null && !req.isHead && !statusHasNoBody(res.status)) {
      streamed = src.total();
      if (streamed > 0) { this.source = src; this.sourceLeft = streamed; this.sourceDirect = this.directBody && src.inMemory(); }
    }
    const o = srv.observer;
    if (o !== null) {
      o.completed(req.method, req.route, res.status, this.elapsedNs(), this.requestBytes, this.output.length - before + streamed);
    }
    if (!keepAlive) { this.closing = true; this.input.clear(); }
    this.pullSource();
    wantCollection();                   // the exchange's garbage, on a kept-alive connection too
  }

  /** Now, by the server's monotonic clock when it has one. */
  private stampNs(): u64 {
    const f = this.server.monotonicNs;
    if (f === null) return this.nowNs;
    const t = f();
    return t > this.nowNs ? t : this.nowNs;
  }

  /** Time since the current request's first byte. */
  private elapsedNs(): u64 {
    const t = this.stampNs();
    return t > this.requestStartNs ? t - this.requestStartNs : 0;
  }

  private errorResponse(status: i32, message: string): void {
    const srv = this.server;
    const res = new Response();
    res.json(status, errorJson(status, message));
    res.contentType = MIME_JSON;
    const before = this.output.length;
    serializeResponse(res, false, 1, false, srv.dateHeader(this.nowNs), srv.serverName, this.output);
    srv.countStatus(status);
    const o = srv.observer;
    if (o !== null) {
      const m = this.parser.req.method;
      o.completed(m, "", status, this.elapsedNs(), this.requestBytes, this.output.length - before);
    }
  }
}

function budgetExceeded(res: Response): void {
  res.setHeader("Retry-After", "1");
  res.error(503, "too many request bodies in flight; try again");
}
