// kernel/http/tcp.ts — the thin adapter between kernel/net's event-driven TCP
// sockets and the socket-agnostic HttpConnection: received bytes are fed in,
// output is written as the send buffer allows (writable() resumes it), and
// the socket is closed once the connection says so. Idle and request
// timeouts need a periodic poll(nowNs) from the owner (e.g. a 1 s timer).
import { TcpLayer, TcpListener, TcpListenHandler, TcpSocket, TcpHandler } from "../net";
import { ByteBuf } from "./buf";
import { HttpServer, HttpConnection, HttpTransport } from "./server";

const READ_CHUNK: i32 = 4096;
/** Where every connection reads its socket into before keeping the bytes in
 *  its `held` buffer: one for all (reads and appends run one at a time), so
 *  hundreds of open connections do not each keep 4 KiB of heap for it. */
// @ts-ignore: decorator
@lazy
const scratch = new Uint8Array(READ_CHUNK);
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

class HttpTcpConnection extends TcpHandler {
  /** Bytes read from the socket that the connection did not take yet. */
  private held: ByteBuf = new ByteBuf(256);
  done: bool = false;

  constructor(public service: HttpTcpService, public sock: TcpSocket, public conn: HttpConnection) { super(); }

  readable(s: TcpSocket): void { this.pump(); }
  writable(s: TcpSocket): void { this.pump(); }
  closed(s: TcpSocket): void { this.finish(); }

  /** Moves bytes both ways until neither side can make progress. */
  pump(): void {
    if (this.done) return;
    const s = this.sock;
    const now = <u64>s.ctx.now;
    let progress = true;
    while (progress && !this.done) {
      progress = false;
      if (this.held.length > 0) {
        const n = this.conn.feed(this.held.ptr, this.held.length, now);
        if (n > 0) { this.held.consume(n); progress = true; }
      }
      if (this.held.length == 0) {
        const r = s.read(scratch.dataStart, READ_CHUNK);
        if (r < 0) { this.conn.peerClosed(now); }
        else if (r > 0) { this.held.append(scratch.dataStart, r); progress = true; }
      }
      while (this.conn.outputLength() > 0) {
        const w = s.write(this.conn.outputPtr(), this.conn.outputLength());
        if (w <= 0) break;
        this.conn.consumeOutput(w);
        progress = true;
      }
      if (this.conn.shouldClose()) { s.close(); this.finish(); }
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

  /** Starts listening; false when the port is taken or invalid. */
  listen(tcp: TcpLayer, port: u32): bool {
    const l = tcp.listen(port, this);
    this.listener = l;
    if (l !== null) this.server.registerListening(<i32>port);
    return l !== null;
  }

  accepted(l: TcpListener, s: TcpSocket): void {
    const h = new HttpTcpConnection(this, s, this.server.open(<u64>s.ctx.now, s.remoteAddr));
    h.conn.transport = new TcpTransport(h);
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
