// kernel/lib/http/client.ts — an HTTP/1.1 client (RFC 9110, RFC 9112) over
// kernel/lib/net's TCP sockets: http://host:port/path URLs, names through the DNS
// resolver (kernel/lib/net/dns), request and response headers, Content-Length and
// chunked bodies (respparser.ts), keep-alive connections reused per host from
// a small bounded pool, a connect timeout and a whole-request timeout, a limit
// on the response size. Event-driven like the sockets: the caller passes an
// HttpClientHandler (an object, or HttpCallback around a plain function and a
// context object) whose response() runs once, with either a response or a
// readable error. Timers come from kernel/core/sched; no TLS (http:// only).
import { TimerHandler, Timer, after, cancel, setDaemon, nowNs } from "../../core/sched";
import {
  NetStack, AddressHandler, TcpSocket, TcpHandler, TcpState, TCP_ERR_REFUSED, TCP_ERR_RESET, TCP_ERR_TIMEOUT,
  ipToString, parseIp, DnsResolver, DnsHandler, DnsResult, normalizeName,
} from "../net";
import { ByteBuf } from "./buf";
import { Header } from "./request";
import { ResponseParser, ResponseLimits, BodySink, eqIgnoreCase } from "./respparser";

export const HTTP_OK = 0;
export const HTTP_ERR_URL = 1;         // not an http://host[:port]/path URL
export const HTTP_ERR_RESOLVE = 2;     // the host name did not resolve (message says why)
export const HTTP_ERR_CONNECT = 3;     // refused, unreachable, or the connect timed out
export const HTTP_ERR_TIMEOUT = 4;     // the whole request took longer than its timeout
export const HTTP_ERR_CLOSED = 5;      // the connection ended before the response did
export const HTTP_ERR_PROTOCOL = 6;    // the response was not valid HTTP/1.x
export const HTTP_ERR_TOO_LARGE = 7;   // the response was over maxResponseBytes
export const HTTP_ERR_NETWORK = 8;     // no network, or out of sockets/memory
export const HTTP_ERR_BAD_REQUEST = 9; // a header name or value the client refuses to send

export function httpErrorName(e: i32): string {
  switch (e) {
    case HTTP_OK: return "ok";
    case HTTP_ERR_URL: return "bad URL";
    case HTTP_ERR_RESOLVE: return "name not resolved";
    case HTTP_ERR_CONNECT: return "connect failed";
    case HTTP_ERR_TIMEOUT: return "timed out";
    case HTTP_ERR_CLOSED: return "connection closed early";
    case HTTP_ERR_PROTOCOL: return "bad response";
    case HTTP_ERR_TOO_LARGE: return "response too large";
    case HTTP_ERR_NETWORK: return "no network";
    case HTTP_ERR_BAD_REQUEST: return "bad request";
  }
  return "error " + e.toString();
}

/** A parsed http:// URL. */
export class HttpUrl {
  host: string = "";
  port: u32 = 80;
  /** Path and query, percent-encoding kept as given ("/" when empty). */
  target: string = "/";
  error: string = "";
  get ok(): bool { return this.error.length == 0; }
}

