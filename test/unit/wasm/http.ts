// test/unit/wasm/http.ts — drives kernel/lib/http from Node: a server with a small
// route table, connections addressed by index, bytes in and out as ArrayBuffers.
import { abortHandler } from "../../../kernel/core/panic";
import {
  HttpServer, HttpConnection, Router, Handler, Request, Response, BearerAuth, WallClock, HttpObserver,
  httpDate, MIME_TEXT, HeaderLine, findByte, RequestParser, HttpLimits, AuthObserver, HttpTransport, bodyBudget, AuthThrottle,
} from "../../../kernel/lib/http";
import { JsonWriter } from "../../../kernel/lib/json";
import { ByteBuf } from "../../../kernel/lib/http/buf";

/** s as ByteBuf.appendLatin1 writes it. */
export function latin1Bytes(s: string): ArrayBuffer {
  const b = new ByteBuf(16);
  b.appendLatin1(s);
  return b.toBytes().buffer;
}

class Hello extends Handler {
  handle(req: Request, res: Response): void { res.text(200, "hello"); }
}
class Item extends Handler {
  handle(req: Request, res: Response): void {
    const q = req.queryParam("q");
    res.json(200, new JsonWriter().beginObject().propString("id", req.param("id")!)
      .key("q").stringOrNull(q).propString("route", req.route).endObject().toString());
  }
}
class Files extends Handler {
  handle(req: Request, res: Response): void { res.text(200, "file:" + req.param("path")!); }
}
class Echo extends Handler {
  handle(req: Request, res: Response): void {
    res.status = 200;
    const ct = req.header("content-type");
    res.contentType = ct === null ? "application/octet-stream" : ct;
    res.body.appendBuf(req.body);
    res.setHeader("X-Chunked", req.chunked ? "1" : "0");
  }
}
class Nothing extends Handler {
  handle(req: Request, res: Response): void {}
}
class Big extends Handler {
  handle(req: Request, res: Response): void {
    res.status = 200;
    res.contentType = MIME_TEXT;
    res.chunked = true;
    for (let i = 0; i < 40000; i++) res.body.appendByte(0x61 + <u32>(i % 26));
  }
}
class Evil extends Handler {
  handle(req: Request, res: Response): void {
    res.setHeader("X-Injected", "a\r\nSet-Cookie: x=1");
    res.setHeader("Bad Name", "v");
    res.setHeader("X-Padded", "  padded value\t");
    res.setHeader("X-Nbsp", "\u00a0nb\u00a0");
    res.setHeader("X-Clean", "clean");
    res.setHeader("Content-Length", "999");
    res.text(200, "ok");
  }
}
// Header lines made once, added to every response of /lines.
const LINE_TAG = new HeaderLine("X-Tag", "one");
const LINE_EVIL = new HeaderLine("X-Line-Injected", "a\r\nSet-Cookie: y=2");
const LINE_BAD = new HeaderLine("Bad Name", "v");
const LINE_FRAMING = new HeaderLine("Content-Length", "999");
const LINE_TYPE = new HeaderLine("Content-Type", "text/x-line");
const LINE_CHANGED = new HeaderLine("X-Changed", "before");
class Lines extends Handler {
  handle(req: Request, res: Response): void {
    res.addLine(LINE_TAG);
    res.addLine(LINE_EVIL);
    res.addLine(LINE_BAD);
    res.addLine(LINE_FRAMING);
    res.addLine(LINE_TYPE);
    res.addLine(LINE_CHANGED);
    // Changed in res.headers after it was added: written as it now is.
    if (req.queryParam("change") !== null) unchecked(res.headers[res.headers.length - 1]).value = "after";
    res.status = 200;
    res.body.appendUtf8("lines " + res.droppedHeaders.toString());
  }
}
let counter = 0;
class Bump extends Handler {
  handle(req: Request, res: Response): void { counter++; res.json(200, counter.toString()); }
}
class Close extends Handler {
  handle(req: Request, res: Response): void { res.close = true; res.text(200, "bye"); }
}

