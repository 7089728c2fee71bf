// kernel/http/server.ts — the per-connection HTTP/1.1 state machine: bytes in,
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
import { ByteBuf } from "./buf";
import { Request } from "./request";
import { Response, Handler, BodySource, serializeResponse, errorJson, MIME_JSON } from "./response";
import { RequestParser } from "./parser";
import { bodyBudget } from "./budget";
import { HttpLimits } from "./limits";
import { statusHasNoBody } from "./status";
import { WallClock, httpDate } from "./clock";
import { Guarded, runGuarded, reportFault, FaultSite, FAULT_NONE, FAULT_OOM } from "../fault";
import { wantCollection } from "../mm";

/** One handler call, run guarded: a fault in it answers that request only. */
class HandlerCall extends Guarded {
  constructor(public handler: Handler, public req: Request, public res: Response) { super(); }
  run(): void { this.handler.handle(this.req, this.res); }
}

/** Told about every response the server writes (for metrics and logs). */
export abstract class HttpObserver {
  /** route is the matched pattern, "" when no route matched or the request
   *  never parsed; durationNs runs from the request's first byte to its
   *  response being queued, in the caller's nowNs. */
  abstract completed(method: string, route: string, status: i32, durationNs: u64, requestBytes: i32, responseBytes: i32): void;
}

export class HttpServerStats {
  connectionsOpened: u64 = 0;
  connectionsRejected: u64 = 0;
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

export class HttpServer {
  limits: HttpLimits = new HttpLimits();
  clock: WallClock | null = null;
  observer: HttpObserver | null = null;
  /** Open connections beyond this are answered 503 and closed. */
  maxConnections: i32 = 16;
  /** Handlers are app code: their heap growth stops short of the reserve the
   *  kernel keeps (kernel/fault.ts). The management endpoint clears it. */
  appCode: bool = true;
  /** Sent as the Server header; "" omits it. */
  serverName: string = "Skiff";
  active: i32 = 0;
  stats: HttpServerStats = new HttpServerStats();

  constructor(public handler: Handler) {}

  /** A new connection at nowNs. Over maxConnections it comes back already
   *  holding a 503 and set to close; the adapter treats it like any other. */
  open(nowNs: u64): HttpConnection {
    const c = new HttpConnection(this, nowNs);
    this.stats.connectionsOpened++;
    if (this.active >= this.maxConnections) {
      this.stats.connectionsRejected++;
      c.reject(nowNs);
    } else {
      this.active++;
      c.counted = true;
    }
    return c;
  }

  dateHeader(nowNs: u64): string | null {
    const c = this.clock;
    if (c === null) return null;
    const t = c.unixSeconds(nowNs);
    return t < 0 ? null : httpDate(t);
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
  private output: ByteBuf = new ByteBuf(512);
  /** A streamed response body still being read (Response.stream), and how
   *  many of its bytes are still to come. */
  private source: BodySource | null = null;
  private sourceLeft: i32 = 0;
  private parser: RequestParser;
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
  /** Requests answered on this connection. */
  requests: i32 = 0;

  constructor(public server: HttpServer, nowNs: u64) {
    this.parser = new RequestParser(server.limits);
    this.lastActivityNs = nowNs;
    this.nowNs = nowNs;
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

  /** Tops the output up from a streamed body while little is waiting. */
  private pullSource(): void {
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

  /** All pending output, consumed (for tests and simple adapters). */
  takeOutput(): Uint8Array {
    const b = this.output.toBytes();
    this.consumeOutput(b.length);
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
    wantCollection();                   // its garbage: collected soon (kernel/net/service.ts)
    this.source = null;
    if (this.counted) { this.server.active--; this.counted = false; }
    this.releaseBody();
  }

  /** Charges chunked content received beyond what is charged; when the
   *  budget has no room, answers 503 and closes (the rest is not read). */
  private chargeBody(req: Request): bool {
    const more = <i64>req.body.length - this.charged;
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
    const lim = this.server.limits;
    const idleDeadline = this.lastActivityNs + lim.idleTimeoutNs;
    const started = this.parser.started;
    const reqDeadline = started ? this.requestStartNs + lim.requestTimeoutNs : <u64>0xffffffffffffffff;
    if (nowNs >= idleDeadline || nowNs >= reqDeadline) {
      this.server.stats.timeouts++;
      if (started) {
        // RFC 9110 §15.5.9: a request was under way; say so before closing.
        this.errorResponse(408, "request timeout");
      }
      this.closing = true;
      this.input.clear();
      return 0;
    }
    return idleDeadline < reqDeadline ? idleDeadline : reqDeadline;
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
      if (!wasStarted && p.started) { this.requestStartNs = this.nowNs; this.requestBytes = 0; }
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
      if (p.req.chunked && p.req.body.length > this.charged && !this.chargeBody(p.req)) return;
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
    const srv = this.server;
    const res = new Response();
    req.nowNs = this.nowNs;
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
      o.completed(req.method, req.route, res.status, this.nowNs - this.requestStartNs, this.requestBytes, this.output.length - before);
    }
    if (!keepAlive) { this.closing = true; this.input.clear(); }
    return false;
  }

  private dispatch(req: Request): void {
    const srv = this.server;
    srv.stats.requests++;
    req.nowNs = this.nowNs;
    let res = new Response();
    const code = runGuarded(new HandlerCall(srv.handler, req, res), srv.appCode);
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
    this.requests++;
    srv.countStatus(res.status);
    const src = res.source;
    let streamed = 0;
    if (src !== null && !req.isHead && !statusHasNoBody(res.status)) {
      streamed = src.total();
      if (streamed > 0) { this.source = src; this.sourceLeft = streamed; }
    }
    const o = srv.observer;
    if (o !== null) {
      o.completed(req.method, req.route, res.status, this.nowNs - this.requestStartNs, this.requestBytes, this.output.length - before + streamed);
    }
    if (!keepAlive) { this.closing = true; this.input.clear(); }
    this.pullSource();
    wantCollection();                   // the exchange's garbage, on a kept-alive connection too
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
      o.completed(m, "", status, this.nowNs - this.requestStartNs, this.requestBytes, this.output.length - before);
    }
  }
}

function budgetExceeded(res: Response): void {
  res.setHeader("Retry-After", "1");
  res.error(503, "too many request bodies in flight; try again");
}