/** Splits http://host[:port][/path][?query][#fragment]. */
export function parseHttpUrl(url: string): HttpUrl {
  const u = new HttpUrl();
  const lower = url.toLowerCase();
  if (lower.startsWith("https://")) { u.error = "https is not supported (no TLS): " + url; return u; }
  if (!lower.startsWith("http://")) { u.error = "not an http:// URL: " + url; return u; }
  let rest = url.substring(7);
  const hash = rest.indexOf("#");
  if (hash >= 0) rest = rest.substring(0, hash);
  let end = rest.length;
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c == 47 || c == 63) { end = i; break; }
  }
  let authority = rest.substring(0, end);
  let target = rest.substring(end);
  if (target.length == 0) target = "/";
  else if (target.charCodeAt(0) == 63) target = "/" + target;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 32 || c >= 127) { u.error = "the path has a space or a character that needs percent-encoding: " + url; return u; }
  }
  if (authority.indexOf("@") >= 0) { u.error = "user:password@ in URLs is not supported: " + url; return u; }
  if (authority.startsWith("[")) { u.error = "IPv6 addresses are not supported: " + url; return u; }
  const colon = authority.indexOf(":");
  if (colon >= 0) {
    const p = authority.substring(colon + 1);
    authority = authority.substring(0, colon);
    let port: u32 = 0;
    if (p.length == 0 || p.length > 5) { u.error = "bad port in " + url; return u; }
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i);
      if (c < 48 || c > 57) { u.error = "bad port in " + url; return u; }
      port = port * 10 + <u32>(c - 48);
    }
    if (port == 0 || port > 65535) { u.error = "bad port in " + url; return u; }
    u.port = port;
  }
  const ok = new StaticArray<bool>(1);
  parseIp(authority, ok);
  if (!ok[0]) {
    const n = normalizeName(authority);
    if (n == null) { u.error = "bad host name in " + url; return u; }
    authority = n!;
  }
  u.host = authority;
  u.target = target;
  return u;
}

/** What came back: a response (error == HTTP_OK, any status) or a failure. */
export class HttpClientResponse {
  error: i32 = HTTP_OK;
  /** One sentence: "GET http://h/x: 200 OK, 12 bytes" or what went wrong. */
  message: string = "";
  method: string = "";
  url: string = "";
  status: i32 = 0;
  reason: string = "";
  headers: Array<Header> = [];
  /** The body (empty when it was streamed to a sink). */
  body: ByteBuf = new ByteBuf(16);
  bodyBytes: i64 = 0;
  /** The connection came from the keep-alive pool. */
  reused: bool = false;
  elapsedNs: u64 = 0;

  get ok(): bool { return this.error == HTTP_OK; }
  header(name: string): string | null {
    for (let i = 0; i < this.headers.length; i++) {
      const h = unchecked(this.headers[i]);
      if (eqIgnoreCase(h.name, name)) return h.value;
    }
    return null;
  }
  /** The body decoded as UTF-8. */
  text(): string { return String.UTF8.decodeUnsafe(this.body.ptr, <usize>this.body.length); }
}

/** The caller's callback: runs once per request. */
export abstract class HttpClientHandler {
  abstract response(r: HttpClientResponse): void;
}

/** A handler from a plain function and a context object (no closures in
 *  AssemblyScript): `httpGet(url, new HttpCallback(done, state))`. */
export class HttpCallback extends HttpClientHandler {
  constructor(public fn: (r: HttpClientResponse, ctx: Object | null) => void, public ctx: Object | null = null) { super(); }
  response(r: HttpClientResponse): void { this.fn(r, this.ctx); }
}

export class HttpClientRequest {
  method: string = "GET";
  url: string = "";
  headers: Array<Header> = [];
  body: Uint8Array | null = null;
  connectTimeoutNs: u64 = 10_000_000_000;
  /** From the call to the last byte of the response (DNS and connect included). */
  timeoutNs: u64 = 30_000_000_000;
  maxResponseBytes: i64 = 16 << 20;
  /** Streams the body here instead of into response.body (maxResponseBytes still applies; -1 lifts it). */
  sink: BodySink | null = null;

  constructor(method: string = "GET", url: string = "") { this.method = method; this.url = url; }
  header(name: string, value: string): HttpClientRequest { this.headers.push(new Header(name, value)); return this; }
  bodyText(s: string): HttpClientRequest { this.body = Uint8Array.wrap(String.UTF8.encode(s)); return this; }
}

// ---------------------------------------------------------------- the pool

class IdleConn extends TcpHandler {
  timer: Timer | null = null;
  constructor(public client: HttpClient, public key: string, public sock: TcpSocket) { super(); }
  // Data or a FIN on an idle connection: the server gave up on it.
  readable(s: TcpSocket): void { this.client.dropIdle(this, true); }
  closed(s: TcpSocket): void { this.client.dropIdle(this, false); }
}

class IdleTimeout extends TimerHandler {
  constructor(public conn: IdleConn) { super(); }
  fire(now: u64): void { this.conn.client.dropIdle(this.conn, true); }
}

