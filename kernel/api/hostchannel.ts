// kernel/api/hostchannel.ts — the management API over the host-only channel: a
// virtio-serial port named "org.skiff.api" (kernel/drivers/virtio/console.ts) that
// QEMU connects to a unix socket on the host (`skiff run` puts it in the
// guest's mode-0700 runtime folder). Each client connection on that socket is
// one HTTP/1.1 byte stream. Who may connect is decided by the socket's file
// permissions, as for Firecracker's API socket, so requests here need no
// bearer token: the channel has its own router without the token check.
import { SerialPort, SerialPortHandler, onSerialPort } from "../drivers/virtio";
import { HttpServer, HttpConnection, ByteBuf } from "../lib/http";
import { nowNs } from "../core/sched";

/** The port name QEMU's virtserialport carries (cli/lib/hostchannel.ts). */
// @ts-ignore: decorator
@lazy
export const API_PORT_NAME = "org.skiff.api";

class HostChannel extends SerialPortHandler {
  private conn: HttpConnection | null = null;
  private port: SerialPort | null = null;
  /** Bytes received that the connection did not take yet. */
  private held: ByteBuf = new ByteBuf(256);
  connections: u64 = 0;

  constructor(public server: HttpServer) { super(); }

  hostChanged(port: SerialPort, connected: bool): void {
    this.port = port;
    this.end();
    if (connected) this.begin();
  }

  received(port: SerialPort, ptr: usize, len: i32): void {
    this.port = port;
    if (this.conn === null) this.begin();     // bytes before the open event: the stream has begun
    this.held.append(ptr, len);
    this.pump();
  }

  writable(port: SerialPort): void { this.pump(); }

  /** Checks the connection's idle and request timeouts. */
  poll(now: u64): void {
    const c = this.conn;
    if (c === null) return;
    c.poll(now);
    this.pump();
  }

  private begin(): void {
    this.held.clear();
    this.conn = this.server.open(nowNs());
    this.connections++;
  }

  private end(): void {
    const c = this.conn;
    if (c !== null) { c.peerClosed(nowNs()); c.close(); }
    this.conn = null;
    this.held.clear();
  }

  private pump(): void {
    const p = this.port;
    if (p === null) return;
    let progress = true;
    while (progress) {
      const c = this.conn;
      if (c === null) { this.held.clear(); return; }
      progress = false;
      if (this.held.length > 0) {
        const n = c.feed(this.held.ptr, this.held.length, nowNs());
        if (n > 0) { this.held.consume(n); progress = true; }
      }
      while (c.outputLength() > 0) {
        const w = p.write(c.outputPtr(), c.outputLength());
        if (w <= 0) break;
        c.consumeOutput(w);
        progress = true;
      }
      // The server is done with this stream (Connection: close, an error):
      // what the client sends until it reconnects is dropped.
      if (c.shouldClose() && c.outputLength() == 0) { c.close(); this.conn = null; this.held.clear(); return; }
    }
  }
}

// @ts-ignore: decorator
@lazy
let channel: HostChannel | null = null;

/** Serves server on the host-only channel once its port appears (now, or when
 *  the device announces it); a guest without the port never hears of it. */
export function serveHostChannel(server: HttpServer): void {
  if (channel !== null) return;
  const ch = new HostChannel(server);
  channel = ch;
  onSerialPort(API_PORT_NAME, ch);
}

/** Timeouts on the host channel's connection (from the API's poll timer). */
export function pollHostChannel(now: u64): void {
  const ch = channel;
  if (ch !== null) ch.poll(now);
}
