// apps/echo/main.ts — TCP and UDP echo on port 7 (RFC 862): the example of the
// socket API. Everything is event-driven: the kernel calls the handler objects
// below when a connection arrives, has data, can take more, or closes.
//
// Back-pressure: a connection reads only as much as its send buffer can take
// (writableBytes), so a client that does not read its echo fills our send
// buffer, we stop reading, our receive window closes, and the client's
// sends stall — no memory grows anywhere. writable() resumes the copy.
//
// A connection on which no data moves for echo.idle_ms (default 300000, 0:
// never; a config.echo.idle_ms= or echo.idle_ms= boot word) is reset, so
// clients that vanished do not keep their sockets forever.
import {
  println, print, hold, tcpListen, udpBind, netStack, netCounters, netCountersText, intSetting,
  TcpListenHandler, TcpHandler, TcpListener, TcpSocket, UdpHandler, UdpSocket, announceListening,
} from "skiff";

const ECHO_PORT: u32 = 7;
const chunk = new Uint8Array(4096);

/** One handler object serves every connection: echo keeps no per-connection state. */
class EchoConnection extends TcpHandler {
  readable(s: TcpSocket): void { this.pump(s); }
  writable(s: TcpSocket): void { this.pump(s); }
  closed(s: TcpSocket): void {}

  pump(s: TcpSocket): void {
    while (true) {
      const room = s.writableBytes;
      if (room == 0 && !s.atEof) return;           // wait for writable()
      const n = s.read(chunk.dataStart, room < chunk.length ? room : chunk.length);
      if (n < 0) { s.close(); return; }             // the client closed: so do we
      if (n == 0) return;                           // wait for readable()
      s.write(chunk.dataStart, n);                  // fits: n <= writableBytes
    }
  }
}

class EchoListener extends TcpListenHandler {
  conn: EchoConnection = new EchoConnection();
  idleNs: i64 = 0;
  accepted(l: TcpListener, s: TcpSocket): void {
    s.handler = this.conn;
    s.setIdleTimeout(this.idleNs);
    this.conn.pump(s);                              // data may have come with the handshake
  }
}

class UdpEcho extends UdpHandler {
  received(s: UdpSocket, srcAddr: u32, srcPort: u32, payload: usize, len: i32, dstAddr: u32): void {
    s.sendTo(srcAddr, srcPort, payload, len);
    // "stats" also prints the stack's counters to the console (for tests).
    if (len == 5 && String.UTF8.decodeUnsafe(payload, 5) == "stats") {
      const c = netCounters();
      if (c != null) print(netCountersText(c));
    }
  }
}

export function main(): i32 {
  const stack = netStack();
  if (stack == null) { println("echo: no network device"); return 1; }
  const listener = new EchoListener();
  listener.idleNs = <i64>intSetting("echo.idle_ms", 300_000, 0, 86_400_000) * 1_000_000;
  if (tcpListen(ECHO_PORT, listener, 128) == null) { println("echo: TCP port 7 is taken"); return 2; }
  if (udpBind(ECHO_PORT, new UdpEcho()) == null) { println("echo: UDP port 7 is taken"); return 3; }
  announceListening(stack, "echo", "TCP and UDP port 7");   // once the interface has an address
  hold();                                           // serve until the guest is stopped
  return 0;
}