// ---------------------------------------------------------------- one request

const EX_RESOLVING = 0;
const EX_CONNECTING = 1;
const EX_SENDING = 2;
const EX_DONE = 3;

const READ_CHUNK: i32 = 16384;
// @lazy: only an image that runs the HTTP client allocates it.
// @ts-ignore: decorator
@lazy const scratch = new StaticArray<u8>(READ_CHUNK);

class ExchangeTimer extends TimerHandler {
  constructor(public ex: Exchange, public connectTimer: bool) { super(); }
  fire(now: u64): void { this.ex.timedOut(this.connectTimer); }
}

class ExchangeDns extends DnsHandler {
  constructor(public ex: Exchange) { super(); }
  resolved(r: DnsResult): void { this.ex.resolved(r); }
}

class ExchangeAddressed extends AddressHandler {
  constructor(public ex: Exchange) { super(); }
  addressed(stack: NetStack): void { this.ex.lookUp(); }
}

class Exchange extends TcpHandler {
  state: i32 = EX_RESOLVING;
  sock: TcpSocket | null = null;
  reused: bool = false;
  retried: bool = false;
  /** Some byte of the response arrived (then a retry is never safe). */
  gotBytes: bool = false;
  addr: u32 = 0;
  out: ByteBuf = new ByteBuf(256);
  parser: ResponseParser;
  timer: Timer | null = null;
  connectTimer: Timer | null = null;
  started: u64 = 0;
  key: string = "";

  constructor(public client: HttpClient, public req: HttpClientRequest, public url: HttpUrl, public handler: HttpClientHandler) {
    super();
    this.key = url.host + ":" + url.port.toString();
    const lim = new ResponseLimits();
    lim.maxBody = req.maxResponseBytes;
    this.parser = new ResponseParser(lim);
    this.parser.sink = req.sink;
    this.started = nowNs();
  }

  begin(): void {
    this.timer = after(this.req.timeoutNs, new ExchangeTimer(this, false));
    this.parser.reset(this.req.method == "HEAD");
    const bad = this.serialize();
    if (bad.length > 0) { after(0, new LateFailure(this, HTTP_ERR_BAD_REQUEST, bad)); return; }
    const idle = this.client.takeIdle(this.key);
    if (idle != null) { this.reused = true; this.attach(idle); return; }
    const st = this.client.stack;
    st.whenAddressed(new ExchangeAddressed(this));     // before DHCP finishes, wait for it
  }

  lookUp(): void {
    if (this.state != EX_RESOLVING) return;
    this.client.resolver.resolve(this.url.host, new ExchangeDns(this), <i64>nowNs());
  }

  resolved(r: DnsResult): void {
    if (this.state != EX_RESOLVING) return;
    if (!r.ok) { this.fail(HTTP_ERR_RESOLVE, r.message); return; }
    this.addr = r.addr;
    this.connect();
  }

  private connect(): void {
    const s = this.client.stack.tcp.connect(this.addr, this.url.port, this, this.client.rxBuffer, this.client.txBuffer);
    if (s == null) { this.fail(HTTP_ERR_NETWORK, "cannot open a connection to " + this.peer() + " (no route, port or memory)"); return; }
    this.client.opened++;
    this.sock = s;
    this.state = EX_CONNECTING;
    this.connectTimer = after(this.req.connectTimeoutNs, new ExchangeTimer(this, true));
  }

  private attach(s: TcpSocket): void {
    this.sock = s;
    s.handler = this;
    this.addr = s.remoteAddr;
    this.client.reusedCount++;
    this.state = EX_SENDING;
    this.pump();
  }

  private peer(): string { return ipToString(this.addr) + ":" + this.url.port.toString(); }

