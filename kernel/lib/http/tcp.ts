// kernel/lib/http/tcp.ts — the thin adapter between kernel/lib/net's event-driven TCP
// sockets and the socket-agnostic HttpConnection: received bytes are fed in,
// output is written as the send buffer allows (writable() resumes it), and
// the socket is closed once the connection says so. Idle and request
// timeouts need a periodic poll(nowNs) from the owner (e.g. a 1 s timer).
import { TcpLayer, TcpListener, TcpListenHandler, TcpSocket, TcpHandler, TCP_DEFAULT_BACKLOG } from "../net";
import { ByteBuf } from "./buf";
import { HttpServer, HttpConnection, HttpTransport } from "./server";

const READ_CHUNK: i32 = 4096;
/** TCP keepalive on server connections (RFC 1122 §4.2.3.6): a client that
 *  vanished (no FIN, no RST) is found after 60 s of silence plus 6 probes
 *  10 s apart, even when no HTTP timeout runs (a response stuck behind a
 *  closed window). HttpTcpService.keepAlive() changes them per service. */
export const HTTP_KEEPALIVE_IDLE_NS: i64 = 60_000_000_000;
export const HTTP_KEEPALIVE_INTERVAL_NS: i64 = 10_000_000_000;
export const HTTP_KEEPALIVE_PROBES: i32 = 6;

/** Drops a socket whose connection the server evicted. */
class TcpTransport extends HttpTransport {
  constructor(public h: HttpTcpConnection) { super(); }
  drop(c: HttpConnection, abortive: bool): void {
    const h = this.h;
    if (h.done) return;
    if (abortive) h.sock.abort(); else h.sock.close();
    h.finish();
  }
}

/** Where connections read into: the bytes are fed on at once, and only what
 *  a connection does not take is copied into its own `held`, so no
 *  connection keeps a read buffer. A pump inside another (a handler that
 *  drives a socket) reads into its `held` instead. */
// @ts-ignore: decorator
@lazy const scratch = new StaticArray<u8>(READ_CHUNK);
let scratchBusy = false;
/** Where bytes that arrive after close are read to be dropped. */
// @ts-ignore: decorator
@lazy const sink = new StaticArray<u8>(READ_CHUNK);
/** Bytes dropped after close before the connection is reset instead. */
const LINGER_MAX: i32 = 1 << 20;

class HttpTcpConnection extends TcpHandler {
  /** Bytes read from the socket that the connection did not take yet. */
  private held: ByteBuf = new ByteBuf(256);
  /** Bytes read and dropped since the connection closed. */
  private lingered: i32 = 0;
  done: bool = false;

  constructor(public service: HttpTcpService, public sock: TcpSocket, public conn: HttpConnection) { super(); }

  readable(s: TcpSocket): void { if (this.done) this.drain(); else this.pump(); }
  writable(s: TcpSocket): void { this.pump(); }
  closed(s: TcpSocket): void { this.finish(); }

  /** Moves bytes both ways until neither side can make progress. */
  pump(): void {
    if (this.done) return;
    const s = this.sock;
    const now = <u64>s.ctx.now;
    // A response's head and a file body written after it leave together.
    s.cork();
    let progress = true;
    while (progress && !this.done) {
      progress = false;
      if (this.held.length > 0) {
        const n = this.conn.feed(this.held.ptr, this.held.length, now);
        if (n > 0) { this.held.consume(n); progress = true; }
      }
      if (this.held.length == 0 && scratchBusy) {
        const r = s.read(this.held.space(READ_CHUNK), READ_CHUNK);
        if (r < 0) { this.conn.peerClosed(now); }
        else if (r > 0) { this.held.grow(r); progress = true; }
      } else if (this.held.length == 0) {
        const buf = changetype<usize>(scratch);
        const r = s.read(buf, READ_CHUNK);
        if (r < 0) { this.conn.peerClosed(now); }
        else if (r > 0) {
          scratchBusy = true;
          const n = this.conn.feed(buf, r, now);
          if (n < r) this.held.append(buf + <usize>n, r - n);
          scratchBusy = false;
          progress = true;
        }
      }
      while (this.conn.outputLength() > 0) {
        const w = s.write(this.conn.outputPtr(), this.conn.outputLength());
        if (w <= 0) break;
        this.conn.consumeOutput(w);
        progress = true;
      }
      // A streamed body (a file) goes from its source straight into the
      // send ring: one copy, and only as fast as the peer takes it.
      while (this.conn.bodyPending) {
        const room = s.writeSpan();
        if (room <= 0) break;
        const got = this.conn.pullBody(s.writePtr(), room);
        if (got <= 0) break;
        s.writeCommit(got);
        progress = true;
      }
      if (this.conn.shouldClose()) { s.close(); this.finish(); this.drain(); }
    }
    s.uncork();
  }