class Clock extends WallClock {
  unixSeconds(nowNs: u64): i64 { return 784111777 + <i64>(nowNs / 1_000_000_000); }
}
let completions = "";
class Obs extends HttpObserver {
  completed(method: string, route: string, status: i32, durationNs: u64, reqBytes: i32, resBytes: i32): void {
    completions += method + " " + route + " " + status.toString() + " " + durationNs.toString() + ";";
  }
}
let refusals = "";
class AuthObs extends AuthObserver {
  refused(req: Request, status: i32, failures: u64): void {
    refusals += req.method + " " + req.path + " " + status.toString() + " #" + failures.toString() + ";";
  }
}

let server: HttpServer | null = null;
let auth: BearerAuth | null = null;
const conns = new Array<HttpConnection>();

export function setup(maxRequestLine: i32, maxHeaderLine: i32, maxHeaderBytes: i32, maxHeaders: i32, maxBody: i32,
                      requireLength: bool, idleNs: u64, requestNs: u64, maxConnections: i32, maxPendingOutput: i32): void {
  const r = new Router();
  r.get("/hello", new Hello());
  r.get("/items/{id}", new Item());
  r.get("/items/special", new Hello());
  r.get("/files/{path...}", new Files());
  r.post("/echo", new Echo()).noAuth();
  r.put("/echo", new Echo()).noAuth();
  r.get("/nothing", new Nothing());
  r.get("/big", new Big());
  r.get("/evil", new Evil());
  r.get("/lines", new Lines());
  r.post("/bump", new Bump());
  r.delete("/items/{id}", new Bump());
  r.get("/close", new Close());
  const a = new BearerAuth("s3cret-token");
  a.observer = new AuthObs();
  r.auth = a;
  auth = a;
  const s = new HttpServer(r);
  const l = s.limits;
  l.maxRequestLine = maxRequestLine; l.maxHeaderLine = maxHeaderLine; l.maxHeaderBytes = maxHeaderBytes;
  l.maxHeaders = maxHeaders; l.maxBody = maxBody; l.requireLength = requireLength;
  l.idleTimeoutNs = idleNs; l.requestTimeoutNs = requestNs; l.maxPendingOutput = maxPendingOutput;
  s.maxConnections = maxConnections;
  s.clock = new Clock();
  s.observer = new Obs();
  server = s;
  counter = 0;
  completions = "";
  refusals = "";
  drops = "";
  conns.length = 0;
}

let drops = "";
/** Records what the server asked of the transport: "index:reset" or "index:close". */
class TestTransport extends HttpTransport {
  constructor(public index: i32) { super(); }
  drop(c: HttpConnection, abortive: bool): void { drops += this.index.toString() + (abortive ? ":reset;" : ":close;"); }
}