  /** Builds the request bytes; returns why not ("" when done) for a method or header it refuses. */
  private serialize(): string {
    const r = this.req;
    const o = this.out;
    o.clear();
    const m = r.method;
    if (m.length == 0 || !isToken(m)) return "bad method " + m;
    o.appendLatin1(m + " " + this.url.target + " HTTP/1.1\r\nHost: " + this.url.host);
    if (this.url.port != 80) o.appendLatin1(":" + this.url.port.toString());
    o.appendLatin1("\r\n");
    let ua = false;
    for (let i = 0; i < r.headers.length; i++) if (eqIgnoreCase(unchecked(r.headers[i]).name, "user-agent")) ua = true;
    if (!ua) o.appendLatin1("User-Agent: skiff\r\n");
    for (let i = 0; i < r.headers.length; i++) {
      const h = unchecked(r.headers[i]);
      if (!isToken(h.name)) return "bad header name " + h.name;
      for (let k = 0; k < h.value.length; k++) {
        const c = h.value.charCodeAt(k);
        if ((c < 32 && c != 9) || c == 127 || c > 255) return "bad character in header " + h.name;
      }
      // The client owns framing and Host.
      if (eqIgnoreCase(h.name, "host") || eqIgnoreCase(h.name, "content-length") || eqIgnoreCase(h.name, "transfer-encoding")) continue;
      o.appendLatin1(h.name + ": " + h.value + "\r\n");
    }
    const b = r.body;
    if (b != null || m == "POST" || m == "PUT" || m == "PATCH") {
      o.appendLatin1("Content-Length: " + (b == null ? 0 : b.length).toString() + "\r\n");
    }
    o.appendLatin1("\r\n");
    if (b != null) o.appendBytes(b);
    return "";
  }

  // -------------------------------------------------------- socket events

  connected(s: TcpSocket): void {
    const t = this.connectTimer;
    if (t != null) { cancel(t); this.connectTimer = null; }
    if (this.state != EX_CONNECTING) return;
    this.state = EX_SENDING;
    this.pump();
  }
  writable(s: TcpSocket): void { this.pump(); }
  readable(s: TcpSocket): void { this.pump(); }
  closed(s: TcpSocket): void {
    if (this.state == EX_DONE) return;
    this.drain();
    if (this.state == EX_DONE) return;
    this.parser.eof();
    if (this.parser.done) { this.finish(); return; }
    if (this.state == EX_CONNECTING) {
      const why = s.error == TCP_ERR_REFUSED ? "connection refused by " : s.error == TCP_ERR_TIMEOUT ? "no answer from " : "connection failed to ";
      this.fail(HTTP_ERR_CONNECT, why + this.peer());
      return;
    }
    if (this.retryStale()) return;
    const why = s.error == TCP_ERR_RESET ? "connection reset by " + this.peer() + " (" + this.parser.error + ")" : this.parser.error + " (" + this.peer() + ")";
    this.fail(HTTP_ERR_CLOSED, why);
  }

  /** A pooled connection the server had closed before our request reached
   *  it: try once more on a new one, if nothing came back and the method is idempotent. */
  private retryStale(): bool {
    if (!this.reused || this.retried || this.gotBytes) return false;
    const m = this.req.method;
    if (m != "GET" && m != "HEAD" && m != "PUT" && m != "DELETE" && m != "OPTIONS") return false;
    this.retried = true;
    this.reused = false;
    const s = this.sock;
    if (s != null) { s.handler = null; if (s.state != TcpState.Closed) s.abort(); }
    this.sock = null;
    this.parser.reset(m == "HEAD");
    this.serialize();
    this.client.retries++;
    this.state = EX_RESOLVING;
    this.connect();
    return true;
  }

  /** Moves request bytes out and response bytes in. */
  pump(): void {
    if (this.state != EX_SENDING) return;
    const s = this.sock!;
    while (this.out.length > 0) {
      const w = s.write(this.out.ptr, this.out.length);
      if (w <= 0) break;
      this.out.consume(w);
    }
    this.drain();
  }

