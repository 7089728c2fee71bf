// test/apps/outbound — the outbound-networking system test guest
// (test/system/outbound.test.ts). Runs the command line's steps in order, one
// at a time, and prints one "outbound: ..." line per result:
//   resolve=NAME          DNS lookup on the configured servers (DHCP or dns=)
//   dnsat=SERVER,NAME     DNS lookup asking SERVER only
//   get=URL delete=URL    HTTP request; the line has status, length, an FNV-1a hash of the body
//   post=URL put=URL      HTTP request with the body "hello from skiff"
//   connect=HOST:PORT     tcpConnect by name: sends "ping\n", prints the first line back
//   stream=URL            GET with the body streamed to a BodySink that hashes it (no size limit)
//   limit=BYTES timeout=MS ctimeout=MS  settings for the requests that follow (ctimeout: connect)
//   waitudp=PORT          waits for one UDP datagram on PORT (the test's "network is ready")
//   sleep=MS              waits (lets a server close idle keep-alive connections)
//   pool                  prints the client's idle connections and counters
import {
  println, bootInfo, requestExit, after, TimerHandler, httpClient, parseIp, ipToString,
  resolveHost, dnsResolverFor, DnsHandler, DnsResult, nowNs,
  httpRequest, HttpClientRequest, HttpClientResponse, HttpClientHandler, HttpCallback,
  BodySink, tcpConnectHost, TcpHostHandler, TcpSocket, udpBind, UdpHandler, UdpSocket, hold, release,
} from "skiff";

class Step { constructor(public key: string, public value: string) {} }
const steps: Step[] = [];
let next = 0;
let limit: i64 = 16 << 20;
let timeoutMs: u64 = 30000;
let connectTimeoutMs: u64 = 10000;

function fnv(ptr: usize, len: i32): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i = 0; i < len; i++) { h ^= <u32>load<u8>(ptr + <usize>i); h *= 0x01000193; }
  return h;
}

/** Hashes the body as it arrives: nothing is buffered. */
class Hasher extends BodySink {
  h: u32 = 0x811c9dc5;
  data(ptr: usize, len: i32): void {
    let h = this.h;
    for (let i = 0; i < len; i++) { h ^= <u32>load<u8>(ptr + <usize>i); h *= 0x01000193; }
    this.h = h;
  }
}
let hasher: Hasher | null = null;

function addrs(r: DnsResult): string {
  let s = "";
  for (let i = 0; i < r.addrs.length; i++) s += (i > 0 ? "," : "") + ipToString(r.addrs[i]);
  return s;
}

class Lookup extends DnsHandler {
  constructor(public name: string) { super(); }
  resolved(r: DnsResult): void {
    if (r.ok) println("outbound: resolve " + this.name + " ok " + addrs(r) + " canonical=" + r.canonical + " ttl=" + r.ttl.toString() + " cached=" + (r.cached ? "1" : "0"));
    else println("outbound: resolve " + this.name + " error " + r.error.toString() + " " + r.message);
    runNext();
  }
}

/** The function-and-context form of the HTTP callback (the object form is Lookup above). */
function onResponse(r: HttpClientResponse, ctx: Object | null): void {
  const what = (ctx as Step).key + " " + (ctx as Step).value;
  if (!r.ok) { println("outbound: " + what + " error " + r.error.toString() + " " + r.message); runNext(); return; }
  const n = r.body.length;
  const hs = hasher;
  if (hs != null) {
    hasher = null;
    println("outbound: " + what + " status " + r.status.toString() + " bytes " + r.bodyBytes.toString() + " fnv " + hs.h.toString() + " buffered " + n.toString());
    runNext();
    return;
  }
  let preview = n <= 64 ? r.text() : "";
  preview = preview.replaceAll("\n", "\\n");
  const echo = r.header("X-Echo-Method");
  println("outbound: " + what + " status " + r.status.toString() + " bytes " + r.bodyBytes.toString() + " fnv " + fnv(r.body.ptr, n).toString() +
    " reused " + (r.reused ? "1" : "0") + (echo != null ? " method " + echo! : "") + " body " + preview);
  runNext();
}