export function setReadOnly(v: bool): void { auth!.readOnly = v; }
export function open(nowNs: u64): i32 { conns.push(server!.open(nowNs)); return conns.length - 1; }
/** A connection from peer with a transport (so it may be evicted). */
export function openFrom(nowNs: u64, peer: u32): i32 {
  const c = server!.open(nowNs, peer);
  c.transport = new TestTransport(conns.length);
  conns.push(c);
  return conns.length - 1;
}
export function setPerPeer(n: i32): void { server!.maxPerPeer = n; }
export function setThrottleCapacity(n: i32): void { auth!.throttle = new AuthThrottle(n); }
export function throttleStat(name: string): i64 {
  const t = auth!.throttle!;
  if (name == "throttled") return <i64>t.throttled;
  if (name == "blocks") return <i64>t.blocks;
  if (name == "dropped") return <i64>t.dropped;
  if (name == "size") return t.size;
  return -1;
}
export function getDrops(): string { const d = drops; drops = ""; return d; }
export function budgetUsed(): i64 { return bodyBudget().used; }
export function peerConnections(peer: u32): i32 { return server!.peerConnections(peer); }
export function feed(c: i32, buf: ArrayBuffer, nowNs: u64): i32 {
  return conns[c].feed(changetype<usize>(buf), buf.byteLength, nowNs);
}
export function take(c: i32): ArrayBuffer { return conns[c].takeOutput().buffer; }
/** Sends at most n bytes of output (a slow reader). */
export function takeSome(c: i32, n: i32): ArrayBuffer {
  const k = conns[c];
  const len = k.outputLength() < n ? k.outputLength() : n;
  const out = new ArrayBuffer(len);
  memory.copy(changetype<usize>(out), k.outputPtr(), <usize>len);
  k.consumeOutput(len);
  return out;
}
export function poll(c: i32, nowNs: u64): u64 { return conns[c].poll(nowNs); }
export function shouldClose(c: i32): bool { return conns[c].shouldClose(); }
export function peerClosed(c: i32, nowNs: u64): void { conns[c].peerClosed(nowNs); }
export function close(c: i32): void { conns[c].close(); }
export function active(): i32 { return server!.active; }
export function bumps(): i32 { return counter; }
export function failures(): u64 { return auth!.failures; }
export function getCompletions(): string { return completions; }
export function getRefusals(): string { return refusals; }
export function stat(name: string): u64 {
  const st = server!.stats;
  if (name == "requests") return st.requests;
  if (name == "parseErrors") return st.parseErrors;
  if (name == "timeouts") return st.timeouts;
  if (name == "rejected") return st.connectionsRejected;
  if (name == "4xx") return st.responses4xx;
  if (name == "peerRejected") return st.peerRejected;
  if (name == "evictedFullIdle") return st.evictedFullIdle;
  if (name == "evictedFullHeaders") return st.evictedFullHeaders;
  if (name == "evictedPeerIdle") return st.evictedPeerIdle;
  if (name == "evictedPeerHeaders") return st.evictedPeerHeaders;
  if (name == "idleTimeouts") return st.idleTimeouts;
  if (name == "headerTimeouts") return st.headerTimeouts;
  if (name == "requestTimeouts") return st.requestTimeouts;
  if (name == "pressureTimeouts") return st.pressureTimeouts;
  return 999;
}
export function date(t: i64): string { return httpDate(t); }

/** Runs the bare parser over buf in pieces of `step` bytes; returns
 *  "state status consumed" — for the fuzz test's invariants. */
export function parseOnly(buf: ArrayBuffer, step: i32): string {
  const p = new RequestParser(new HttpLimits());
  let off = 0;
  let paused = false;
  const n = buf.byteLength;
  while (off < n && !p.done && !p.failed) {
    const len = n - off < step ? n - off : step;
    const used = p.feed(changetype<usize>(buf) + <usize>off, len);
    if (used < 0 || used > len) return "bad consumed";
    off += used;
    // The parser pauses once after the header section (the server admits the
    // request there); any other short read is a stall.
    if (used < len && !p.done && !p.failed && !(p.headersDone && !paused)) return "stalled";
    if (p.headersDone) paused = true;
  }
  return p.state.toString() + " " + p.status.toString() + " " + off.toString();
}
export { abortHandler };

/** The guest-wide body budget (kernel/lib/http/budget.ts): sized and cleared by
 *  budgetReset, read back by budgetStat("used" | "peak" | "refused"). */
export function budgetReset(limit: i64): void {
  const b = bodyBudget();
  b.limit = limit; b.used = 0; b.peak = 0; b.refused = 0;
}
export function budgetStat(name: string): i64 {
  const b = bodyBudget();
  if (name == "used") return b.used;
  if (name == "peak") return b.peak;
  if (name == "refused") return <i64>b.refused;
  return -1;
}

export function findByteIn(buf: ArrayBuffer, from: i32, to: i32, b: u32): i32 { return findByte(changetype<usize>(buf), from, to, b); }