  private drain(): void {
    const s = this.sock;
    if (s == null || this.state != EX_SENDING) return;
    const p = changetype<usize>(scratch);
    while (true) {
      const n = s.read(p, READ_CHUNK);
      if (n < 0) {                          // the server's FIN
        this.parser.eof();
        if (this.parser.done) { this.finish(); return; }
        if (this.retryStale()) return;
        this.fail(this.parser.error.startsWith("response body larger") ? HTTP_ERR_TOO_LARGE : HTTP_ERR_CLOSED, this.parser.error + " (" + this.peer() + ")");
        return;
      }
      if (n == 0) return;
      this.gotBytes = true;
      const used = this.parser.feed(p, n);
      if (this.parser.failed) {
        const tooBig = this.parser.error.indexOf("larger") >= 0 || this.parser.error.indexOf("over the limit") >= 0;
        this.fail(tooBig ? HTTP_ERR_TOO_LARGE : HTTP_ERR_PROTOCOL, this.parser.error + " (" + this.peer() + ")");
        return;
      }
      if (this.parser.done) { this.finish(used < n || s.readableBytes > 0); return; }
    }
  }

  timedOut(connectOnly: bool): void {
    if (this.state == EX_DONE) return;
    if (connectOnly) {
      if (this.state != EX_CONNECTING) return;
      this.fail(HTTP_ERR_CONNECT, "connect to " + this.peer() + " timed out after " + msText(this.req.connectTimeoutNs));
      return;
    }
    const where = this.state == EX_RESOLVING ? "resolving " + this.url.host : this.state == EX_CONNECTING ? "connecting to " + this.peer() :
      "waiting for " + this.peer() + " (" + this.parser.bodyBytes.toString() + " body bytes so far)";
    this.fail(HTTP_ERR_TIMEOUT, "no complete response within " + msText(this.req.timeoutNs) + " while " + where);
  }

  // -------------------------------------------------------- endings

  private stopTimers(): void {
    let t = this.timer; if (t != null) { cancel(t); this.timer = null; }
    t = this.connectTimer; if (t != null) { cancel(t); this.connectTimer = null; }
  }

  private finish(extraBytes: bool = false): void {
    this.state = EX_DONE;
    this.stopTimers();
    const p = this.parser;
    const s = this.sock;
    if (s != null) {
      if (p.keepAlive && !extraBytes && s.state == TcpState.Established && !s.atEof) this.client.putIdle(this.key, s);
      else { s.handler = null; s.close(); }
    }
    this.sock = null;
    const r = this.newResponse(HTTP_OK);
    r.status = p.status;
    r.reason = p.reason;
    r.headers = p.headers;
    r.body = p.body;
    r.bodyBytes = p.bodyBytes;
    r.message = this.req.method + " " + this.req.url + ": " + p.status.toString() + (p.reason.length > 0 ? " " + p.reason : "") +
      ", " + p.bodyBytes.toString() + " bytes" + (this.reused ? " (reused connection)" : "");
    this.client.deliver(this, r);
  }

  fail(err: i32, why: string): void {
    if (this.state == EX_DONE) return;
    this.state = EX_DONE;
    this.stopTimers();
    const s = this.sock;
    if (s != null) { s.handler = null; if (s.state != TcpState.Closed) s.abort(); }
    this.sock = null;
    const r = this.newResponse(err);
    r.message = this.req.method + " " + this.req.url + ": " + httpErrorName(err) + ": " + why;
    this.client.deliver(this, r);
  }

  private newResponse(err: i32): HttpClientResponse {
    const r = new HttpClientResponse();
    r.error = err;
    r.method = this.req.method;
    r.url = this.req.url;
    r.reused = this.reused;
    r.elapsedNs = nowNs() - this.started;
    return r;
  }
}

/** Delivers a failure found inside request() from the loop, not the caller's stack. */
class LateFailure extends TimerHandler {
  constructor(public ex: Exchange, public err: i32, public why: string) { super(); }
  fire(now: u64): void { this.ex.fail(this.err, this.why); }
}

// ---------------------------------------------------------------- the client