  /** After close, what the peer still sends (the rest of a request refused
   *  at a limit) is read and dropped — a lingering close, as HTTP servers
   *  do: otherwise it fills the receive buffer, the peer's FIN waits behind
   *  a zero window, and the socket keeps its buffers until the FIN-WAIT-2
   *  timeout (60 s). Past LINGER_MAX bytes the connection is reset. */
  private drain(): void {
    const s = this.sock;
    const buf = changetype<usize>(sink);
    while (true) {
      const r = s.read(buf, READ_CHUNK);
      if (r <= 0) return;
      this.lingered += r;
      if (this.lingered > LINGER_MAX) { s.abort(); return; }
    }
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.conn.close();
    this.service.forget(this);
  }
}

/** Serves an HttpServer on a TCP port. */
export class HttpTcpService extends TcpListenHandler {
  listener: TcpListener | null = null;
  private live: HttpTcpConnection[] = [];
  private keepIdleNs: i64 = HTTP_KEEPALIVE_IDLE_NS;
  private keepIntervalNs: i64 = HTTP_KEEPALIVE_INTERVAL_NS;
  private keepProbes: i32 = HTTP_KEEPALIVE_PROBES;

  constructor(public server: HttpServer) { super(); }

  /** TCP keepalive for connections accepted from now on: idleNs of silence,
   *  then up to `probes` probes intervalNs apart (idleNs 0: off). */
  keepAlive(idleNs: i64, intervalNs: i64, probes: i32): void {
    this.keepIdleNs = idleNs > 0 ? idleNs : 0;
    this.keepIntervalNs = intervalNs;
    this.keepProbes = probes;
  }

  /** Starts listening; false when the port is taken or invalid. backlog:
   *  handshakes in progress before further SYNs are answered with cookies. */
  listen(tcp: TcpLayer, port: u32, backlog: i32 = TCP_DEFAULT_BACKLOG): bool {
    const l = tcp.listen(port, this, backlog);
    this.listener = l;
    if (l !== null) this.server.registerListening(<i32>port);
    return l !== null;
  }

  accepted(l: TcpListener, s: TcpSocket): void {
    const h = new HttpTcpConnection(this, s, this.server.open(<u64>s.ctx.now, s.remoteAddr));
    h.conn.transport = new TcpTransport(h);
    h.conn.directBody = true;
    s.handler = h;
    if (this.keepIdleNs > 0) s.setKeepAlive(this.keepIdleNs, this.keepIntervalNs, this.keepProbes);
    this.live.push(h);
    h.pump();   // a rejected (503) connection has output at once
  }

  /** Checks every connection's timeouts; call periodically with the stack's clock. */
  poll(nowNs: u64): void {
    const all = this.live.slice(0);
    for (let i = 0; i < all.length; i++) {
      const h = unchecked(all[i]);
      h.conn.poll(nowNs);
      h.pump();
    }
  }

  get connections(): i32 { return this.live.length; }

  forget(h: HttpTcpConnection): void {
    const i = this.live.indexOf(h);
    if (i >= 0) this.live.splice(i, 1);
  }
}