class Pinger extends TcpHostHandler {
  line: string = "";
  constructor(public what: string) { super(); }
  connected(s: TcpSocket): void { s.writeString("ping\n"); }
  readable(s: TcpSocket): void {
    const buf = new Uint8Array(256);
    while (true) {
      const n = s.read(buf.dataStart, buf.length);
      if (n <= 0) { if (n < 0) s.close(); break; }
      this.line += String.UTF8.decodeUnsafe(buf.dataStart, n);
    }
    const nl = this.line.indexOf("\n");
    if (nl >= 0) {
      println("outbound: connect " + this.what + " got " + this.line.substring(0, nl) + " from " + ipToString(s.remoteAddr));
      s.handler = null;
      s.close();
      release();
      runNext();
    }
  }
  closed(s: TcpSocket): void { println("outbound: connect " + this.what + " closed error " + s.error.toString()); release(); runNext(); }
  failed(host: string, message: string): void { println("outbound: connect " + this.what + " failed " + message); release(); runNext(); }
}

class Go extends UdpHandler {
  received(s: UdpSocket, srcAddr: u32, srcPort: u32, payload: usize, len: i32, dstAddr: u32): void {
    s.close();
    release();
    println("outbound: go from " + ipToString(srcAddr));
    runNext();
  }
}

class Wake extends TimerHandler {
  fire(now: u64): void { runNext(); }
}

function runNext(): void {
  while (next < steps.length) {
    const st = steps[next++];
    const k = st.key, v = st.value;
    if (k == "pool") {
      const c = httpClient();
      if (c != null) println("outbound: pool idle " + c.idleCount.toString() + " opened " + c.opened.toString() + " reused " + c.reusedCount.toString());
      continue;
    }
    if (k == "resolve") { resolveHost(v, new Lookup(v)); return; }
    if (k == "dnsat") {
      const comma = v.indexOf(",");
      const ok = new StaticArray<bool>(1);
      const server = parseIp(v.substring(0, comma), ok);
      const r = dnsResolverFor([server]);
      if (r == null) { println("outbound: no network"); continue; }
      r.resolve(v.substring(comma + 1), new Lookup(v.substring(comma + 1)), <i64>nowNs());
      return;
    }
    if (k == "get" || k == "delete" || k == "post" || k == "put" || k == "stream") {
      const req = new HttpClientRequest(k == "stream" ? "GET" : k.toUpperCase(), v);
      req.maxResponseBytes = limit;
      req.timeoutNs = timeoutMs * 1_000_000;
      req.connectTimeoutNs = connectTimeoutMs * 1_000_000;
      if (k == "stream") { const h = new Hasher(); hasher = h; req.sink = h; req.maxResponseBytes = -1; }
      if (k == "post" || k == "put") req.header("Content-Type", "text/plain").bodyText("hello from skiff");
      if (v.endsWith("/inject")) req.header("X-Bad", "a\r\nInjected: yes");   // must be refused, not sent
      httpRequest(req, new HttpCallback(onResponse, st));
      return;
    }
    if (k == "connect") {
      const c = v.lastIndexOf(":");
      hold();                                  // like tcpConnect, a connection alone does not keep the guest up
      tcpConnectHost(v.substring(0, c), <u32>I32.parseInt(v.substring(c + 1)), new Pinger(v));
      return;
    }
    if (k == "waitudp") {
      const u = udpBind(<u32>I32.parseInt(v), new Go());
      if (u == null) { println("outbound: cannot bind UDP " + v); continue; }
      hold();                                  // a bound UDP port alone does not keep the guest up
      println("outbound: waiting on UDP " + v);
      return;
    }
    if (k == "sleep") { after(U64.parseInt(v) * 1_000_000, new Wake()); return; }
    if (k == "limit") { limit = I64.parseInt(v); continue; }
    if (k == "timeout") { timeoutMs = U64.parseInt(v); continue; }
    if (k == "ctimeout") { connectTimeoutMs = U64.parseInt(v); continue; }
  }
  println("outbound: done");
  requestExit(0);
}

export function main(): i32 {
  const args = bootInfo().cmdline.args;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.value != null) steps.push(new Step(a.key, a.value!));
    else if (a.key == "pool") steps.push(new Step("pool", ""));
  }
  runNext();
  return 0;
}