export class HttpClient {
  /** Idle keep-alive connections kept per host:port, and in all. */
  maxIdlePerHost: i32 = 2;
  maxIdle: i32 = 8;
  idleTimeoutNs: u64 = 30_000_000_000;
  /** Requests in flight; more fail at once with HTTP_ERR_NETWORK. */
  maxActive: i32 = 256;
  rxBuffer: i32 = 64 * 1024;
  txBuffer: i32 = 16 * 1024;
  /** Statistics: connections opened, requests on reused connections, completed requests. */
  opened: u64 = 0;
  reusedCount: u64 = 0;
  completed: u64 = 0;
  retries: u64 = 0;
  private idle: Array<IdleConn> = [];
  private active: i32 = 0;

  constructor(public stack: NetStack, public resolver: DnsResolver) {}

  get idleCount(): i32 { return this.idle.length; }
  get activeCount(): i32 { return this.active; }

  /** Sends req; handler.response runs once, from the event loop. */
  request(req: HttpClientRequest, handler: HttpClientHandler): void {
    const u = parseHttpUrl(req.url);
    const ex = new Exchange(this, req, u, handler);
    this.active++;
    if (!u.ok) { after(0, new LateFailure(ex, HTTP_ERR_URL, u.error)); return; }
    if (this.active > this.maxActive) { after(0, new LateFailure(ex, HTTP_ERR_NETWORK, "more than " + this.maxActive.toString() + " requests in flight")); return; }
    ex.begin();
  }

  get(url: string, handler: HttpClientHandler): void { this.request(new HttpClientRequest("GET", url), handler); }
  delete(url: string, handler: HttpClientHandler): void { this.request(new HttpClientRequest("DELETE", url), handler); }
  post(url: string, body: string, contentType: string, handler: HttpClientHandler): void {
    this.request(new HttpClientRequest("POST", url).header("Content-Type", contentType).bodyText(body), handler);
  }
  put(url: string, body: string, contentType: string, handler: HttpClientHandler): void {
    this.request(new HttpClientRequest("PUT", url).header("Content-Type", contentType).bodyText(body), handler);
  }

  /** Closes every idle connection. */
  closeIdle(): void {
    while (this.idle.length > 0) this.dropIdle(unchecked(this.idle[0]), true);
  }

  deliver(ex: Exchange, r: HttpClientResponse): void {
    this.active--;
    this.completed++;
    ex.handler.response(r);
  }

  takeIdle(key: string): TcpSocket | null {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = unchecked(this.idle[i]);
      if (c.key != key) continue;
      this.idle.splice(i, 1);
      const t = c.timer; if (t != null) cancel(t);
      const s = c.sock;
      if (s.state == TcpState.Established && !s.atEof && s.readableBytes == 0) return s;
      s.handler = null; s.close();
    }
    return null;
  }

  putIdle(key: string, s: TcpSocket): void {
    let same = 0;
    for (let i = 0; i < this.idle.length; i++) if (unchecked(this.idle[i]).key == key) same++;
    if (same >= this.maxIdlePerHost || this.maxIdle <= 0) { s.handler = null; s.close(); return; }
    if (this.idle.length >= this.maxIdle) this.dropIdle(unchecked(this.idle[0]), true);   // the oldest goes
    const c = new IdleConn(this, key, s);
    s.handler = c;
    const t = after(this.idleTimeoutNs, new IdleTimeout(c));
    setDaemon(t, true);                           // an idle connection does not keep the guest up
    c.timer = t;
    this.idle.push(c);
  }

  dropIdle(c: IdleConn, close: bool): void {
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    const t = c.timer; if (t != null) { cancel(t); c.timer = null; }
    c.sock.handler = null;
    if (close && c.sock.state != TcpState.Closed) c.sock.close();
  }
}

function isToken(s: string): bool {
  if (s.length == 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) ||
      c == 33 || c == 35 || c == 36 || c == 37 || c == 38 || c == 39 || c == 42 || c == 43 || c == 45 || c == 46 ||
      c == 94 || c == 95 || c == 96 || c == 124 || c == 126;
    if (!ok) return false;
  }
  return true;
}

function msText(ns: u64): string {
  return ns % 1_000_000_000 == 0 ? (ns / 1_000_000_000).toString() + " s" : (ns / 1_000_000).toString() + " ms";
}
